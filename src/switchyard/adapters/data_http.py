"""The data-plane HTTP client (aiohttp): the proxy's and the actions' calls to providers, behind the egress guard.

One ``aiohttp.ClientSession`` serves every call (created on first use, inside the running loop): a pool of
kept-alive connections (256 by default), the guarded resolver (``adapters/egress.py``: each name resolved once,
every address checked, the connection made to a checked address, answers cached for 30 s), no cookie jar,
no proxy from the environment, and no decompression, so bodies pass through byte for byte. aiohttp adds no
``Accept-Encoding`` or ``Content-Type`` of its own: what the caller sends is what the provider sees.

Redirects are followed here, not by aiohttp, at most ``policy.max_redirects`` times (one more is
``EgressBlocked``), and every hop is checked like the first URL (scheme, host, address). A 303, and a 301 or
302 answering a POST, continue as a GET without body; other redirects repeat the method and body, except
that a streamed body cannot be sent twice, so such a redirect is handed to the caller unfollowed. When a hop
leaves the first URL's origin, ``Authorization``, ``Cookie``, ``Proxy-Authorization`` and any header the
caller marks sensitive are dropped for the rest of the chain.

The timeout covers the whole exchange (every hop, and reading the body); past it is ``UpstreamError``
``provider.timeout`` (504). Unreachable, refused or reset is ``provider.unavailable``; a malformed answer is
``provider.bad_response``; reading more than ``max_response_bytes`` is ``provider.response_too_large``.
The connection goes back to the pool when the ``open`` context ends (closed instead when the body was not
read to its end or an error happened), also on cancellation.
"""

from __future__ import annotations

import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Collection
from types import TracebackType

import aiohttp
from aiohttp.streams import StreamReader
from yarl import URL

from switchyard.adapters.egress import GuardedResolver
from switchyard.core.egress import EgressPolicy, Target
from switchyard.core.errors import EgressBlocked, InvalidInput, SwitchyardError, UpstreamError
from switchyard.core.http import Headers, Outbound

CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset({"content-length", "content-type", "content-encoding", "transfer-encoding"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_FOREIGN = (aiohttp.ClientError, TimeoutError, OSError)


class _Checked:
    """The policy's verdicts on URL endpoints, remembered (the policy never changes, the check is pure)."""

    __slots__ = ("_seen", "policy")

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._seen: dict[tuple[str, str | None, int | None], Target] = {}

    def __call__(self, url: URL) -> Target:
        if url.raw_user is not None or url.raw_password is not None:
            return self.policy.check_target(url.scheme, url.raw_host, url.port, userinfo=True)
        key = (url.scheme, url.raw_host, url.port)
        target = self._seen.get(key)
        if target is None:
            target = self.policy.check_target(*key)
            if len(self._seen) >= 4096:
                self._seen.clear()
            self._seen[key] = target
        return target


def _parse(text: str) -> URL:
    try:
        return URL(text)
    except (ValueError, TypeError):
        raise EgressBlocked("the URL cannot be parsed", extra={"egress_reason": "malformed"}) from None


def _translate(exc: BaseException, host: str | None) -> SwitchyardError:
    """The product's error for an aiohttp failure (our own error when it caused the failure)."""
    cause: BaseException | None = exc
    for _ in range(4):  # a body iterator's own error arrives wrapped by aiohttp, as the cause
        if cause is None:
            break
        if isinstance(cause, SwitchyardError):
            return cause
        cause = cause.__cause__
    name = type(exc).__name__
    if isinstance(exc, TimeoutError):
        return UpstreamError(
            f"the provider at {host} did not answer in time", code="provider.timeout", status=504
        )
    if isinstance(exc, aiohttp.InvalidURL):
        return EgressBlocked("the URL cannot be used", extra={"egress_reason": "malformed"})
    if isinstance(exc, aiohttp.ClientResponseError):
        return UpstreamError(
            f"the provider at {host} sent a malformed answer ({name})", code="provider.bad_response"
        )
    if isinstance(exc, aiohttp.ClientConnectorError):
        name = type(exc.os_error).__name__
        return UpstreamError(
            f"could not connect to the provider at {host} ({name})", code="provider.unavailable"
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamError(
            f"the provider's answer from {host} broke off ({name})", code="provider.unavailable"
        )
    return UpstreamError(
        f"the connection to the provider at {host} failed ({name})", code="provider.unavailable"
    )


def _too_large(limit: int) -> UpstreamError:
    return UpstreamError(
        f"the provider's answer is larger than {limit} bytes",
        code="provider.response_too_large",
        remediation="Ask for less (pagination, fields) or raise the operator's response size limit.",
    )


class _Answer:
    """A provider's answer (``ports.Upstream``); its body is read once. ``raw_headers`` are the headers as
    received (bytes, names in their own case), for a caller that passes them on as they are."""

    __slots__ = ("_headers", "_limit", "_response", "_taken", "status", "url")
    status: int
    url: str

    def __init__(self, response: aiohttp.ClientResponse, url: str, limit: int) -> None:
        self.status = response.status
        self.url = url
        self._response = response
        self._limit = limit
        self._taken = False
        self._headers: Headers | None = None

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = list(self._response.headers.items())
        return self._headers

    @headers.setter
    def headers(self, value: Headers) -> None:
        self._headers = value

    @property
    def raw_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        return self._response.raw_headers

    def _take(self) -> StreamReader:
        if self._taken:
            raise RuntimeError("the answer's body was read already")
        self._taken = True
        content = self._response.content
        length = self._response.content_length
        if length is not None and length > self._limit and not content.at_eof():
            raise _too_large(self._limit)
        return content

    async def chunks(self) -> AsyncIterator[bytes]:
        content = self._take()
        limit, seen = self._limit, 0
        while True:
            try:
                chunk = await content.readany()
            except _FOREIGN as exc:
                raise _translate(exc, self._response.url.host) from None
            if not chunk:
                return
            seen += len(chunk)
            if seen > limit:
                raise _too_large(limit)
            yield chunk

    async def read(self) -> bytes:
        content = self._take()
        limit = self._limit
        if content.is_eof() and content.exception() is None:  # the whole body is here already
            try:
                whole = content.read_nowait()
            except _FOREIGN as exc:
                raise _translate(exc, self._response.url.host) from None
            if len(whole) > limit:
                raise _too_large(limit)
            return whole
        seen = 0
        parts: list[bytes] = []
        while True:
            try:
                chunk = await content.readany()
            except _FOREIGN as exc:
                raise _translate(exc, self._response.url.host) from None
            if not chunk:
                return parts[0] if len(parts) == 1 else b"".join(parts)
            seen += len(chunk)
            if seen > limit:
                raise _too_large(limit)
            parts.append(chunk)


class _Exchange:
    """``async with client.open(request) as answer``: sends, follows redirects, releases on exit."""

    __slots__ = ("_client", "_request", "_response", "_sensitive")

    def __init__(self, client: AiohttpDataHttp, request: Outbound, sensitive: frozenset[str]) -> None:
        self._client = client
        self._request = request
        self._sensitive = sensitive
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> _Answer:
        client, request = self._client, self._request
        policy, check = client.policy, client._check
        session = client._session or client._start()
        url = _parse(request.url)
        origin = check(url).origin
        total = client.timeout if request.timeout is None else request.timeout
        timeout = client._timeout_for(total)
        method, headers, body = request.method.upper(), request.headers, request.body
        started, hops, leaving = time.monotonic(), 0, False
        while True:
            try:
                response = await session.request(
                    method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
                )
            except _FOREIGN as exc:
                raise _translate(exc, url.host) from None
            except (ValueError, TypeError) as exc:
                raise InvalidInput(f"the request cannot be sent ({exc})", code="request.invalid") from None
            status = response.status
            if status not in _REDIRECTS:
                break
            location = response.headers.get("Location")
            to_get = (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST")
            if location is None or (not to_get and body is not None and not isinstance(body, bytes)):
                break  # not a redirect, or one a streamed body cannot follow
            response.release()
            hops += 1
            if hops > policy.max_redirects:
                raise EgressBlocked(
                    f"the provider redirected more than {policy.max_redirects} times",
                    remediation="An operator may allow more with SWITCHYARD_EGRESS_MAX_REDIRECTS.",
                    extra={"egress_reason": "redirects"},
                )
            try:
                url = url.join(URL(location))
            except (ValueError, TypeError):
                raise EgressBlocked(
                    "the redirect's Location cannot be parsed", extra={"egress_reason": "malformed"}
                ) from None
            leaving = leaving or check(url).origin != origin
            headers = _redirect_headers(headers, to_get, leaving, self._sensitive)
            if to_get:
                method, body = "GET", None
            left = total - (time.monotonic() - started)
            if left <= 0:
                raise UpstreamError(
                    "the provider did not answer in time", code="provider.timeout", status=504
                )
            timeout = aiohttp.ClientTimeout(total=left, connect=client.connect_timeout)
        self._response = response
        limit = request.max_response_bytes or client.max_response_bytes
        return _Answer(response, request.url if hops == 0 else str(url), limit)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        response, self._response = self._response, None
        if response is not None:
            if exc_type is None:
                response.release()  # back to the pool when read to its end, else closed
            else:
                response.close()


def _redirect_headers(headers: Headers, to_get: bool, leaving: bool, sensitive: frozenset[str]) -> Headers:
    kept: Headers = []
    for name, value in headers:
        low = name.lower()
        if low == "host" or (to_get and low in _BODY_HEADERS) or (leaving and low in sensitive):
            continue
        kept.append((name, value))
    return kept


class AiohttpDataHttp:
    """``ports.DataHttp`` over one shared aiohttp session (see the module docstring)."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_response_bytes: int = 100 * 1024 * 1024,
        limit: int = 256,
        keepalive: float = 30.0,
        dns_ttl: float = 30.0,
        sensitive_headers: Collection[str] = (),
        user_agent: str | None = None,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.policy = policy
        self._check = _Checked(policy)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_response_bytes = max_response_bytes
        self.limit = limit
        self.keepalive = keepalive
        self.resolver = GuardedResolver(policy, ttl=dns_ttl)
        self.sensitive_headers = CREDENTIAL_HEADERS | {h.lower() for h in sensitive_headers}
        self.user_agent = user_agent
        self._ssl: ssl_module.SSLContext | bool = ssl if ssl is not None else True
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._session: aiohttp.ClientSession | None = None
        self.connector: aiohttp.TCPConnector | None = None

    def _start(self) -> aiohttp.ClientSession:
        self.connector = aiohttp.TCPConnector(
            limit=self.limit,
            keepalive_timeout=self.keepalive,
            use_dns_cache=False,  # the guarded resolver caches checked answers itself
            resolver=self.resolver,
            ssl=self._ssl,
        )
        self._session = aiohttp.ClientSession(
            connector=self.connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            auto_decompress=False,
            timeout=self._timeout_for(self.timeout),
            headers={"User-Agent": self.user_agent} if self.user_agent else None,
            skip_auto_headers=("Accept-Encoding", "Content-Type"),
        )
        return self._session

    def _timeout_for(self, total: float) -> aiohttp.ClientTimeout:
        found = self._timeouts.get(total)
        if found is None:
            if len(self._timeouts) > 64:
                self._timeouts.clear()
            found = self._timeouts[total] = aiohttp.ClientTimeout(total=total, connect=self.connect_timeout)
        return found

    def open(self, request: Outbound, *, sensitive_headers: Collection[str] = ()) -> _Exchange:
        """The provider's answer to ``request``, as an async context manager (``ports.Upstream`` inside).

        ``sensitive_headers`` names headers (besides the credential headers) to drop when a redirect
        leaves the request's origin."""
        sensitive = self.sensitive_headers
        if sensitive_headers:
            sensitive = sensitive | {h.lower() for h in sensitive_headers}
        return _Exchange(self, request, sensitive)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        await self.resolver.close()
