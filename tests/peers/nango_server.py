"""A real Nango-like server on loopback, speaking the subset of Nango's REST API in adapters/nango.py.

Paths, query parameters, JSON shapes and error bodies follow Nango's API reference: ``POST /connect/sessions``,
``GET /connections``, ``GET|DELETE /connections/{connectionId}`` (and the deprecated singular
``/connection`` aliases). Every request needs ``Authorization: Bearer <secret key>``; errors are
``{"error": {"code": ..., "message": ...}}``. State is in memory. Switches: ``failing`` (503), ``delay``
(seconds before answering), ``malformed`` (200 with a body that is not JSON).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.peers.loopback import serving

SESSION_TTL = timedelta(minutes=30)
BODY = web.RequestKey("nango_peer_body", object)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if errors is not None:
        error["errors"] = errors
    return web.json_response({"error": error}, status=status)


@dataclass
class PeerConnection:
    id: int
    connection_id: str
    provider_config_key: str
    provider: str
    credentials: dict[str, Any]
    end_user: dict[str, Any] | None
    tags: dict[str, str]
    metadata: dict[str, Any] | None
    created_at: str
    updated_at: str
    last_fetched_at: str

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "provider": self.provider,
            "provider_config_key": self.provider_config_key,
            "created": self.created_at,
            "metadata": self.metadata,
            "tags": self.tags,
            "errors": [],
            "end_user": self.end_user,
        }

    def full(self, *, with_refresh_token: bool) -> dict[str, Any]:
        credentials = dict(self.credentials)
        if not with_refresh_token:
            credentials.pop("refresh_token", None)
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "provider_config_key": self.provider_config_key,
            "provider": self.provider,
            "errors": [],
            "end_user": self.end_user,
            "metadata": self.metadata,
            "connection_config": {},
            "tags": self.tags,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_fetched_at": self.last_fetched_at,
            "credentials": credentials,
        }


@dataclass
class PeerRequest:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None
    body: Any


@dataclass
class NangoPeer:
    secret_key: str
    connections: dict[tuple[str, str], PeerConnection] = field(default_factory=dict)
    integrations: set[str] = field(default_factory=set)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    requests: list[PeerRequest] = field(default_factory=list)
    failing: bool = False
    malformed: bool = False
    delay: float = 0.0
    url: str = ""

    # ---- helpers for tests -------------------------------------------------------------------------------

    def add_connection(
        self,
        connection_id: str,
        provider_config_key: str,
        provider: str,
        credentials: dict[str, Any],
        *,
        end_user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> PeerConnection:
        now = _iso(datetime.now(UTC))
        end_user: dict[str, Any] = {
            "id": end_user_id,
            "email": None,
            "display_name": None,
            "tags": {},
            "organization": None,
        }
        connection = PeerConnection(
            id=len(self.connections) + 1,
            connection_id=connection_id,
            provider_config_key=provider_config_key,
            provider=provider,
            credentials=dict(credentials),
            end_user=end_user if end_user_id is not None else None,
            tags={"end_user_id": end_user_id} if end_user_id is not None else {},
            metadata=metadata,
            created_at=now,
            updated_at=now,
            last_fetched_at=now,
        )
        self.connections[(provider_config_key, connection_id)] = connection
        self.integrations.add(provider_config_key)
        return connection

    def add_integration(self, unique_key: str) -> None:
        self.integrations.add(unique_key)

    def rotate_access_token(self, connection_id: str, provider_config_key: str) -> str:
        """Simulate Nango refreshing the token at the provider: a new access token and expiry."""
        connection = self.connections[(provider_config_key, connection_id)]
        token = "at-" + secrets.token_urlsafe(12)
        expires_at = _iso(datetime.now(UTC) + timedelta(hours=1))
        raw = dict(connection.credentials.get("raw") or {})
        raw.update({"access_token": token, "expires_in": 3600})
        connection.credentials.update({"access_token": token, "expires_at": expires_at, "raw": raw})
        connection.updated_at = _iso(datetime.now(UTC))
        return token

    # ---- the HTTP side -----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/connect/sessions", self.create_session)
        for prefix in ("/connections", "/connection"):  # the singular paths are Nango's deprecated aliases
            app.router.add_get(prefix, self.list_connections)
            app.router.add_get(prefix + "/{connection_id}", self.get_connection)
            app.router.add_delete(prefix + "/{connection_id}", self.delete_connection)
        return app

    @web.middleware
    async def _gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = await request.text()
        authorization = request.headers.get("Authorization")
        self.requests.append(
            PeerRequest(request.method, request.path, dict(request.query), authorization, body)
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failing:
            return _error(503, "server_error", "The server is temporarily unavailable")
        if authorization is None:
            return _error(
                401,
                "missing_auth_header",
                "Authentication failed. The request is missing the Authorization header.",
            )
        if not authorization.startswith("Bearer ") or not authorization[7:]:
            return _error(
                401, "malformed_auth_header", "Authentication failed. The Authorization header is malformed."
            )
        if not secrets.compare_digest(authorization[7:], self.secret_key):
            return _error(
                401, "unknown_account", "Authentication failed. The provided secret key is invalid."
            )
        if self.malformed:
            return web.Response(text="<html>not nango</html>", content_type="text/html")
        request[BODY] = body
        response: web.StreamResponse = await handler(request)
        return response

    async def create_session(self, request: web.Request) -> web.Response:
        body: Any = request[BODY]
        end_user = body.get("end_user") if isinstance(body, dict) else None
        if not isinstance(end_user, dict) or not isinstance(end_user.get("id"), str) or not end_user["id"]:
            errors = [{"code": "invalid_type", "message": "Required", "path": ["end_user", "id"]}]
            return _error(400, "invalid_body", "Invalid request body", errors)
        allowed = body.get("allowed_integrations")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(key, str) for key in allowed):
                errors = [
                    {
                        "code": "invalid_type",
                        "message": "Expected array of strings",
                        "path": ["allowed_integrations"],
                    }
                ]
                return _error(400, "invalid_body", "Invalid request body", errors)
            unknown = [key for key in allowed if key not in self.integrations]
            if unknown:
                errors = [
                    {
                        "code": "custom",
                        "message": "Integration does not exist",
                        "path": ["allowed_integrations"],
                    }
                ]
                return _error(
                    400, "invalid_body", f"Integration does not exist: {', '.join(unknown)}", errors
                )
        self.sessions.append(body)
        token = "nango_connect_session_" + secrets.token_hex(32)
        data = {
            "token": token,
            "connect_link": f"{self.url}/connect?session_token={token}",
            "expires_at": _iso(datetime.now(UTC) + SESSION_TTL),
        }
        return web.json_response({"data": data}, status=201)

    async def list_connections(self, request: web.Request) -> web.Response:
        end_user_id = request.query.get("endUserId")
        connection_id = request.query.get("connectionId")
        items = [
            connection.summary()
            for connection in self.connections.values()
            if (end_user_id is None or (connection.end_user or {}).get("id") == end_user_id)
            and (connection_id is None or connection.connection_id == connection_id)
        ]
        return web.json_response({"connections": items})

    def _find(self, request: web.Request) -> PeerConnection | web.Response:
        key = request.query.get("provider_config_key")
        if not key:
            errors = [{"code": "invalid_type", "message": "Required", "path": ["provider_config_key"]}]
            return _error(400, "invalid_query_params", "Invalid query params", errors)
        connection = self.connections.get((key, request.match_info["connection_id"]))
        if connection is None:
            return _error(404, "not_found", "Failed to find connection")
        return connection

    async def get_connection(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        if request.query.get("force_refresh") == "true" and found.credentials.get("type") == "OAUTH2":
            self.rotate_access_token(found.connection_id, found.provider_config_key)
        found.last_fetched_at = _iso(datetime.now(UTC))
        with_refresh = request.query.get("refresh_token") == "true"
        return web.json_response(found.full(with_refresh_token=with_refresh))

    async def delete_connection(self, request: web.Request) -> web.Response:
        found = self._find(request)
        if isinstance(found, web.Response):
            return found
        del self.connections[(found.provider_config_key, found.connection_id)]
        return web.json_response({"success": True})


@asynccontextmanager
async def running_nango(secret_key: str = "nango-secret-key-0123456789") -> AsyncIterator[NangoPeer]:
    peer = NangoPeer(secret_key=secret_key)
    async with serving(peer.app()) as peer.url:
        yield peer
