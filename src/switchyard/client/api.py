"""``Switchyard``: the async client of one Switchyard server, tenant-scoped by its API key.

    async with Switchyard("https://switchyard.example.com", "syk_...") as switchyard:
        connector = switchyard.get_connector("openai", "con_...")
        print(await connector.generate_text("Hello!"))

Credentials never leave the server in plaintext: a connection id stands for them, and the credentials the
client can read are masked. The client does not retry: Switchyard retries provider calls itself, and a
``RateLimited`` or ``Unavailable`` error says in ``retry_after`` when to call again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx2

from switchyard import __version__
from switchyard.client import errors
from switchyard.client.connector import Connector
from switchyard.client.models import (
    ActionInfo,
    ActionResult,
    Connection,
    ConnectionPage,
    Credentials,
    ProxyResponse,
    TestResult,
)

T = TypeVar("T")
Params = Mapping[str, Any] | Sequence[tuple[str, str]]  # query parameters; pairs keep repeated names
PROXY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


def _segment(value: str) -> str:
    """One path segment, escaped so that an id cannot reach another route."""
    if not value or value in (".", ".."):
        raise ValueError(f"{value!r} is not a valid id")
    return quote(value, safe="")


class Switchyard:
    """An async client of the Switchyard API; use it as ``async with``, or call ``aclose()`` at the end.

    ``transport`` replaces the network, e.g. ``httpx2.ASGITransport(app=app)`` to talk to an app in the
    same process.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | None = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.strip():
            raise ValueError("base_url is empty")
        if not api_key.strip():
            raise ValueError("api_key is empty: pass a Switchyard API key (syk_...)")
        self.base_url = base_url.strip().rstrip("/")
        self.timeout = timeout
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key.strip()}",
                "Accept": "application/json",
                "User-Agent": f"switchyard-client/{__version__}",
            },
            timeout=httpx2.Timeout(timeout),
            transport=transport,
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"Switchyard({self.base_url!r})"  # never the key

    @property
    def closed(self) -> bool:
        return self._closed

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections; calling it again does nothing."""
        if not self._closed:
            self._closed = True
            await self._http.aclose()

    # -- HTTP -------------------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        if self._closed:
            raise errors.UsageError("the client is closed", code="client.closed")
        try:
            query = params if params is None or isinstance(params, Mapping) else tuple(params)
            return await self._http.request(
                method, path, params=query, json=json, content=content, headers=headers
            )
        except httpx2.TimeoutException as exc:
            raise errors.Unreachable(
                f"{self.base_url} did not answer {method} {path} within {self.timeout}s",
                code="client.timeout",
            ) from exc
        except httpx2.TransportError as exc:
            raise errors.Unreachable(
                f"could not reach {self.base_url}: {type(exc).__name__}: {exc}",
                code="client.unreachable",
                remediation="Check the base URL and that the Switchyard server is running.",
            ) from exc

    async def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> T:
        """Send, raise the problem document of an error answer, and read a success's JSON with ``parse``."""
        response = await self._send(method, path, params=params, json=json)
        if response.status_code >= 400:
            raise errors.from_response(response)
        try:
            return parse(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise errors.BadResponse(
                f"{method} {path} answered {response.status_code} with a body the client cannot read",
                code="client.bad_response",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
            ) from exc

    # -- connections ------------------------------------------------------------------------------------

    async def get_connection(self, connection_id: str) -> Connection:
        return await self._call("GET", f"/api/v1/connections/{_segment(connection_id)}", Connection.from_json)

    async def list_connections(
        self,
        *,
        end_user_id: str | None = None,
        integration: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage:
        """One page of the tenant's connections, filtered by end user, integration key or status."""
        wanted = {"end_user_id": end_user_id, "integration": integration, "status": status, "cursor": cursor}
        params = {name: value for name, value in wanted.items() if value is not None}
        return await self._call(
            "GET", "/api/v1/connections", ConnectionPage.from_json, params={**params, "limit": limit}
        )

    async def iter_connections(
        self, *, end_user_id: str | None = None, integration: str | None = None, status: str | None = None
    ) -> AsyncIterator[Connection]:
        """Every matching connection, page after page."""
        cursor: str | None = None
        while True:
            page = await self.list_connections(
                end_user_id=end_user_id, integration=integration, status=status, cursor=cursor, limit=200
            )
            for connection in page.connections:
                yield connection
            cursor = page.next_cursor
            if cursor is None:
                return

    async def credentials(self, connection_id: str) -> Credentials:
        """The connection's credentials, every secret masked (``***key123``), and its configuration."""
        path = f"/api/v1/connections/{_segment(connection_id)}/credentials"
        return await self._call("GET", path, Credentials.from_json)

    async def test_connection(self, connection_id: str) -> TestResult:
        """Call the provider's verification endpoint with the connection's (refreshed) credentials."""
        path = f"/api/v1/connections/{_segment(connection_id)}/test-connection"
        return await self._call("POST", path, TestResult.from_json)

    # -- actions and the proxy --------------------------------------------------------------------------

    async def list_actions(self, connector_id: str) -> list[ActionInfo]:
        """The connector's actions (the tenant's own definition of it, if any) with their schemas."""
        return await self._call(
            "GET",
            f"/api/v1/connectors/{_segment(connector_id)}/actions",
            lambda data: [ActionInfo.from_json(item) for item in data["actions"]],
        )

    async def run_action(
        self, connection_id: str, action: str, input: Mapping[str, Any] | None = None
    ) -> ActionResult:
        """Run ``action`` on the connection; the server checks ``input`` against the action's schema."""
        path = f"/api/v1/connections/{_segment(connection_id)}/actions/{_segment(action)}"
        return await self._call("POST", path, ActionResult.from_json, json={"input": dict(input or {})})

    async def proxy(
        self,
        connection_id: str,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        retries: int | None = None,
        retry_on: Iterable[int] | None = None,
        base_url_override: str | None = None,
    ) -> ProxyResponse:
        """Call the provider's API at ``path`` with the connection's credentials injected.

        The provider's answer comes back whatever its status; Switchyard's own refusals (an unknown
        connection, the egress guard, an open circuit, ...) raise. ``retries`` also opts a non-idempotent
        request into retries; ``retry_on`` names the statuses to retry.
        """
        verb = method.upper()
        if verb not in PROXY_METHODS:
            raise ValueError(f"the proxy takes {', '.join(sorted(PROXY_METHODS))}, not {method!r}")
        if any(part in (".", "..") for part in path.split("?")[0].split("/")):
            raise ValueError(f"{path!r}: the provider path may not hold '.' or '..' segments")
        sent = {name: value for name, value in (headers or {}).items() if name.lower() != "connection-id"}
        sent["Connection-Id"] = connection_id
        if retries is not None:
            sent["Retries"] = str(retries)
        if retry_on is not None:
            sent["Retry-On"] = ",".join(str(status) for status in retry_on)
        if base_url_override is not None:
            sent["Base-Url-Override"] = base_url_override
        response = await self._send(
            verb, "/api/v1/proxy/" + path.lstrip("/"), params=params, json=json, content=content, headers=sent
        )
        if response.status_code >= 400 and errors.is_switchyard_problem(response):
            raise errors.from_response(response)
        joined: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        return ProxyResponse(response.status_code, joined, response.content, response.encoding or "utf-8")

    # -- seed 001's connector service -------------------------------------------------------------------

    async def get_connector_credentials(self, connection_id: str) -> dict[str, Any]:
        """The connection's configuration and credentials in one dict, every secret value MASKED
        (``{"api_key": "***key123", "model": "gpt-3.5-turbo"}``): plaintext never leaves the server
        through this API. Use the connection (``get_connector``, ``proxy``) to act with the credentials."""
        return (await self.credentials(connection_id)).as_dict()

    async def test_connector_connection(self, connection_id: str) -> dict[str, Any]:
        """Test the connection live: ``{"success": bool, "error": str | None, "code", "status",
        "account_id"}``. A refused or unreachable provider is ``success: False``, not an exception; an
        unknown connection raises ``NotFound``."""
        return (await self.test_connection(connection_id)).as_dict()

    async def create_sdk_connector_instance(self, connection_id: str) -> Connector:
        """A ``Connector`` for the connection's own connector; call ``cleanup()`` when done."""
        connection = await self.get_connection(connection_id)
        return Connector(self, connection.connector_id, connection.id, connection=connection)

    def get_connector(self, connector: str, connection_id: str) -> Connector:
        """A ``Connector`` for ``connector`` (its id, e.g. ``"openai"``) acting through the connection.

        Nothing is sent yet: the first call checks that the connection belongs to that connector and
        lists its actions once. The connector shares this client; ``cleanup()`` leaves the client open.
        """
        return Connector(self, connector, connection_id)


def get_connector(
    connector: str,
    connection_id: str,
    *,
    base_url: str,
    api_key: str,
    timeout: float | None = 30.0,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> Connector:
    """Seed 001's ``get_connector("openai", ...)``: a ``Connector`` with a client of its own, which its
    ``cleanup()`` closes. The connection id stands for the credentials, which stay on the server."""
    if not connector or not connection_id:
        raise ValueError("name both the connector and the connection")
    client = Switchyard(base_url, api_key, timeout=timeout, transport=transport)
    return Connector(client, connector, connection_id, owns_client=True)
