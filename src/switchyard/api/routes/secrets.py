"""``/api/v1/secrets``: the secrets manager of seed 001."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.api.schemas import (
    AccessEntry,
    AccessLogOut,
    SecretIn,
    SecretOut,
    SecretPage,
    SecretUpdate,
    SecretVersionOut,
    SecretVersions,
)
from switchyard.services.secrets import SecretChanges

router = APIRouter(prefix="/api/v1/secrets", tags=["secrets"])


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a secret (the value is never echoed)")
async def create_secret(body: SecretIn, principal: PrincipalDep, container: ContainerDep) -> SecretOut:
    view = await container.secrets.create(
        principal,
        name=body.name,
        value=body.value,
        type=body.type,
        description=body.description,
        expires_at=body.expires_at,
        rotation_due_at=body.rotation_due_at,
    )
    return SecretOut.of(view)


@router.get("", summary="List secrets, masked")
async def list_secrets(
    principal: PrincipalDep,
    container: ContainerDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SecretPage:
    page = await container.secrets.list_secrets(principal, after=cursor, limit=limit)
    return SecretPage(secrets=[SecretOut.of(v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/{name}", summary="Read a secret: masked, or the value with ?reveal=true and secrets:reveal")
async def get_secret(
    name: str,
    principal: PrincipalDep,
    container: ContainerDep,
    reveal: bool = False,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> SecretOut:
    view = await container.secrets.get(principal, name, reveal=reveal, version=version)
    return SecretOut.of(view)


@router.put("/{name}", summary="Update a secret; a new value adds a version")
async def update_secret(
    name: str, body: SecretUpdate, principal: PrincipalDep, container: ContainerDep
) -> SecretOut:
    changes = SecretChanges(
        fields=frozenset(body.model_fields_set),
        value=body.value,
        type=body.type,
        description=body.description,
        expires_at=body.expires_at,
        rotation_due_at=body.rotation_due_at,
    )
    return SecretOut.of(await container.secrets.update(principal, name, changes))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a secret and its versions")
async def delete_secret(name: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    await container.secrets.delete(principal, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/versions", summary="The versions of a secret, masked")
async def secret_versions(name: str, principal: PrincipalDep, container: ContainerDep) -> SecretVersions:
    secret, versions = await container.secrets.versions(principal, name)
    return SecretVersions(
        name=secret.name,
        versions=[
            SecretVersionOut(
                version=v.version,
                masked_value=v.masked,
                created_at=v.created_at,
                current=v.version == secret.current_version,
            )
            for v in versions
        ],
    )


@router.get("/{name}/access-log", summary="Who decrypted this secret, when and why")
async def secret_access_log(
    name: str,
    principal: PrincipalDep,
    container: ContainerDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AccessLogOut:
    log = await container.secrets.access_log(principal, name, before=cursor, limit=limit)
    return AccessLogOut(
        name=name,
        access_count=log.access_count,
        last_accessed_at=log.last_accessed_at,
        entries=[AccessEntry.of(record, log.versions) for record in log.entries.items],
        next_cursor=log.entries.next_cursor,
    )
