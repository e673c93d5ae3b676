"""``/api/v1/connections``: end users' connected accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from switchyard.api.connection_schemas import (
    ConnectionIn,
    ConnectionOut,
    ConnectionPage,
    ConnectionPatch,
    CredentialList,
    CredentialsOut,
    CredentialSummary,
    RevocationOut,
    SyncIn,
    TestResult,
)
from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.core.clock import utcnow
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


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Connect with typed-in credentials or client credentials"
)
async def create_connection(
    body: ConnectionIn, principal: PrincipalDep, container: ContainerDep
) -> ConnectionOut:
    connection = await container.connection_actions.connect(
        principal,
        body.integration,
        body.end_user_id,
        credentials=body.credentials,
        connection_config=body.connection_config,
    )
    return ConnectionOut.of(connection)


@router.patch("/{connection_id}", summary="Set a connection's metadata and tags")
async def update_connection(
    connection_id: str, body: ConnectionPatch, principal: PrincipalDep, container: ContainerDep
) -> ConnectionOut:
    connection = await container.connections.annotate(
        principal, connection_id, metadata=body.metadata, tags=body.tags
    )
    return ConnectionOut.of(connection)


@router.post("/{connection_id}/test", summary="Test the connection live (seed 001)")
@router.post("/{connection_id}/test-connection", summary="Seed 001's name for the live connection test")
async def test_connection(connection_id: str, principal: PrincipalDep, container: ContainerDep) -> TestResult:
    verdict = await container.connection_actions.test(principal, connection_id)
    return TestResult(
        success=verdict.success,
        error=verdict.error,
        code=verdict.code,
        status=verdict.status,
        account_id=verdict.account_id,
    )


@router.post("/{connection_id}/refresh", summary="Refresh the connection's token now")
async def refresh_connection(
    connection_id: str, principal: PrincipalDep, container: ContainerDep
) -> ConnectionOut:
    return ConnectionOut.of(await container.connection_actions.refresh(principal, connection_id))


@router.delete("/{connection_id}", summary="Disconnect: revoke at the provider (RFC 7009) and delete")
async def delete_connection(
    connection_id: str, principal: PrincipalDep, container: ContainerDep
) -> RevocationOut:
    done = await container.connection_actions.disconnect(principal, connection_id)
    return RevocationOut(
        revocation_time=done.revocation_time,
        service_revocation_status=done.service_revocation_status,
    )


credentials_router = APIRouter(prefix="/api/v1/connector-credentials", tags=["connections"])


@credentials_router.get("", summary="Seed 002's credential listing")
async def list_credentials(principal: PrincipalDep, container: ContainerDep) -> CredentialList:
    found: list[CredentialSummary] = []
    cursor: str | None = None
    now = utcnow()
    while True:
        page = await container.connections.list_connections(
            principal, ConnectionFilter(), after=cursor, limit=200
        )
        found += [CredentialSummary.of(c, now) for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return CredentialList(credentials=found)


@credentials_router.delete("/{credential_id}", summary="Seed 002: revoke and delete a credential")
async def delete_credential(
    credential_id: str, principal: PrincipalDep, container: ContainerDep
) -> RevocationOut:
    return await delete_connection(credential_id, principal, container)


@router.post("/sync", summary="Import an end user's connections made in Nango's Connect UI")
async def sync_connections(body: SyncIn, principal: PrincipalDep, container: ContainerDep) -> ConnectionPage:
    imported = await container.connection_actions.sync_nango(principal, body.integration, body.end_user_id)
    return ConnectionPage(connections=[ConnectionOut.of(c) for c in imported], next_cursor=None)
