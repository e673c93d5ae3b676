"""Pure ASGI middleware: a request id on every request, response and log line; access logs; metrics.

One access line per request, except where the route writes the request's line itself and says so in the
scope (``ACCESS_LOGGED``): the proxy's ``provider.call`` line carries the connection, status and timing.
Metric children are looked up once per label set.

A ``DirectRoute`` (the proxy's, registered by its route module) is served by ``RequestContextMiddleware``
itself, ahead of the framework's exception middleware and routing, which cost more than the rest of a
proxied call together; its errors are rendered by the app's own exception handlers, as on any route. The
route stays registered with the app as well, for the OpenAPI document and the 405 of other methods.

When the app's startup has completed (the ASGI lifespan, as under uvicorn), the objects alive at that point
(modules, routes, the container and its caches: some 180,000) are collected once and then frozen out of
the cyclic garbage collector's generations (``gc.freeze``), and the youngest generation is collected every
10,000 net allocations instead of 700; once per process. Under proxy load the collector otherwise walked
them all again in a pause of about 100 ms every few seconds, and collected the young generation some 150
times a second.
"""

from __future__ import annotations

import gc
import inspect
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard import context
from switchyard.api.problems import problem
from switchyard.logs import get_logger

REQUEST_ID_HEADER = b"x-request-id"
ACCESS_LOGGED = "switchyard.access_logged"  # set in the scope by a route that logged the request itself
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MAX_CHILDREN = 4096

REQUESTS = Counter("switchyard_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("switchyard_http_request_seconds", "HTTP request latency", ["method", "route"])
log = get_logger("switchyard.access")


@dataclass(frozen=True)
class DirectRoute:
    """Requests under ``prefix`` in ``methods`` go to ``handler`` with ``scope["route"]`` set to ``route`` and
    the rest of the path as ``scope["path_params"][param]``."""

    prefix: str  # ends with "/"
    methods: frozenset[str]
    route: Any  # the app's route for these requests (its ``path`` labels the metrics)
    handler: Callable[[Scope, Receive, Send], Awaitable[None]]
    param: str = "path"


DIRECT_ROUTES: list[DirectRoute] = []


def serve_directly(route: DirectRoute) -> None:
    """Have ``RequestContextMiddleware`` serve ``route`` itself (called once, by the route's module)."""
    if route not in DIRECT_ROUTES:
        DIRECT_ROUTES.append(route)


def _route_path(scope: Scope) -> str:
    """The path the app routes on: without the root path it is mounted under (as Starlette's routing)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path


def _direct_route(scope: Scope) -> DirectRoute | None:
    if not DIRECT_ROUTES:
        return None
    path = _route_path(scope)
    for route in DIRECT_ROUTES:
        if path.startswith(route.prefix) and scope["method"] in route.methods:
            scope["route"] = route.route
            scope["path_params"] = {route.param: path[len(route.prefix) :]}
            return route
    return None


async def _handled(scope: Scope, receive: Receive, send: Send, exc: Exception) -> bool:
    """Render ``exc`` with the app's handler for it, as the app's exception middleware would (by status for
    an HTTP exception, then by class; the catch-all ``Exception`` / 500 handler is not one of them)."""
    handlers = getattr(scope.get("app"), "exception_handlers", None) or {}
    handler = None
    if isinstance(exc, StarletteHTTPException) and exc.status_code != 500:
        handler = handlers.get(exc.status_code)
    for kind in type(exc).__mro__:
        if handler is not None or kind is Exception:
            break
        handler = handlers.get(kind)
    if handler is None:
        return False
    response = handler(Request(scope, receive), exc)
    if inspect.isawaitable(response):
        response = await response
    await response(scope, receive, send)
    return True


_frozen = False
YOUNG_GENERATION = 10_000  # net allocations between collections of the youngest generation (default 700)


def _freezing_after_startup(send: Send) -> Send:
    """``send`` for the lifespan: freezes the startup's objects before the server hears it is ready."""

    async def sending(message: Message) -> None:
        global _frozen
        if message["type"] == "lifespan.startup.complete" and not _frozen:
            _frozen = True
            gc.collect()
            gc.freeze()
            gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
        await send(message)

    return sending


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # every 10-bit value as two base32 characters


def _new_request_id() -> str:
    """``new_id("req")`` to the character, in a third of the time (this runs on every request): a ULID's 26
    characters are 10 for 48 bits of milliseconds (with 2 leading zero bits) and 16 for 80 random bits."""
    ms = time.time_ns() // 1_000_000
    random = os.urandom(10)
    a, b = int.from_bytes(random[:5], "big"), int.from_bytes(random[5:], "big")
    p = _PAIRS
    return "".join((
        "req_", p[ms >> 40], p[ms >> 30 & 1023], p[ms >> 20 & 1023], p[ms >> 10 & 1023], p[ms & 1023],
        p[a >> 30], p[a >> 20 & 1023], p[a >> 10 & 1023], p[a & 1023],
        p[b >> 30], p[b >> 20 & 1023], p[b >> 10 & 1023], p[b & 1023],
    ))  # fmt: skip


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            incoming = value.decode("latin-1")
            return incoming if _VALID_REQUEST_ID.fullmatch(incoming) else _new_request_id()
    return _new_request_id()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = REQUESTS.labels(method, route, str(status))
            if len(self._counted) < _MAX_CHILDREN:
                self._counted[method, route, status] = counted
        counted.inc()
        timed = self._timed.get((method, route))
        if timed is None:
            timed = LATENCY.labels(method, route)
            if len(self._timed) < _MAX_CHILDREN:
                self._timed[method, route] = timed
        timed.observe(elapsed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            lifespan = scope["type"] == "lifespan"
            await self.app(scope, receive, _freezing_after_startup(send) if lifespan else send)
            return
        rid = _request_id(scope)
        context.begin(rid)
        rid_header = (REQUEST_ID_HEADER, rid.encode("latin-1"))
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [h for h in message.get("headers") or () if h[0].lower() != REQUEST_ID_HEADER]
                headers.append(rid_header)
                message["headers"] = headers
            await send(message)

        try:
            direct = _direct_route(scope)
            if direct is None:
                await self.app(scope, receive, send_with_id)
            else:
                try:
                    await direct.handler(scope, receive, send_with_id)
                except Exception as exc:
                    if response_started or not await _handled(scope, receive, send_with_id, exc):
                        raise
        except Exception as exc:
            log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
            if response_started:
                raise
            response = problem(500, "internal.error", "an unexpected error occurred; quote the request id")
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self._observe(scope["method"], route, status, elapsed)
            if not scope.get(ACCESS_LOGGED):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` (413 ``request.too_large``) before they are buffered.

    A declared Content-Length over the limit is refused at once; a chunked body is counted as it arrives.
    Paths under ``exempt_prefixes`` (the proxy) enforce their own, larger limit while streaming; paths under
    a prefix of ``larger`` (package uploads) have that limit instead.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        exempt_prefixes: tuple[str, ...] = (),
        larger: tuple[tuple[str, int], ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes
        self.larger = larger

    def _limit(self, path: str) -> int:
        return next((limit for prefix, limit in self.larger if path.startswith(prefix)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = problem(413, "request.too_large", f"the request body exceeds {limit} bytes")
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counting_receive, send)
