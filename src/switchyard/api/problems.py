"""Every error leaves as RFC 9457 ``application/problem+json`` with a stable ``code``; never a trace."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from switchyard import context
from switchyard.core.errors import AuthError, SwitchyardError
from switchyard.core.redaction import redact_text
from switchyard.logs import get_logger

PROBLEM_JSON = "application/problem+json"
log = get_logger("switchyard.api")


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    remediation: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://switchyard.dev/problems/{code}",
        "title": title or code,
        "status": status,
        "code": code,
        "detail": redact_text(detail, context.released_values()),
    }
    if remediation:
        body["remediation"] = remediation
    if extra:
        body.update(extra)
    rid = context.request_id.get()
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _headers(exc: SwitchyardError) -> dict[str, str] | None:
    """``WWW-Authenticate`` on a 401; ``Retry-After`` (whole seconds, rounded up) when waiting helps."""
    if isinstance(exc, AuthError) and exc.status == 401:
        return {"WWW-Authenticate": f'Bearer realm="switchyard", error="invalid_token", code="{exc.code}"'}
    wait = getattr(exc, "retry_after", None)
    if isinstance(wait, int | float):
        return {"Retry-After": str(max(math.ceil(wait), 1))}
    return None


async def _switchyard_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SwitchyardError)
    return from_error(exc)


def from_error(exc: SwitchyardError) -> JSONResponse:
    """The problem document of one of our errors (5xx ones are logged)."""
    if exc.status >= 500:
        log.warning("request_failed", code=exc.code, detail=exc.detail)
    return problem(
        exc.status,
        exc.code,
        exc.detail,
        title=exc.title,
        remediation=exc.remediation,
        extra=exc.extra or None,
        headers=_headers(exc),
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Never echo the offending input back: it may be the secret itself.
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": error.get("msg"),
            "type": error.get("type"),
        }
        for error in exc.errors()
    ]
    fields = ", ".join(".".join(e["loc"][1:]) or e["loc"][0] for e in errors if e["loc"])
    return problem(422, "request.invalid", f"the request is not valid: {fields}", extra={"errors": errors})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "route.not_found", 405: "route.method_not_allowed", 413: "request.too_large"}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem(
        exc.status_code, codes.get(exc.status_code, "request.invalid"), str(exc.detail), headers=headers
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method the path answers to: a 405 must list them in ``Allow`` (RFC 9110, 15.5.6).

    Starlette's own header names only the first route matching the path, and FastAPI makes one route per
    method, so ``PATCH /api/v1/secrets`` would otherwise be told ``Allow: POST`` while GET works too. Each
    method is probed with a fresh scope: routing leaves its own state in the request's scope.
    """
    base = {"type": "http", "path": request.scope["path"], "root_path": request.scope.get("root_path", "")}
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**base, "method": method})[0] is Match.FULL for route in routes)
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(SwitchyardError, _switchyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
