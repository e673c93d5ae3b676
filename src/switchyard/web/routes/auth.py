"""Signing in and out, and the one-time set-up of the first console user."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from switchyard.api.deps import ContainerDep
from switchyard.core.clock import utcnow
from switchyard.core.errors import InvalidInput, RateLimited, Unauthenticated
from switchyard.services.connect import LOCAL_HOSTS
from switchyard.services.console_accounts import SignedIn
from switchyard.web.guard import SESSION_COOKIE, ConsoleRoute, SignedDep, set_cookie
from switchyard.web.templating import render

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
HOME = "/console/connectors"


def _local_target(next_path: str) -> str:
    """Only a path inside the console: never another site (``//host`` or a scheme)."""
    if next_path.startswith("/console/") and not next_path.startswith("//") and "\\" not in next_path:
        return next_path
    return HOME


def _signed_in(signed: SignedIn, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    set_cookie(
        response,
        SESSION_COOKIE,
        signed.token,
        max_age=max(1, int((signed.expires_at - utcnow()).total_seconds())),
    )
    return response


@router.get("")
@router.get("/")
async def home() -> Response:
    return RedirectResponse(HOME, status_code=303)


def cookies_refused(request: Request) -> bool:
    """Browsers keep Secure cookies only over https or on this machine: say so instead of failing later."""
    return request.url.scheme != "https" and request.url.hostname not in LOCAL_HOSTS


@router.get("/login")
async def login_page(request: Request, next: Annotated[str, Query()] = "") -> Response:
    context = {
        "title": "Sign in",
        "error": None,
        "email": "",
        "next": next,
        "insecure": cookies_refused(request),
    }
    return render(request, "console/login.html", context)


@router.post("/login")
async def login(
    request: Request,
    container: ContainerDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    client = request.client.host if request.client else "unknown"
    context = {"title": "Sign in", "email": email, "next": next, "insecure": cookies_refused(request)}
    try:
        signed = await container.console.log_in(email, password, client=client)
    except RateLimited as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        message = f"Too many sign-in attempts. Wait {minutes} minute(s) and try again."
        response = render(request, "console/login.html", {**context, "error": message}, status=429)
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return response
    except Unauthenticated:
        message = "The email or password is not right."
        return render(request, "console/login.html", {**context, "error": message}, status=401)
    return _signed_in(signed, _local_target(next))


@router.post("/logout")
async def logout(request: Request, container: ContainerDep, _signed: SignedDep) -> Response:
    await container.console.log_out(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.get("/setup")
async def setup_page(
    request: Request, container: ContainerDep, token: Annotated[str, Query()] = ""
) -> Response:
    await container.console.check_setup_token(token)
    context = {"title": "Set up", "error": None, "token": token, "tenant": "", "email": ""}
    return render(request, "console/setup.html", context)


@router.post("/setup")
async def setup(
    request: Request,
    container: ContainerDep,
    token: Annotated[str, Form()] = "",
    tenant: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    try:
        signed = await container.console.complete_setup(token, tenant=tenant, email=email, password=password)
    except InvalidInput as exc:
        context = {"title": "Set up", "error": exc.detail, "token": token, "tenant": tenant, "email": email}
        return render(request, "console/setup.html", context, status=exc.status)
    return _signed_in(signed, HOME)
