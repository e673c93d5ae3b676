"""``/api/v1/connectors``: the catalog in seed 002's shape, the published schema, tenant definitions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from switchyard.api.catalog_schemas import ConnectorDetail, ConnectorList, ConnectorSummary
from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.schema import Category, json_schema
from switchyard.services.catalog import CatalogFilter

router = APIRouter(prefix="/api/v1/connectors", tags=["connectors"])
_YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


@router.get("", summary="List connectors (seed 002 shape), filtered by category, text or auth method")
async def list_connectors(
    principal: PrincipalDep,
    container: ContainerDep,
    category: Category | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    auth: str | None = None,
) -> ConnectorList:
    entries = await container.catalog.list(principal.tenant_id, CatalogFilter(category, q, auth))
    return ConnectorList(connectors=[ConnectorSummary.of(entry) for entry in entries])


@router.get("/schema", summary="The JSON Schema (2020-12) of a connector definition")
async def connector_schema() -> dict[str, Any]:
    return json_schema()


@router.get("/{connector_id}", summary="A connector's whole definition")
async def get_connector(
    connector_id: str, principal: PrincipalDep, container: ContainerDep
) -> ConnectorDetail:
    return ConnectorDetail.of(await container.catalog.get(principal.tenant_id, connector_id))


@router.put(
    "/{connector_id}",
    summary="Add or override this tenant's definition (JSON body, or YAML with a YAML content type)",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
async def put_connector(
    connector_id: str, request: Request, principal: PrincipalDep, container: ContainerDep
) -> ConnectorDetail:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if content_type not in ("application/json", *_YAML_TYPES):
        raise InvalidInput(
            f"send the definition as application/json or application/yaml, not {content_type or 'nothing'}",
            code="connector.unsupported_media_type",
        )
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the definition must be UTF-8 text", code="connector.invalid_definition") from None
    return ConnectorDetail.of(await container.catalog.put(principal, connector_id, source))


@router.delete(
    "/{connector_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove a tenant definition"
)
async def delete_connector(connector_id: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    await container.catalog.delete(principal, connector_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
