"""Seed 002's ``POST /api/v1/connectors/{connector_id}/auth``: initiate, then complete, an OAuth flow.

The caller's own page receives the provider's redirect and posts the code back; the redirect URI it names
must be the integration's registered ``redirect_url`` (no open redirects).
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from switchyard.api.connection_schemas import ConnectorAuthCompleted, ConnectorAuthIn, ConnectorAuthStarted
from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.core.errors import InvalidInput
from switchyard.core.models import Integration, Principal
from switchyard.core.scopes import Scope
from switchyard.services.authz import require
from switchyard.services.connect import EndUserSpec
from switchyard.services.container import Container

router = APIRouter(tags=["connect"])
DEFAULT_END_USER = "default"


async def _integration(
    container: Container, principal: Principal, connector_id: str, key: str | None
) -> Integration:
    if key is not None:
        return await container.integrations.get(principal, key, scope=Scope.CONNECTIONS_WRITE)
    await container.catalog.get(principal.tenant_id, connector_id)  # 404 for an unknown connector
    async with container.db.transaction(write=False) as tx:
        found = await tx.integrations.all(principal.tenant_id, connector_id=connector_id)
    if len(found) != 1:
        raise InvalidInput(
            f"{connector_id} has {len(found)} integrations in this tenant; name one in 'integration'",
            code="integration.ambiguous" if found else "integration.not_found",
        )
    return found[0]


@router.post(
    "/api/v1/connectors/{connector_id}/auth",
    summary="Seed 002: initiate (redirect_uri, scope) or complete (state, code) a connector's OAuth flow",
    response_model=ConnectorAuthStarted | ConnectorAuthCompleted,
)
async def connector_auth(
    connector_id: str, body: ConnectorAuthIn, principal: PrincipalDep, container: ContainerDep
) -> ConnectorAuthStarted | ConnectorAuthCompleted:
    require(principal, Scope.CONNECTIONS_WRITE)
    integration = await _integration(container, principal, connector_id, body.integration)
    if integration.connector_id != connector_id:
        raise InvalidInput(
            f"{integration.key!r} is not a {connector_id} integration", code="integration.mismatch"
        )
    if body.code is not None or body.state is not None:
        done = await container.oauth.complete(
            {"code": body.code or "", "state": body.state or ""},
            tenant_id=principal.tenant_id,
            redirect_uri=body.redirect_uri,
        )
        connection = done.connection
        return ConnectorAuthCompleted(
            credential_id=connection.id,
            status=connection.status,
            expiry=connection.expires_at,
            service_user_id=connection.account_id,
            capabilities=list(connection.scopes),
        )
    redirect = body.redirect_uri or container.oauth.redirect_uri(integration)
    allowed = {container.oauth.redirect_uri(integration)}
    if redirect not in allowed:
        raise InvalidInput(
            "redirect_uri is not registered for this integration",
            code="oauth.redirect_uri_not_allowed",
            remediation="Set the integration's redirect_url to this URI (and register it with the provider).",
        )
    end_user = body.end_user_id or DEFAULT_END_USER
    user = await container.connect_sessions.ensure_end_user(principal, EndUserSpec(end_user))
    started = await container.oauth.start(
        integration if body.scope is None else _with_scopes(integration, body.scope),
        user.id,
        response_mode="page",
        redirect_uri=redirect,
    )
    return ConnectorAuthStarted(
        auth_url=started.authorization_url, state=started.state, expiry=started.expires_at
    )


def _with_scopes(integration: Integration, scopes: list[str]) -> Integration:
    return replace(integration, scopes=tuple(scopes))
