"""The control-plane HTTP client (httpx2): OAuth token, refresh and revocation calls, verification requests.

A timeout or an unreachable provider, and any 5xx, is ``Unavailable`` (retry later, keep the old token);
other answers are returned for the caller to read (``core.auth.oauth2.parse_token_response`` reads RFC 6749
errors from a 4xx). The data plane (the proxy) has its own client (``adapters/data_http.py``).

With an egress policy, the URLs come from tenant-written definitions, so each request is judged first
(``core/egress.py``: the URL string, and the URL as httpx2 parsed it), its host resolved once and every
address checked (``EgressBlocked`` when the guard refuses), and the request then sent to a checked address:
the URL's host is replaced by that address, the ``Host`` header keeps the name, and for https the TLS
server name (SNI) and the certificate check use the name too (httpx2's ``sni_hostname`` extension). Nothing
resolves the name a second time, so a DNS answer that changes between the check and the call (DNS
rebinding) cannot redirect it. Connections are not kept alive in that mode: pooled by address, a connection
verified for one name could otherwise carry a request for another name sharing the address. Redirects are
never followed. When the client is built with its own ``transport``, the transport decides where to
connect; the URL and the addresses are still checked, but the connection is not pinned (check, then send).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

from switchyard.adapters.egress import resolve_checked
from switchyard.core.egress import EgressPolicy
from switchyard.core.errors import EgressBlocked, Unavailable, UpstreamError
from switchyard.core.http import HttpAnswer, HttpRequest

_RETRY_LATER = "Nothing was lost; the request is retried later."


class ControlHttp:
    def __init__(
        self,
        *,
        timeout: float = 10.0,
        transport: httpx2.AsyncBaseTransport | None = None,
        policy: EgressPolicy | None = None,
    ) -> None:
        self.policy = policy
        self._pinned = policy is not None and transport is None
        extra: dict[str, Any] = {}
        if self._pinned:
            extra["limits"] = httpx2.Limits(max_keepalive_connections=0)
        self.client = httpx2.AsyncClient(
            timeout=timeout, transport=transport, follow_redirects=False, **extra
        )

    async def send(self, request: HttpRequest) -> HttpAnswer:
        if self.policy is None:
            response = await self._request(request, request.url, request.headers, None)
        else:
            response = await self._send_guarded(self.policy, request)
        if response.status_code >= 500:
            raise Unavailable(
                f"the provider failed with status {response.status_code}",
                code="oauth.provider_unavailable",
                remediation=_RETRY_LATER,
            )
        return HttpAnswer(response.status_code, response.content, dict(response.headers))

    async def _send_guarded(self, policy: EgressPolicy, request: HttpRequest) -> httpx2.Response:
        policy.check_url(request.url)
        try:
            url = httpx2.URL(request.url)
        except (httpx2.InvalidURL, ValueError, TypeError):
            raise EgressBlocked("the URL cannot be parsed", extra={"egress_reason": "malformed"}) from None
        target = policy.check_target(
            url.scheme, url.raw_host.decode("ascii"), url.port, userinfo=bool(url.userinfo)
        )
        try:
            async with asyncio.timeout(self.client.timeout.connect):
                addresses = await resolve_checked(policy, target.host, target.port)
        except UpstreamError as exc:
            raise Unavailable(
                exc.detail, code="oauth.provider_unreachable", remediation=_RETRY_LATER
            ) from None
        except TimeoutError:
            raise Unavailable(
                f"the host {target.host!r} could not be resolved in time",
                code="oauth.provider_timeout",
                remediation=_RETRY_LATER,
            ) from None
        if not self._pinned or target.address is not None:
            return await self._request(request, request.url, request.headers, None)
        headers = dict(request.headers)
        if not any(name.lower() == "host" for name in headers):
            headers["Host"] = url.netloc.decode("ascii")
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else None
        for address in addresses[:-1]:  # an address that refuses the connection: try the next one
            try:
                return await self.client.request(
                    request.method,
                    url.copy_with(host=address),
                    headers=headers,
                    data=request.form or None,
                    extensions=extensions,
                )
            except httpx2.ConnectError:
                continue
            except httpx2.HTTPError as exc:
                raise _unavailable(exc) from None
        return await self._request(request, url.copy_with(host=addresses[-1]), headers, extensions)

    async def _request(
        self,
        request: HttpRequest,
        url: httpx2.URL | str,
        headers: dict[str, str],
        extensions: dict[str, Any] | None,
    ) -> httpx2.Response:
        try:
            return await self.client.request(
                request.method, url, headers=headers, data=request.form or None, extensions=extensions
            )
        except httpx2.HTTPError as exc:
            raise _unavailable(exc) from None

    async def close(self) -> None:
        await self.client.aclose()


def _unavailable(exc: httpx2.HTTPError) -> Unavailable:
    if isinstance(exc, httpx2.TimeoutException):
        return Unavailable(
            "the provider did not answer in time", code="oauth.provider_timeout", remediation=_RETRY_LATER
        )
    return Unavailable(
        f"the provider is unreachable ({type(exc).__name__})",
        code="oauth.provider_unreachable",
        remediation=_RETRY_LATER,
    )
