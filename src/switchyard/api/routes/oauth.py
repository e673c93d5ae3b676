"""The OAuth redirect flow: connect sessions, the browser's start and callback, and the REST-only start."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from switchyard.api import pages
from switchyard.api.connection_schemas import AuthorizeIn, AuthorizeOut, ConnectSessionIn, ConnectSessionOut
from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.core.errors import InvalidInput, NotFound, SwitchyardError
from switchyard.core.models import OAuthState
from switchyard.core.scopes import Scope
from switchyard.services.authz import require
from switchyard.services.connect import EndUserSpec
from switchyard.services.connect_page import read_config
from switchyard.services.oauth_flow import Outcome

router = APIRouter(tags=["connect"])


@router.post(
    "/api/v1/connect-sessions", status_code=status.HTTP_201_CREATED, summary="Let an end user connect"
)
async def create_connect_session(
    body: ConnectSessionIn, principal: PrincipalDep, container: ContainerDep
) -> ConnectSessionOut:
    user = body.end_user
    new = await container.connect_sessions.create(
        principal,
        EndUserSpec(user.id, user.email, user.display_name, user.tags),
        allowed_integrations=body.allowed_integrations,
        return_url=body.return_url,
    )
    return ConnectSessionOut(
        token=new.token, connect_url=new.connect_url, expires_at=new.session.expires_at, end_user_id=user.id
    )


@router.post("/api/v1/oauth/authorize", summary="Start OAuth for an end user; returns the authorization URL")
async def authorize_by_api(
    body: AuthorizeIn, principal: PrincipalDep, container: ContainerDep
) -> AuthorizeOut:
    """The REST-only variant, for flows without a frontend (a chat bot sends the link to the user)."""
    require(principal, Scope.CONNECTIONS_WRITE)
    integration = await container.integrations.get(principal, body.integration, scope=Scope.CONNECTIONS_WRITE)
    async with container.db.transaction(write=False) as tx:
        end_user = await tx.end_users.get(principal.tenant_id, body.end_user_id)
    if end_user is None:
        raise NotFound(f"no end user {body.end_user_id!r}", code="end_user.not_found")
    flow = container.oauth1 if integration.auth_type == "oauth1" else container.oauth
    started = await flow.start(
        integration,
        end_user.id,
        connection_config=body.connection_config,
        return_url=body.return_url,
        response_mode=body.response_mode,
    )
    return AuthorizeOut(authorization_url=started.authorization_url, expires_at=started.expires_at)


@router.get("/oauth/authorize", include_in_schema=False, response_model=None)
async def authorize_in_browser(
    request: Request,
    container: ContainerDep,
    session: Annotated[str, Query()] = "",
    integration: Annotated[str, Query()] = "",
    mode: Annotated[str, Query()] = "redirect",
) -> RedirectResponse | HTMLResponse:
    """The end user's browser, holding a connect-session token, is sent on to the provider."""
    try:
        connect = await container.connect_sessions.resolve(session)
        if connect.allowed_integrations and integration not in connect.allowed_integrations:
            raise InvalidInput(
                f"{integration!r} is not offered in this session",
                code="connect_session.integration_not_allowed",
            )
        async with container.db.transaction(write=False) as tx:
            chosen = await tx.integrations.get(connect.tenant_id, integration)
        if chosen is None:
            raise NotFound(f"no integration {integration!r}", code="integration.not_found")
        if chosen.auth_provider == "nango":  # the end user connects in Nango's own Connect UI
            link = await container.connection_actions.nango_link(chosen, connect.end_user_id)
            return RedirectResponse(link, status_code=302, headers={"Cache-Control": "no-store"})
        definition = await container.catalog.definition(connect.tenant_id, chosen.connector_id)
        config = read_config(definition.connection_config, request.query_params)
        flow = container.oauth1 if chosen.auth_type == "oauth1" else container.oauth
        started = await flow.start(
            chosen,
            connect.end_user_id,
            connection_config=config,
            connect_session_id=connect.id,
            return_url=connect.return_url,
            response_mode=mode,
        )
    except SwitchyardError as exc:
        return pages.page("Could not start connecting", exc.detail, status=exc.status, code=exc.code)
    return RedirectResponse(started.authorization_url, status_code=302, headers={"Cache-Control": "no-store"})


@router.get("/oauth/callback", include_in_schema=False, response_model=None)
async def oauth_callback(request: Request, container: ContainerDep) -> RedirectResponse | HTMLResponse:
    """Where providers send the end user back (RFC 6749 4.1.2)."""
    outcome = await container.oauth.callback(dict(request.query_params))
    return _render(outcome, pages.origin_of(container.settings.public_base_url))


@router.get("/oauth1/callback", include_in_schema=False, response_model=None)
async def oauth1_callback(request: Request, container: ContainerDep) -> RedirectResponse | HTMLResponse:
    """Where OAuth 1.0a providers send the end user back (RFC 5849 2.2)."""
    outcome = await container.oauth1.callback(dict(request.query_params))
    return _render(outcome, pages.origin_of(container.settings.public_base_url))


def _popup_origin(pending: OAuthState, own_origin: str) -> str | None:
    """Where a popup posts its result: the opener's origin; None when the flow is not a popup."""
    if pending.response_mode == "hosted":  # opened by Switchyard's own connect page
        return own_origin
    if pending.response_mode == "popup":
        return pages.origin_of(pending.return_url)
    return None


def _render(outcome: Outcome, own_origin: str) -> RedirectResponse | HTMLResponse:
    """The callback's answer; ``own_origin`` is Switchyard's public origin, the opener of ``hosted`` popups."""
    pending, error = outcome.pending, outcome.error
    if error is not None:
        message = (
            "You declined access, so nothing was connected."
            if error.code == "oauth.access_denied"
            else f"Nothing was connected: {error.detail}"
        )
        params = {"status": "error", "error": error.code, "error_description": message}
        if pending is not None and pending.response_mode == "redirect" and pending.return_url:
            return pages.redirect_with(pending.return_url, params)
        origin = _popup_origin(pending, own_origin) if pending is not None else None
        if origin is not None:
            return pages.popup_result(params, origin, title="Not connected", message=message, status=400)
        return pages.page("Not connected", message, status=400, code=error.code)
    assert outcome.connection is not None
    assert pending is not None
    params = {"status": "success", "connection_id": outcome.connection.id}
    if pending.response_mode == "redirect" and pending.return_url:
        return pages.redirect_with(pending.return_url, params)
    origin = _popup_origin(pending, own_origin)
    if origin is not None:
        return pages.popup_result(params, origin, title="Connected", message="You can close this window.")
    return pages.page("Connected", "Your account is connected. You can close this window.")
