"""Repositories for named secrets and their versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, page, to_columns
from switchyard.adapters.db.tables import secret_versions, secrets
from switchyard.core.models import Page, Secret, SecretVersion

_secret = model_of(Secret)
_version = model_of(SecretVersion)
_IMMUTABLE = frozenset({"id", "tenant_id", "name", "created_at"})


class SqlSecrets:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, secret: Secret) -> None:
        await self.conn.execute(secrets.insert().values(**to_columns(secret, secrets)))

    async def get(self, tenant_id: str, name: str) -> Secret | None:
        query = secrets.select().where(secrets.c.tenant_id == tenant_id, secrets.c.name == name)
        row = (await self.conn.execute(query)).first()
        return _secret(row) if row else None

    async def get_many(self, tenant_id: str, names: Sequence[str]) -> list[Secret]:
        query = secrets.select().where(secrets.c.tenant_id == tenant_id, secrets.c.name.in_(list(names)))
        return [_secret(row) for row in (await self.conn.execute(query)).all()]

    async def page(self, tenant_id: str, *, after: str | None, limit: int) -> Page[Secret]:
        query = secrets.select().where(secrets.c.tenant_id == tenant_id)
        if after:
            query = query.where(secrets.c.name > after)
        rows = (await self.conn.execute(query.order_by(secrets.c.name).limit(limit + 1))).all()
        return page(rows, limit, _secret, key="name")

    async def update(self, secret: Secret, *, expected_version: int) -> bool:
        result = await self.conn.execute(
            secrets.update()
            .where(
                secrets.c.tenant_id == secret.tenant_id,
                secrets.c.id == secret.id,
                secrets.c.current_version == expected_version,
            )
            .values(**to_columns(secret, secrets, exclude=_IMMUTABLE))
        )
        return bool(result.rowcount)

    async def delete(self, tenant_id: str, secret_id: str) -> None:
        await self.conn.execute(
            secret_versions.delete().where(
                secret_versions.c.tenant_id == tenant_id, secret_versions.c.secret_id == secret_id
            )
        )
        await self.conn.execute(
            secrets.delete().where(secrets.c.tenant_id == tenant_id, secrets.c.id == secret_id)
        )

    async def add_version(self, version: SecretVersion) -> None:
        await self.conn.execute(secret_versions.insert().values(**to_columns(version, secret_versions)))

    async def get_version(self, tenant_id: str, secret_id: str, version: int) -> SecretVersion | None:
        query = secret_versions.select().where(
            secret_versions.c.tenant_id == tenant_id,
            secret_versions.c.secret_id == secret_id,
            secret_versions.c.version == version,
        )
        row = (await self.conn.execute(query)).first()
        return _version(row) if row else None

    async def list_versions(self, tenant_id: str, secret_id: str) -> list[SecretVersion]:
        query = (
            secret_versions.select()
            .where(secret_versions.c.tenant_id == tenant_id, secret_versions.c.secret_id == secret_id)
            .order_by(secret_versions.c.version)
        )
        return [_version(row) for row in (await self.conn.execute(query)).all()]
