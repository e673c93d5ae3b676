"""Pure ASGI middleware: a request id on every request, response and log line; access logs; metrics.

One access line per request, except where the route writes the request's line itself and says so in the
scope (``ACCESS_LOGGED``): the proxy's ``provider.call`` line carries the connection, status and timing.
Metric children are looked up once per label set.
"""

from __future__ import annotations

import re
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchyard import context
from switchyard.api.problems import problem
from switchyard.core.ids import new_id
from switchyard.logs import get_logger

REQUEST_ID_HEADER = b"x-request-id"
ACCESS_LOGGED = "switchyard.access_logged"  # set in the scope by a route that logged the request itself
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_MAX_CHILDREN = 4096

REQUESTS = Counter("switchyard_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("switchyard_http_request_seconds", "HTTP request latency", ["method", "route"])
log = get_logger("switchyard.access")


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            incoming = value.decode("latin-1")
            return incoming if _VALID_REQUEST_ID.fullmatch(incoming) else new_id("req")
    return new_id("req")


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
            await self.app(scope, receive, send)
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
                headers = message.get("headers") or []
                message["headers"] = [
                    *[header for header in headers if header[0].lower() != REQUEST_ID_HEADER],
                    rid_header,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
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
    Paths under ``exempt_prefixes`` (the proxy) enforce their own, larger limit while streaming.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problem(413, "request.too_large", f"the request body exceeds {self.max_bytes} bytes")
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)
