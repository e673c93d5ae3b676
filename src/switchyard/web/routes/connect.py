"""The hosted connect page at a connect session's ``connect_url``: choose, fill in, connect.

The session token (in the link, then in the form) is the end user's only credential here: no cookie, so no
CSRF cookie either. A post whose ``Origin`` names another site is refused. Errors are pages for browser
navigations and problem documents for the page's own ``fetch`` calls (``Accept: application/json``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute

from switchyard.api import pages, problems
from switchyard.api.deps import ContainerDep
from switchyard.core.errors import Forbidden, InvalidInput, NotFound, SwitchyardError
from switchyard.core.models import ConnectSession
from switchyard.services.connect_page import Offered, offer, read_form
from switchyard.web.guard import json_ok, own_hosts, wants_json
from switchyard.web.templating import CONNECT_CSP, render

GONE = {
    "connect_session.invalid": "This link has expired",
    "connect_session.used": "This link was already used",
}


def _error_page(request: Request, exc: SwitchyardError) -> Response:
    status = 410 if exc.code == "connect_session.used" else exc.status
    if wants_json(request):
        response = problems.from_error(exc)
        response.status_code = status
        return response
    context = {"title": GONE.get(exc.code, "Could not open the connect page"), "error": exc}
    return render(request, "connect/gone.html", context, status=status, csp=CONNECT_CSP)


class ConnectRoute(APIRoute):
    """A connect-page route: our errors become a friendly page (or JSON for the page's own script)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handle(request)
            except SwitchyardError as exc:
                return _error_page(request, exc)

        return guarded


router = APIRouter(route_class=ConnectRoute, include_in_schema=False)


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc not in own_hosts(request):
        raise Forbidden("the request comes from another site", code="connect.cross_origin")


def _chosen(offered: list[Offered], key: str) -> Offered:
    found = next((o for o in offered if o.key == key), None)
    if found is None:
        raise NotFound(
            f"{key!r} is not offered by this connect link",
            code="connect_session.integration_not_allowed",
            remediation="Choose one of the offered accounts, or ask the application for a new link.",
        )
    return found


def _page(
    request: Request,
    token: str,
    session: ConnectSession,
    offered: list[Offered],
    chosen: Offered | None,
    *,
    step: str = "config",
    error: SwitchyardError | None = None,
    connection_id: str = "",
    status: int = 200,
) -> Response:
    title = f"Connect {chosen.display_name}" if chosen else "Connect an account"
    back = ""
    if error is not None and session.return_url:
        back = pages.with_params(session.return_url, {"status": "error", "error": error.code})
    context: dict[str, Any] = {
        "title": title,
        "token": token,
        "offered": offered,
        "chosen": chosen,
        "step": step,
        "error": error,
        "problems": list(error.extra.get("fields", [])) if error is not None else [],
        "connection_id": connection_id,
        "return_url": session.return_url or "",
        "return_origin": pages.origin_of(session.return_url) if session.return_url else "",
        "back_url": back,
    }
    return render(request, "connect/page.html", context, status=status, csp=CONNECT_CSP)


@router.get("/connect")
async def connect_page(
    request: Request,
    container: ContainerDep,
    session: Annotated[str, Query()] = "",
    integration: Annotated[str, Query()] = "",
) -> Response:
    live = await container.connect_sessions.resolve(session)
    offered = await offer(container.db, container.catalog, live)
    if integration:
        chosen: Offered | None = _chosen(offered, integration)
    else:
        chosen = offered[0] if len(offered) == 1 else None
    return _page(request, session, live, offered, chosen)


@router.post("/connect/{integration}")
async def connect(request: Request, container: ContainerDep, integration: str) -> Response:
    _check_origin(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    token = form.get("session", "")
    live = await container.connect_sessions.resolve(token)
    offered = await offer(container.db, container.catalog, live)
    chosen = _chosen(offered, integration)
    if chosen.redirect:
        raise InvalidInput(
            f"{chosen.display_name} connects through its own sign-in page",
            code="connection.needs_redirect",
            remediation="Use the Connect button on the connect page.",
        )
    credentials, config = read_form(chosen, form)
    try:
        connection = await container.connection_actions.connect_with_session(
            live, chosen.key, credentials=credentials, connection_config=config
        )
    except SwitchyardError as exc:
        if wants_json(request) or exc.code in GONE:
            raise
        return _page(request, token, live, offered, chosen, step="error", error=exc, status=exc.status)
    result = {"status": "success", "connection_id": connection.id}
    if wants_json(request):
        return json_ok({"ok": True, **result, "integration": chosen.key}, status=201)
    if live.return_url:
        return pages.redirect_with(live.return_url, result, status=303)
    return _page(request, token, live, offered, chosen, step="success", connection_id=connection.id)
