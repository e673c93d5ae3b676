"""Repository of MCP tokens: rows keyed by the digest of the bearer, never the bearer itself."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, to_columns
from switchyard.adapters.db.tables import mcp_tokens
from switchyard.core.models import McpToken

_token = model_of(McpToken)


class SqlMcpTokens:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, token: McpToken) -> None:
        await self.conn.execute(mcp_tokens.insert().values(**to_columns(token, mcp_tokens)))

    async def find(self, digest: str) -> McpToken | None:
        """Not tenant-scoped: the token is how the tenant is found."""
        row = (await self.conn.execute(mcp_tokens.select().where(mcp_tokens.c.digest == digest))).first()
        return _token(row) if row else None

    async def count_live(self, tenant_id: str, at: datetime) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(mcp_tokens)
            .where(mcp_tokens.c.tenant_id == tenant_id, mcp_tokens.c.expires_at > at)
        )
        return int((await self.conn.execute(query)).scalar_one())

    async def prune(self, before: datetime) -> int:
        result = await self.conn.execute(mcp_tokens.delete().where(mcp_tokens.c.expires_at <= before))
        return int(result.rowcount or 0)
