"""``/api/v1/tenants/me``, ``/api/v1/end-users`` and ``/api/v1/api-keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.api.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyList,
    ApiKeyOut,
    EndUserIn,
    EndUserOut,
    EndUserPage,
    EndUserPatch,
    TenantOut,
)
from switchyard.services.tenancy import EndUserChanges

router = APIRouter(prefix="/api/v1")


@router.get("/tenants/me", tags=["tenants"], summary="The tenant the API key belongs to")
async def tenant_me(principal: PrincipalDep, container: ContainerDep) -> TenantOut:
    return TenantOut.model_validate(await container.tenancy.get_tenant(principal.tenant_id))


@router.post("/end-users", status_code=status.HTTP_201_CREATED, tags=["end users"])
async def create_end_user(body: EndUserIn, principal: PrincipalDep, container: ContainerDep) -> EndUserOut:
    user = await container.tenancy.create_end_user(
        principal,
        external_id=body.external_id,
        email=body.email,
        display_name=body.display_name,
        tags=body.tags,
    )
    return EndUserOut.model_validate(user)


@router.get("/end-users", tags=["end users"])
async def list_end_users(
    principal: PrincipalDep,
    container: ContainerDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    tag: str | None = None,
) -> EndUserPage:
    page = await container.tenancy.list_end_users(principal, after=cursor, limit=limit, tag=tag)
    return EndUserPage(
        end_users=[EndUserOut.model_validate(u) for u in page.items], next_cursor=page.next_cursor
    )


@router.get("/end-users/{external_id}", tags=["end users"])
async def get_end_user(external_id: str, principal: PrincipalDep, container: ContainerDep) -> EndUserOut:
    return EndUserOut.model_validate(await container.tenancy.get_end_user(principal, external_id))


@router.patch("/end-users/{external_id}", tags=["end users"])
async def update_end_user(
    external_id: str, body: EndUserPatch, principal: PrincipalDep, container: ContainerDep
) -> EndUserOut:
    changes = EndUserChanges(
        fields=frozenset(body.model_fields_set),
        email=body.email,
        display_name=body.display_name,
        tags=body.tags or [],
    )
    return EndUserOut.model_validate(await container.tenancy.update_end_user(principal, external_id, changes))


@router.delete("/end-users/{external_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["end users"])
async def delete_end_user(external_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    await container.tenancy.delete_end_user(principal, external_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api-keys", tags=["api keys"])
async def list_api_keys(principal: PrincipalDep, container: ContainerDep) -> ApiKeyList:
    keys = await container.api_keys.list_keys(principal.tenant_id, principal)
    return ApiKeyList(api_keys=[ApiKeyOut.of(key) for key in keys])


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, tags=["api keys"])
async def create_api_key(body: ApiKeyIn, principal: PrincipalDep, container: ContainerDep) -> ApiKeyCreated:
    new = await container.api_keys.issue(
        principal.tenant_id,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        issued_by=principal,
    )
    return ApiKeyCreated.of_new(new)


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["api keys"])
async def revoke_api_key(key_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    await container.api_keys.revoke(principal.tenant_id, key_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
