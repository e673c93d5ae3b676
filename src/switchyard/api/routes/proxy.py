"""``ANY /api/v1/proxy/{path}``: a provider call with the connection's credentials injected.

The connection comes from the ``Connection-Id`` header (or the ``connection_id`` query parameter). Per-call
options, as headers: ``Retries`` (a count; also opts a non-idempotent request in), ``Retry-On``
(comma-separated statuses) and ``Base-Url-Override`` (checked by the egress guard). The caller's own
``Authorization`` (its Switchyard key), cookies, hop-by-hop headers and these options are not forwarded.
The query string is forwarded as sent, less ``connection_id``. The answer comes back with its status, its
headers (without hop-by-hop, cookies and authentication challenges) and its body, streamed both ways when
large.

This is the hot path. ``serve`` is a plain ASGI handler that reads the scope's headers once, with no
dependency solving, no response model and no exit stack, and ``RequestContextMiddleware`` calls it directly
for every method below (a ``DirectRoute``), ahead of the framework's routing. The route is registered with
the app too, as a ``PassthroughRoute``: an ``APIRoute`` that appears in the OpenAPI document like any other,
answers other methods with 405 and, in an app without that middleware, hands its requests to ``serve``.
Errors are raised as usual and rendered as problem+json by the app's exception handlers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from switchyard.api.middleware import ACCESS_LOGGED, DirectRoute, serve_directly
from switchyard.core.errors import InvalidInput, PayloadTooLarge
from switchyard.core.http import Headers
from switchyard.core.scopes import Scope as ApiScope
from switchyard.io_ports import Upstream
from switchyard.services.authz import require
from switchyard.services.container import Container
from switchyard.services.proxy import Call, ProxyOptions

PREFIX = "/api/v1/proxy"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip
OPTIONS = frozenset({"connection-id", "retries", "retry-on", "base-url-override"})
NOT_FORWARDED = HOP_BY_HOP | OPTIONS | {"authorization", "cookie"}
NOT_RETURNED = HOP_BY_HOP | {"set-cookie", "www-authenticate", "authentication-info"}
READ = OPTIONS | {"authorization", "content-length", "transfer-encoding"}  # what ``serve`` looks at
_NOT_FORWARDED = frozenset(name.encode() for name in NOT_FORWARDED)  # ASGI header names: lower-case bytes
_NOT_RETURNED = frozenset(name.encode() for name in NOT_RETURNED)
_READ = frozenset(name.encode() for name in READ)
BUFFERED_BODY = 1024 * 1024  # request bodies up to this size are read first, so that they can be retried
BUFFERED_ANSWER = 256 * 1024  # answers up to this size go back in one piece
NO_BODY_STATUSES = frozenset({204, 304})


_DEFAULTS = ProxyOptions()


def _options(read: dict[bytes, str]) -> ProxyOptions:
    retries, retry_on, base_url = read.get(b"retries"), read.get(b"retry-on"), read.get(b"base-url-override")
    if retries is None and retry_on is None and base_url is None:
        return _DEFAULTS
    try:
        count = int(retries) if retries is not None else None
        statuses = frozenset(int(s) for s in retry_on.split(",") if s.strip()) if retry_on else None
    except ValueError:
        raise InvalidInput(
            "Retries must be an integer and Retry-On a comma-separated list of statuses",
            code="proxy.invalid_option",
        ) from None
    if count is not None and not 0 <= count <= 10:
        raise InvalidInput("Retries must be between 0 and 10", code="proxy.invalid_option")
    return ProxyOptions(retries=count, retry_on=statuses, base_url=base_url)


def _bearer(header: str | None) -> str | None:
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _query(raw: bytes) -> tuple[str, str | None]:
    """The query string to forward (as sent, less ``connection_id``) and the ``connection_id`` it named."""
    query = raw.decode("latin-1")
    if "connection_id" not in query:
        return query, None
    kept, named = [], None
    for pair in query.split("&"):
        if unquote_plus(pair.partition("=")[0]) == "connection_id":
            named = named or unquote_plus(pair.partition("=")[2])
        else:
            kept.append(pair)
    return "&".join(kept), named


async def _body(
    scope: Scope, receive: Receive, read: dict[bytes, str], limit: int
) -> bytes | AsyncIterator[bytes] | None:
    declared = read.get(b"content-length")
    if declared is not None and declared.isdigit():
        size = int(declared)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds {limit} bytes", code="request.too_large")
        if size <= BUFFERED_BODY:
            return await Request(scope, receive).body() if size else None
    elif scope["method"] in ("GET", "HEAD", "DELETE") and b"transfer-encoding" not in read:
        return None
    request = Request(scope, receive)

    async def streamed() -> AsyncIterator[bytes]:
        sent = 0
        async for chunk in request.stream():
            sent += len(chunk)
            if sent > limit:
                raise PayloadTooLarge(f"the request body exceeds {limit} bytes", code="request.too_large")
            if chunk:
                yield chunk

    return streamed()


def _raw_headers(upstream: Upstream) -> Sequence[tuple[bytes, bytes]]:
    """The answer's headers as bytes: as received when the client keeps them so, else encoded."""
    raw: Sequence[tuple[bytes, bytes]] | None = getattr(upstream, "raw_headers", None)
    if raw is None:
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in upstream.headers]
    return raw


