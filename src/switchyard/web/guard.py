"""The console's guards: the session cookie, CSRF protection, and errors shown as pages.

CSRF uses a double-submit token: a random value in an HttpOnly ``__Host-`` cookie, which every page
embeds in its forms (``csrf_token``) and scripts send back as ``X-CSRF-Token``. A state-changing request
whose token is missing or differs from the cookie is refused with 403 before its handler runs, and so is
one whose ``Origin`` names another site. The cookie is set before anyone signs in, so the sign-in form is
covered too. Cookies are ``Secure`` (browsers keep them on http://localhost as well), ``HttpOnly`` and
``SameSite=Lax``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from switchyard.api import problems
from switchyard.api.deps import ContainerDep
from switchyard.core.errors import Forbidden, SwitchyardError
from switchyard.services.console_accounts import Signed
from switchyard.web.templating import render

SESSION_COOKIE = "__Host-switchyard-session"
CSRF_COOKIE = "__Host-switchyard-csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LOGIN_PATH = "/console/login"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax")


def _csrf_cookie(request: Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if len(value) == _TOKEN_LENGTH else None


def own_hosts(request: Request) -> set[str]:
    """This server as the browser may name it: the request's host, or the public base URL's (a proxy in front
    may pass another Host)."""
    public = request.app.state.container.settings.public_base_url
    return {request.url.netloc, urlsplit(public).netloc}


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request that does not carry this browser's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc not in own_hosts(request):
        raise Forbidden("the request comes from another site", code="csrf.cross_origin")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    expected = _csrf_cookie(request)
    if not presented or expected is None:
        raise Forbidden(
            "the form's security token is missing; reload the page and try again", code="csrf.missing"
        )
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Forbidden(
            "the form's security token does not match; reload the page and try again", code="csrf.mismatch"
        )


def error_response(request: Request, exc: SwitchyardError) -> Response:
    if exc.code == "console.session_invalid":
        if wants_json(request) or request.method not in SAFE_METHODS:
            return problems.from_error(exc)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
    if wants_json(request):
        return problems.from_error(exc)
    context = {"title": "Something went wrong", "error": exc, "signed": None}
    return render(request, "console/error.html", context, status=exc.status)


class ConsoleRoute(APIRoute):
    """A console route: CSRF checked first, a signed-out visitor sent to sign in, errors shown as pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            known = _csrf_cookie(request)
            request.state.csrf_token = known or secrets.token_urlsafe(32)
            try:
                await check_csrf(request)
                response = await handle(request)
            except SwitchyardError as exc:
                response = error_response(request, exc)
            if known is None:
                set_cookie(response, CSRF_COOKIE, request.state.csrf_token)
            return response

        return guarded


async def signed_in(request: Request, container: ContainerDep) -> Signed:
    return await container.console.resolve(request.cookies.get(SESSION_COOKIE))


SignedDep = Annotated[Signed, Depends(signed_in)]


def json_ok(payload: dict[str, object], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers={"Cache-Control": "no-store"})
