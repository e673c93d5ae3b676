"""The control-plane HTTP client (httpx2): OAuth token, refresh and revocation calls, verification requests.

A timeout or an unreachable provider, and any 5xx, is ``Unavailable`` (retry later, keep the old token);
other answers are returned for the caller to read (``core.auth.oauth2.parse_token_response`` reads RFC 6749
errors from a 4xx). The data plane (the proxy) has its own client.
"""

from __future__ import annotations

import httpx2

from switchyard.core.errors import Unavailable
from switchyard.core.http import HttpAnswer, HttpRequest


class ControlHttp:
    def __init__(self, *, timeout: float = 10.0, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.client = httpx2.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    async def send(self, request: HttpRequest) -> HttpAnswer:
        try:
            response = await self.client.request(
                request.method, request.url, headers=request.headers, data=request.form or None
            )
        except httpx2.TimeoutException:
            raise Unavailable(
                "the provider did not answer in time",
                code="oauth.provider_timeout",
                remediation="Nothing was lost; the request is retried later.",
            ) from None
        except httpx2.HTTPError as exc:
            raise Unavailable(
                f"the provider is unreachable ({type(exc).__name__})",
                code="oauth.provider_unreachable",
                remediation="Nothing was lost; the request is retried later.",
            ) from None
        if response.status_code >= 500:
            raise Unavailable(
                f"the provider failed with status {response.status_code}",
                code="oauth.provider_unavailable",
                remediation="Nothing was lost; the request is retried later.",
            )
        return HttpAnswer(response.status_code, response.content, dict(response.headers))

    async def close(self) -> None:
        await self.client.aclose()
