"""Typed actions: ``GET /api/v1/connectors/{id}/actions`` and ``POST /api/v1/connections/{id}/actions/{name}``."""

from __future__ import annotations

from fastapi import APIRouter

from switchyard.api.action_schemas import ActionList, ActionOut, ActionRunIn, ActionRunOut
from switchyard.api.deps import ContainerDep, PrincipalDep

router = APIRouter(tags=["actions"])


@router.get("/api/v1/connectors/{connector_id}/actions", summary="A connector's actions and their schemas")
async def list_actions(connector_id: str, principal: PrincipalDep, container: ContainerDep) -> ActionList:
    found = await container.actions.list_actions(principal, connector_id)
    return ActionList(connector_id=connector_id, actions=[ActionOut.of(action) for action in found])


@router.post(
    "/api/v1/connections/{connection_id}/actions/{action}",
    summary="Run an action on a connection: the input and output are checked against its schemas",
)
async def run_action(
    connection_id: str, action: str, body: ActionRunIn, principal: PrincipalDep, container: ContainerDep
) -> ActionRunOut:
    result = await container.actions.run(principal, connection_id, action, body.input)
    return ActionRunOut.of(result)
