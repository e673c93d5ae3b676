"""``/api/v1/integrations``: a tenant's configurations of connectors."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from switchyard.api.catalog_schemas import (
    IntegrationIn,
    IntegrationList,
    IntegrationOut,
    IntegrationPatch,
    SecretRefIn,
)
from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.services.integrations import IntegrationSpec

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])


def _spec(body: IntegrationIn | IntegrationPatch) -> IntegrationSpec:
    fields = set(body.model_fields_set)
    values = body.model_dump(exclude={"client_secret"})
    secret = body.client_secret
    if "client_secret" in fields:
        fields.discard("client_secret")
        fields.add("client_secret_ref" if isinstance(secret, SecretRefIn) else "client_secret")
    return IntegrationSpec(
        fields=frozenset(fields),
        client_secret=secret if isinstance(secret, str) else None,
        client_secret_ref=secret.secret_name if isinstance(secret, SecretRefIn) else None,
        **{k: v for k, v in values.items() if k in IntegrationSpec.__dataclass_fields__},
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Configure a connector for this tenant")
async def create_integration(
    body: IntegrationIn, principal: PrincipalDep, container: ContainerDep
) -> IntegrationOut:
    return IntegrationOut.of(await container.integrations.create(principal, _spec(body)))


@router.get("", summary="List integrations")
async def list_integrations(
    principal: PrincipalDep, container: ContainerDep, connector_id: str | None = None
) -> IntegrationList:
    found = await container.integrations.list_integrations(principal, connector_id=connector_id)
    return IntegrationList(integrations=[IntegrationOut.of(i) for i in found])


@router.get("/{key}", summary="One integration; the client secret is masked")
async def get_integration(key: str, principal: PrincipalDep, container: ContainerDep) -> IntegrationOut:
    return IntegrationOut.of(await container.integrations.get(principal, key))


@router.patch("/{key}", summary="Change an integration (a new client secret replaces the old one)")
async def update_integration(
    key: str, body: IntegrationPatch, principal: PrincipalDep, container: ContainerDep
) -> IntegrationOut:
    return IntegrationOut.of(await container.integrations.update(principal, key, _spec(body)))


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an integration")
async def delete_integration(key: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    await container.integrations.delete(principal, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