async def serve(scope: Scope, receive: Receive, send: Send) -> None:
    """The proxy as a plain ASGI handler (the route's path parameter is in ``scope["path_params"]``)."""
    container: Container = scope["app"].state.container
    read: dict[bytes, str] = {}
    forwarded: Headers = []
    for name, value in scope["headers"]:
        if name not in _NOT_FORWARDED:
            forwarded.append((name.decode("latin-1"), value.decode("latin-1")))
        elif name in _READ and name not in read:
            read[name] = value.decode("latin-1")
    principal = await container.api_keys.authenticate(_bearer(read.get(b"authorization")))
    if ApiScope.PROXY not in principal.scopes:
        require(principal, ApiScope.PROXY)  # an admin key holds it too; else the 403
    query, named = _query(scope["query_string"])
    connection_id = read.get(b"connection-id") or named
    if not connection_id:
        raise InvalidInput(
            "name the connection in the Connection-Id header", code="proxy.connection_missing",
            remediation="Send 'Connection-Id: con_...' (or ?connection_id=...).",
        )  # fmt: skip
    method = scope["method"]
    target = "/" + scope["path_params"]["path"] + ("?" + query if query else "")
    options = _options(read)
    body = await _body(scope, receive, read, container.settings.proxy_max_request_bytes)
    opened = container.proxy.open(
        principal.tenant_id, connection_id, Call(method, target, forwarded, body), options
    )
    upstream = (await opened.__aenter__()).upstream
    scope[ACCESS_LOGGED] = True  # the provider.call line is this request's line
    try:
        returned: list[tuple[bytes, bytes]] = []
        length = None
        for name, value in _raw_headers(upstream):
            low = name.lower()
            if low not in _NOT_RETURNED:
                returned.append((low, value))
            elif low == b"content-length" and length is None:
                length = value
        status = upstream.status
        if method == "HEAD" or (length is not None and length.isdigit() and int(length) <= BUFFERED_ANSWER):
            content = await upstream.read()
            await opened.__aexit__(None, None, None)
            sized = status >= 200 and status not in NO_BODY_STATUSES
            head = [(b"content-length", str(len(content)).encode("latin-1"))] if sized else []
            await send({"type": "http.response.start", "status": status, "headers": head + returned})
            await send({"type": "http.response.body", "body": content})
            return
    except BaseException as exc:
        await opened.__aexit__(type(exc), exc, exc.__traceback__)
        raise

    async def relay() -> AsyncIterator[bytes]:
        failure: BaseException | None = None
        try:
            async for chunk in upstream.chunks():
                yield chunk
        except BaseException as exc:
            failure = exc
            raise
        finally:
            await opened.__aexit__(type(failure) if failure else None, failure, None)

    streaming = StreamingResponse(relay(), status_code=status)
    streaming.raw_headers.extend(returned)
    if length is not None:
        streaming.raw_headers.append((b"content-length", length))
    await streaming(scope, receive, send)


class PassthroughRoute(APIRoute):
    """An ``APIRoute`` for the OpenAPI document whose requests (in its methods) go straight to ``serve``."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] in self.methods:
            await serve(scope, receive, send)
        else:
            await super().handle(scope, receive, send)  # the 405, with its Allow header


router = APIRouter(prefix=PREFIX, tags=["proxy"], route_class=PassthroughRoute)


async def proxy(path: str, request: Request) -> Response:
    """Served by ``serve`` (see ``PassthroughRoute``); this signature is what the OpenAPI document shows."""
    raise AssertionError("the proxy route is served by PassthroughRoute.handle")


for _method in METHODS:  # one route per method, so that each has its own OpenAPI operation id
    router.add_api_route(
        "/{path:path}",
        proxy,
        methods=[_method],
        operation_id=f"proxy_{_method.lower()}",
        summary="Call the provider's API with the connection's credentials",
    )


serve_directly(DirectRoute(PREFIX + "/", frozenset(METHODS), router.routes[0], serve))
