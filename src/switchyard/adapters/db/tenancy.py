"""Repositories for tenants, their end users and their API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, page, to_columns
from switchyard.adapters.db.tables import api_keys, end_users, tenants
from switchyard.core.models import ApiKey, EndUser, Page, Tenant

_tenant = model_of(Tenant)
_end_user = model_of(EndUser)
_api_key = model_of(ApiKey)
_END_USER_IMMUTABLE = frozenset({"id", "tenant_id", "external_id", "created_at"})


class SqlTenants:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, tenant: Tenant) -> None:
        await self.conn.execute(tenants.insert().values(**to_columns(tenant, tenants)))

    async def get(self, tenant_id: str) -> Tenant | None:
        row = (await self.conn.execute(tenants.select().where(tenants.c.id == tenant_id))).first()
        return _tenant(row) if row else None

    async def get_by_name(self, name: str) -> Tenant | None:
        row = (await self.conn.execute(tenants.select().where(tenants.c.name == name))).first()
        return _tenant(row) if row else None

    async def all(self) -> list[Tenant]:
        rows = (await self.conn.execute(tenants.select().order_by(tenants.c.id))).all()
        return [_tenant(row) for row in rows]


def _has_tag(dialect: str, tag: str) -> sa.ColumnElement[bool]:
    """Tags are a JSON list; each dialect has its own way to look inside one."""
    if dialect == "postgresql":
        return sa.cast(end_users.c.tags, JSONB).contains([tag])
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(sa.func.json_each(end_users.c.tags).table_valued("value"))
        .where(sa.literal_column("value") == tag)
    )


class SqlEndUsers:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, end_user: EndUser) -> None:
        await self.conn.execute(end_users.insert().values(**to_columns(end_user, end_users)))

    async def get_by_id(self, tenant_id: str, end_user_id: str) -> EndUser | None:
        query = end_users.select().where(end_users.c.tenant_id == tenant_id, end_users.c.id == end_user_id)
        row = (await self.conn.execute(query)).first()
        return _end_user(row) if row else None

    async def by_ids(self, tenant_id: str, end_user_ids: Sequence[str]) -> list[EndUser]:
        if not end_user_ids:
            return []
        query = end_users.select().where(
            end_users.c.tenant_id == tenant_id, end_users.c.id.in_(list(end_user_ids))
        )
        return [_end_user(row) for row in (await self.conn.execute(query)).all()]

    async def get(self, tenant_id: str, external_id: str) -> EndUser | None:
        query = end_users.select().where(
            end_users.c.tenant_id == tenant_id, end_users.c.external_id == external_id
        )
        row = (await self.conn.execute(query)).first()
        return _end_user(row) if row else None

    async def page(self, tenant_id: str, *, after: str | None, limit: int, tag: str | None) -> Page[EndUser]:
        query = end_users.select().where(end_users.c.tenant_id == tenant_id)
        if after:
            query = query.where(end_users.c.id > after)
        if tag is not None:
            query = query.where(_has_tag(self.conn.dialect.name, tag))
        rows = (await self.conn.execute(query.order_by(end_users.c.id).limit(limit + 1))).all()
        return page(rows, limit, _end_user)

    async def update(self, end_user: EndUser) -> None:
        await self.conn.execute(
            end_users.update()
            .where(end_users.c.tenant_id == end_user.tenant_id, end_users.c.id == end_user.id)
            .values(**to_columns(end_user, end_users, exclude=_END_USER_IMMUTABLE))
        )

    async def delete(self, tenant_id: str, external_id: str) -> bool:
        result = await self.conn.execute(
            end_users.delete().where(
                end_users.c.tenant_id == tenant_id, end_users.c.external_id == external_id
            )
        )
        return bool(result.rowcount)


class SqlApiKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, key: ApiKey) -> None:
        await self.conn.execute(api_keys.insert().values(**to_columns(key, api_keys)))

    async def find_by_lookup(self, lookup: str) -> ApiKey | None:
        row = (await self.conn.execute(api_keys.select().where(api_keys.c.lookup == lookup))).first()
        return _api_key(row) if row else None

    async def get(self, tenant_id: str, key_id: str) -> ApiKey | None:
        query = api_keys.select().where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
        row = (await self.conn.execute(query)).first()
        return _api_key(row) if row else None

    async def all(self, tenant_id: str) -> list[ApiKey]:
        query = api_keys.select().where(api_keys.c.tenant_id == tenant_id).order_by(api_keys.c.id)
        return [_api_key(row) for row in (await self.conn.execute(query)).all()]

    async def revoke(self, tenant_id: str, key_id: str, at: datetime) -> bool:
        result = await self.conn.execute(
            api_keys.update()
            .where(
                api_keys.c.tenant_id == tenant_id,
                api_keys.c.id == key_id,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return bool(result.rowcount)

    async def touch(self, tenant_id: str, key_id: str, at: datetime) -> None:
        await self.conn.execute(
            api_keys.update()
            .where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
            .values(last_used_at=at)
        )
