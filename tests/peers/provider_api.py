"""A small provider API on loopback: the resource server behind the OAuth peer, or an API-key/basic API.

    async with running_oauth_server() as oauth, running_provider_api(oauth=oauth, api_key="k-123") as api:
        ...  # GET api.url + "/user" with "Authorization: Bearer <access token from oauth>"

Every route needs a credential: a Bearer token accepted by ``validate_token`` (the OAuth peer's issued,
unexpired, unrevoked access tokens when ``oauth=`` is given), an OAuth 1.0a signed request, the static API
key (``api_key_header`` / ``api_key_prefix`` / ``api_key_query_param``) or the basic-auth pair. A missing or
bad one gets 401 with a JSON error. ``request_log`` records every request with the credential presented.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from tests.peers.loopback import serving
from tests.peers.oauth_server import DEFAULT_USER, OAuthServerPeer
from tests.peers.oauth_storage import PeerUser

TokenValidator = Callable[[str], PeerUser | None]
OAuth1Validator = Callable[[str, str, dict[str, str] | None, Mapping[str, str]], PeerUser | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
USER = web.RequestKey("user", PeerUser)


@dataclass
class ApiRequestRecord:
    method: str
    path: str
    query: list[tuple[str, str]]
    auth_kind: str  # "bearer", "oauth1", "api_key", "basic" or "none"
    credential: str | None  # the token, API key or basic user name presented
    user_id: str | None  # None when refused
    status: int | None = None


@dataclass
class Credential:
    kind: str
    value: str | None
    user: PeerUser | None


class ProviderApiPeer:
    def __init__(
        self,
        *,
        validate_token: TokenValidator | None = None,
        validate_oauth1: OAuth1Validator | None = None,
        api_key: str | None = None,
        api_key_header: str = "X-Api-Key",
        api_key_prefix: str = "",
        api_key_query_param: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        static_user: PeerUser = DEFAULT_USER,
        item_count: int = 25,
    ) -> None:
        self.url = ""
        self.validate_token = validate_token
        self.validate_oauth1 = validate_oauth1
        self.api_key = api_key
        self.api_key_header = api_key_header
        self.api_key_prefix = api_key_prefix  # e.g. "Bearer " or "token " when the header is Authorization
        self.api_key_query_param = api_key_query_param
        self.basic_auth = basic_auth
        self.static_user = static_user  # who an API key or basic credential acts as
        self.items: list[dict[str, Any]] = [{"id": i, "name": f"item-{i}"} for i in range(1, item_count + 1)]
        self.rate_limit_times = 2  # /rate-limited answers 429 this many times, then 200
        self.retry_after = "1"
        self.flaky_times = 2  # /flaky answers 503 this many times, then 200
        self.calls: Counter[str] = Counter()  # authenticated calls by path
        self.request_log: list[ApiRequestRecord] = []
        self._closing = asyncio.Event()

    def reset_counters(self) -> None:
        self.calls.clear()
        self.request_log.clear()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth_middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/user", self.user)
        app.router.add_get("/items", self.items_by_cursor)
        app.router.add_get("/items-linked", self.items_linked)
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/rate-limited", self.rate_limited)
        app.router.add_route("*", "/flaky", self.flaky)
        app.router.add_get("/bytes", self.stream_bytes)
        app.router.add_get("/not-json", self.not_json)
        app.router.add_get("/cookie", self.cookie)
        app.router.add_get("/status/{code:\\d{3}}", self.status)
        app.router.add_get("/slow", self.slow)
        return app

    # -- authentication --

    async def authenticate(self, request: web.Request) -> Credential:
        if self.api_key is not None:
            presented = request.headers.get(self.api_key_header)
            if presented is not None and presented.startswith(self.api_key_prefix):
                key = presented[len(self.api_key_prefix) :]
                if secrets.compare_digest(key.encode(), self.api_key.encode()):
                    return Credential("api_key", key, self.static_user)
            if self.api_key_query_param and self.api_key_query_param in request.query:
                key = request.query[self.api_key_query_param]
                user = (
                    self.static_user if secrets.compare_digest(key.encode(), self.api_key.encode()) else None
                )
                return Credential("api_key", key, user)
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            user = self.validate_token(value) if self.validate_token else None
            return Credential("bearer", value, user)
        if scheme == "basic":
            return self._check_basic(value)
        if scheme == "oauth" and self.validate_oauth1 is not None:
            body = None
            if request.content_type == "application/x-www-form-urlencoded":
                body = {k: str(v) for k, v in (await request.post()).items()}
            user = self.validate_oauth1(request.method, str(request.url), body, request.headers)
            return Credential("oauth1", value, user)
        if self.api_key is not None and self.api_key_header in request.headers:
            return Credential("api_key", request.headers[self.api_key_header], None)
        return Credential("none", None, None)

    def _check_basic(self, value: str) -> Credential:
        try:
            username, _, password = base64.b64decode(value).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return Credential("basic", None, None)
        ok = self.basic_auth is not None and secrets.compare_digest(
            f"{username}:{password}".encode(), ":".join(self.basic_auth).encode()
        )
        return Credential("basic", username, self.static_user if ok else None)

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        credential = await self.authenticate(request)
        record = ApiRequestRecord(
            request.method,
            request.path,
            list(request.query.items()),
            credential.kind,
            credential.value,
            credential.user.id if credential.user else None,
        )
        self.request_log.append(record)
        if credential.user is None:
            response: web.StreamResponse = _unauthorized(credential)
        else:
            request[USER] = credential.user
            self.calls[request.path] += 1
            response = await handler(request)
        record.status = response.status
        return response

    # -- routes --

    async def user(self, request: web.Request) -> web.Response:
        user = request[USER]
        return web.json_response({"id": user.id, "login": user.login})

    async def items_by_cursor(self, request: web.Request) -> web.Response:
        limit = _bounded_int(request.query.get("limit"), default=10)
        cursor = request.query.get("cursor") or "0"
        if limit is None or not cursor.isdigit():
            return web.json_response(
                {"error": "invalid_request", "error_description": "bad cursor or limit"}, status=400
            )
        start = int(cursor)
        end = start + limit
        next_cursor = str(end) if end < len(self.items) else None
        return web.json_response({"items": self.items[start:end], "next_cursor": next_cursor})

    async def items_linked(self, request: web.Request) -> web.Response:
        page = _bounded_int(request.query.get("page"), default=1, maximum=10_000)
        per_page = _bounded_int(request.query.get("per_page"), default=10)
        if page is None or per_page is None:
            return web.json_response(
                {"error": "invalid_request", "error_description": "bad page or per_page"}, status=400
            )
        last = max(1, -(-len(self.items) // per_page))
        links = {"first": 1, "last": last}
        if page > 1:
            links["prev"] = page - 1
        if page < last:
            links["next"] = page + 1
        base = URL(self.url).with_path(request.path)
        header = ", ".join(
            f'<{base.with_query(page=number, per_page=per_page)}>; rel="{rel}"'
            for rel, number in links.items()
        )
        start = (page - 1) * per_page
        return web.json_response(self.items[start : start + per_page], headers={"Link": header})

    async def echo(self, request: web.Request) -> web.Response:
        hidden = {"authorization", self.api_key_header.lower()}
        raw = await request.read()
        body: dict[str, Any] = {
            "content_type": request.content_type if raw else None,
            "size": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
        if request.content_type == "application/json" and raw:
            body["json"] = await request.json()
        elif request.content_type == "application/x-www-form-urlencoded":
            body["form"] = [[k, str(v)] for k, v in (await request.post()).items()]
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "query": [[k, v] for k, v in request.query.items()],
                "headers": {k: v for k, v in request.headers.items() if k.lower() not in hidden},
                "body": body,
            }
        )

    async def rate_limited(self, request: web.Request) -> web.Response:
        attempt = self.calls[request.path]
        if attempt <= self.rate_limit_times:
            return web.json_response(
                {"error": "rate_limited"}, status=429, headers={"Retry-After": self.retry_after}
            )
        return web.json_response({"ok": True, "attempt": attempt})

    async def flaky(self, request: web.Request) -> web.Response:
        attempt = self.calls[request.path]
        if attempt <= self.flaky_times:
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        return web.json_response({"ok": True, "attempt": attempt})

    async def stream_bytes(self, request: web.Request) -> web.StreamResponse:
        """``?size=`` bytes of a repeating pattern, streamed in 64 KiB chunks without a Content-Length."""
        size = int(request.query.get("size", "0"))
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        chunk = bytes(range(256)) * 256
        sent = 0
        while sent < size:
            piece = chunk[: min(len(chunk), size - sent)]
            await response.write(piece)
            sent += len(piece)
        await response.write_eof()
        return response

    async def not_json(self, request: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def cookie(self, request: web.Request) -> web.Response:
        response = web.json_response({"ok": True}, headers={"X-Provider": "peer"})
        response.set_cookie("session", "provider-session-cookie")
        return response

    async def status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.json_response({"status": code}, status=code)

    async def slow(self, request: web.Request) -> web.Response:
        """Answers after ``?seconds=`` (at most 10), or at once with 503 when the peer shuts down."""
        seconds = min(float(request.query.get("seconds", "1")), 10.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        if self._closing.is_set():
            return web.json_response({"error": "shutting down"}, status=503)
        return web.json_response({"ok": True, "slept": seconds})

    def close(self) -> None:
        self._closing.set()


def _bounded_int(raw: str | None, *, default: int, maximum: int = 100) -> int | None:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        return None
    return int(raw)


def _unauthorized(credential: Credential) -> web.Response:
    if credential.kind == "none":
        body = {"error": "unauthorized", "error_description": "No credentials were presented."}
        challenge = 'Bearer realm="provider"'
    else:
        body = {
            "error": "invalid_token",
            "error_description": f"The {credential.kind} credential is not valid.",
        }
        challenge = 'Bearer realm="provider", error="invalid_token"'
    return web.json_response(body, status=401, headers={"WWW-Authenticate": challenge})


@asynccontextmanager
async def running_provider_api(
    *, oauth: OAuthServerPeer | None = None, **options: Any
) -> AsyncIterator[ProviderApiPeer]:
    """``oauth=`` wires ``validate_token`` and ``validate_oauth1`` to that OAuth peer; ``options`` go to
    ``ProviderApiPeer``."""
    if oauth is not None:
        options.setdefault("validate_token", oauth.validate_access_token)
        options.setdefault("validate_oauth1", oauth.validate_oauth1_request)
    peer = ProviderApiPeer(**options)
    async with serving(peer.app()) as peer.url:
        try:
            yield peer
        finally:
            peer.close()
