"""``/api/v1/connections``: end users' connected accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.api.schemas import ConnectionOut, ConnectionPage, CredentialsOut
from switchyard.services.connections import ConnectionFilter

router = APIRouter(prefix="/api/v1/connections", tags=["connections"])


@router.get("", summary="List connections, by end user, integration or status")
async def list_connections(
    principal: PrincipalDep,
    container: ContainerDep,
    end_user_id: str | None = None,
    integration: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConnectionPage:
    end_user_row_id = integration_id = None
    async with container.db.transaction(write=False) as tx:
        if end_user_id is not None:
            user = await tx.end_users.get(principal.tenant_id, end_user_id)
            end_user_row_id = user.id if user else "-"
        if integration is not None:
            found = await tx.integrations.get(principal.tenant_id, integration)
            integration_id = found.id if found else "-"
    where = ConnectionFilter(end_user_row_id, integration_id, status)
    page = await container.connections.list_connections(principal, where, after=cursor, limit=limit)
    return ConnectionPage(connections=[ConnectionOut.of(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/{connection_id}", summary="One connection")
async def get_connection(
    connection_id: str, principal: PrincipalDep, container: ContainerDep
) -> ConnectionOut:
    return ConnectionOut.of(await container.connections.get(principal, connection_id))


@router.get("/{connection_id}/credentials", summary="The connection's credentials, masked (seed 001)")
async def get_credentials(
    connection_id: str, principal: PrincipalDep, container: ContainerDep
) -> CredentialsOut:
    connection = await container.connections.get(principal, connection_id)
    return CredentialsOut(
        connection_id=connection.id,
        credentials=connection.credentials_masked,
        configuration=connection.config,
    )
