"""Repositories for the operate API: callers' public keys, and the request ids already used."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, to_columns
from switchyard.adapters.db.tables import caller_keys, operate_requests
from switchyard.core.models import CallerKey

_caller_key = model_of(CallerKey)


class SqlCallerKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, key: CallerKey) -> None:
        await self.conn.execute(caller_keys.insert().values(**to_columns(key, caller_keys)))

    async def get(self, tenant_id: str, kid: str) -> CallerKey | None:
        query = caller_keys.select().where(caller_keys.c.tenant_id == tenant_id, caller_keys.c.kid == kid)
        row = (await self.conn.execute(query)).first()
        return _caller_key(row) if row else None

    async def all(self, tenant_id: str) -> list[CallerKey]:
        query = (
            caller_keys.select()
            .where(caller_keys.c.tenant_id == tenant_id)
            .order_by(caller_keys.c.created_at, caller_keys.c.id)
        )
        return [_caller_key(row) for row in (await self.conn.execute(query)).all()]

    async def active(self, tenant_id: str, use: str) -> list[CallerKey]:
        query = (
            caller_keys.select()
            .where(
                caller_keys.c.tenant_id == tenant_id,
                caller_keys.c.use == use,
                caller_keys.c.revoked_at.is_(None),
            )
            .order_by(caller_keys.c.created_at.desc(), caller_keys.c.id.desc())
        )
        return [_caller_key(row) for row in (await self.conn.execute(query)).all()]

    async def revoke(self, tenant_id: str, kid: str, at: datetime) -> bool:
        result = await self.conn.execute(
            caller_keys.update()
            .where(
                caller_keys.c.tenant_id == tenant_id,
                caller_keys.c.kid == kid,
                caller_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return bool(result.rowcount)


class SqlOperateRequests:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(self, tenant_id: str, request_id: str, at: datetime) -> bool:
        """One statement, so two replicas racing on the same id cannot both win: the primary key decides.

        On engines without ``ON CONFLICT`` the plain insert fails on the key instead, which the database
        layer reports as ``Conflict``; the service reads that as a replay too.
        """
        values = {"tenant_id": tenant_id, "request_id": request_id, "received_at": at}
        dialect = self.conn.dialect.name
        statement: sa.Executable
        if dialect == "postgresql":
            statement = postgresql.insert(operate_requests).values(**values).on_conflict_do_nothing()
        elif dialect == "sqlite":
            statement = sqlite.insert(operate_requests).values(**values).on_conflict_do_nothing()
        else:
            statement = operate_requests.insert().values(**values)
        result = await self.conn.execute(statement)
        return bool(result.rowcount)

    async def prune(self, before: datetime) -> int:
        result = await self.conn.execute(
            operate_requests.delete().where(operate_requests.c.received_at < before)
        )
        return int(result.rowcount or 0)
