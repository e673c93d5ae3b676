"""``POST /api/v1/mcp-tokens`` (a short-lived MCP credential for one end user) and the RFC 9728 metadata
of ``/mcp`` (the MCP endpoint itself is ``switchyard.mcp.http``, mounted by the app)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.mcp.http import METADATA_PATH, protected_resource_metadata
from switchyard.services.mcp_tokens import MAX_TTL_SECONDS

router = APIRouter(prefix="/api/v1/mcp-tokens", tags=["mcp"])
metadata = APIRouter(tags=["mcp"])


class McpTokenIn(BaseModel):
    end_user_id: str = Field(min_length=1, max_length=255, description="The tenant's external end-user id.")
    integration: str | None = Field(default=None, description="Only this integration's tools.")
    ttl_seconds: int = Field(default=900, ge=1, le=MAX_TTL_SECONDS)


class McpTokenOut(BaseModel):
    token: str = Field(description="Shown once; send it as 'Authorization: Bearer <token>' to /mcp.")
    expires_at: datetime
    end_user_id: str
    integration: str | None


@router.post("", status_code=status.HTTP_201_CREATED, summary="Mint a short-lived MCP token for one end user")
async def mint_mcp_token(body: McpTokenIn, principal: PrincipalDep, container: ContainerDep) -> McpTokenOut:
    minted = await container.mcp_tokens.mint(
        principal, body.end_user_id, integration=body.integration, ttl_seconds=body.ttl_seconds
    )
    return McpTokenOut(
        token=minted.token,
        expires_at=datetime.fromtimestamp(minted.expires_at, UTC),
        end_user_id=minted.grant.end_user_id,
        integration=minted.grant.integration,
    )


@metadata.get(METADATA_PATH, summary="OAuth protected-resource metadata of /mcp (RFC 9728)")
async def mcp_resource_metadata(container: ContainerDep) -> dict[str, Any]:
    return protected_resource_metadata(container.settings.public_base_url)
