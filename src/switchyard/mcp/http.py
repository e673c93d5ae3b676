"""``/mcp``: the MCP server over streamable HTTP, behind Switchyard's own authentication.

Every request is authenticated before the MCP SDK sees it, with either
- ``Authorization: Bearer <tenant API key with scope mcp>`` plus ``End-User-Id`` (the tenant's external
  end-user id) and optionally ``Integration`` (an integration key: only that integration's tools), or
- ``Authorization: Bearer sym_...``, a token from ``POST /api/v1/mcp-tokens`` bound to tenant and end user.

A missing or bad credential is a 401 ``application/problem+json`` with ``WWW-Authenticate: Bearer
resource_metadata="<base>/.well-known/oauth-protected-resource/mcp"`` (RFC 9728), so OAuth-capable clients
find the metadata. A session is bound to the credential (and end user) that opened it.

While the endpoint runs, a connection created, deleted or changing status in this process sends
``notifications/tools/list_changed`` to the open sessions of that connection's tenant and end user. Sessions
held by other replicas are not told: they see the change on their next ``tools/list`` (or are told when a
``tools/call`` names a tool that is gone), or never hear of it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from switchyard.api.deps import bearer
from switchyard.api.problems import problem
from switchyard.core.errors import AuthError, InvalidInput, SwitchyardError
from switchyard.core.models import Connection
from switchyard.core.scopes import Scope as ApiScope
from switchyard.logs import get_logger
from switchyard.mcp.server import SESSION_HEADER, McpIdentity, Sessions, build_server
from switchyard.services.authz import require
from switchyard.services.container import Container
from switchyard.services.mcp_tokens import PREFIX

SCOPE_KEY = "switchyard.mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"
END_USER_HEADER = "end-user-id"
INTEGRATION_HEADER = "integration"
PROXY_HEADER = "mcp-proxy-tool"
log = get_logger("switchyard.mcp")


def metadata_url(base_url: str) -> str:
    return base_url.rstrip("/") + METADATA_PATH


def protected_resource_metadata(base_url: str) -> dict[str, Any]:
    """RFC 9728 metadata of ``/mcp``: no authorization server here; a bearer in the header."""
    return {
        "resource": base_url.rstrip("/") + "/mcp",
        "authorization_servers": [],
        "bearer_methods_supported": ["header"],
        "scopes_supported": [ApiScope.MCP.value],
        "resource_name": "Switchyard MCP",
        "resource_documentation": base_url.rstrip("/") + "/docs",
    }


def _identity_of(ctx: ServerRequestContext[Any]) -> McpIdentity:
    request = ctx.request
    identity = request.scope.get(SCOPE_KEY) if isinstance(request, Request) else None
    if not isinstance(identity, McpIdentity):
        raise RuntimeError("an MCP request reached the server without Switchyard's authentication")
    return identity


class McpHttpEndpoint:
    """The ASGI app served at ``/mcp``; ``running()`` must wrap the application's lifespan."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.sessions = Sessions()
        self.server = build_server(container.tools, _identity_of, self.sessions)
        self.manager = StreamableHTTPSessionManager(app=self.server, json_response=False, stateless=False)
        self._telling: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.container.connections.moved.append(self._connection_moved)
        try:
            async with self.manager.run():
                yield
        finally:
            self.container.connections.moved.remove(self._connection_moved)
            for task in list(self._telling):
                task.cancel()
            await asyncio.gather(*self._telling, return_exceptions=True)

    def _connection_moved(self, connection: Connection) -> None:
        """A listener of ``ConnectionsService.moved``: must not raise nor block; the telling runs apart."""
        try:
            task = asyncio.get_running_loop().create_task(self._tell(connection))
        except RuntimeError:  # no loop running here: nobody to tell
            return
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def _tell(self, connection: Connection) -> None:
        if not len(self.sessions):
            return
        try:  # sessions know the end user by external id, the connection by row id
            async with self.container.db.transaction(write=False) as tx:
                end_user = await tx.end_users.get_by_id(connection.tenant_id, connection.end_user_id)
            if end_user is not None:
                await self.sessions.tell(connection.tenant_id, end_user.external_id)
        except SwitchyardError as exc:
            log.warning("mcp.list_changed_failed", connection_id=connection.id, code=exc.code)

    async def _identify(self, request: Request) -> McpIdentity:
        presented = bearer(request)
        proxy = request.headers.get(PROXY_HEADER, "").lower() in ("1", "true", "yes")
        if presented and presented.startswith(PREFIX):
            grant = await self.container.mcp_tokens.check(presented)
            return McpIdentity(grant.principal(), grant.end_user_id, grant.integration, proxy)
        principal = await self.container.api_keys.authenticate(presented)
        require(principal, ApiScope.MCP)
        end_user = request.headers.get(END_USER_HEADER, "").strip()
        if not end_user:
            raise InvalidInput(
                "an MCP request with an API key needs the End-User-Id header",
                code="mcp.end_user_missing",
                remediation="Send End-User-Id: <the end user's external id>, or use an MCP token.",
            )
        integration = request.headers.get(INTEGRATION_HEADER, "").strip() or None
        return McpIdentity(principal, end_user, integration, proxy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        base = self.container.settings.public_base_url
        try:
            identity = await self._identify(request)
        except SwitchyardError as exc:
            headers = None
            if isinstance(exc, AuthError) and exc.status == 401:
                challenge = f'Bearer resource_metadata="{metadata_url(base)}", error="invalid_token"'
                headers = {"WWW-Authenticate": challenge}
            response = problem(
                exc.status,
                exc.code,
                exc.detail,
                remediation=exc.remediation,
                extra=exc.extra,
                headers=headers,
            )
            await response(scope, receive, send)
            return
        who = identity.principal
        owner = hashlib.sha256(
            "\x00".join([who.tenant_id, who.api_key_id or who.actor, identity.end_user_id]).encode()
        ).hexdigest()
        scope[SCOPE_KEY] = identity
        if request.method == "DELETE" and request.headers.get(SESSION_HEADER):
            self.sessions.forget(request.headers[SESSION_HEADER])
        scope["user"] = AuthenticatedUser(
            AccessToken(token=owner, client_id=owner, scopes=sorted(who.scopes), subject=identity.end_user_id)
        )
        await self.manager.handle_request(scope, receive, send)
