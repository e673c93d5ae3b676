"""Seed 002's signed ``POST /api/v1/connectors/{connector_id}/operate``, the platform's JWKS, and the
tenant's caller keys (``/api/v1/caller-keys``, scope admin)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.api.operate_schemas import (
    CallerKeyIn,
    CallerKeyList,
    CallerKeyOut,
    JwksOut,
    OperateIn,
    OperateOut,
)

router = APIRouter()


@router.post(
    "/api/v1/connectors/{connector_id}/operate",
    tags=["operate"],
    summary="Seed 002: run a signed ConnectorRequest; answers a signed ConnectorResponse",
)
async def operate(
    connector_id: str, body: OperateIn, principal: PrincipalDep, container: ContainerDep
) -> OperateOut:
    reply = await container.operate.operate(principal, connector_id, body.envelope())
    return OperateOut.of(reply)


@router.get(
    "/.well-known/jwks.json",
    tags=["operate"],
    summary="The platform's public keys (Ed25519) that sign operate responses",
)
async def platform_jwks(container: ContainerDep, response: Response) -> JwksOut:
    response.headers["Cache-Control"] = "public, max-age=300"
    return JwksOut(**container.operate.jwks())


@router.post("/api/v1/caller-keys", status_code=status.HTTP_201_CREATED, tags=["operate"])
async def register_caller_key(
    body: CallerKeyIn, principal: PrincipalDep, container: ContainerDep
) -> CallerKeyOut:
    key = await container.operate.register_key(principal, body.jwk, kid=body.kid, use=body.use)
    return CallerKeyOut.of(key)


@router.get("/api/v1/caller-keys", tags=["operate"])
async def list_caller_keys(principal: PrincipalDep, container: ContainerDep) -> CallerKeyList:
    keys = await container.operate.list_keys(principal)
    return CallerKeyList(caller_keys=[CallerKeyOut.of(key) for key in keys])


@router.delete("/api/v1/caller-keys/{kid}", status_code=status.HTTP_204_NO_CONTENT, tags=["operate"])
async def revoke_caller_key(kid: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    await container.operate.revoke_key(principal, kid)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
