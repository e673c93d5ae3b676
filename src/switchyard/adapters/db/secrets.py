"""Repositories for named secrets and their versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import page, utc
from switchyard.adapters.db.tables import secret_versions, secrets
from switchyard.core.clock import as_utc
from switchyard.core.models import Page, Secret, SecretVersion


def _secret(row: Row[Any]) -> Secret:
    return Secret(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        type=row.type,
        description=row.description,
        current_version=row.current_version,
        expires_at=utc(row.expires_at),
        rotation_due_at=utc(row.rotation_due_at),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _version(row: Row[Any]) -> SecretVersion:
    return SecretVersion(
        id=row.id,
        secret_id=row.secret_id,
        tenant_id=row.tenant_id,
        version=row.version,
        item_id=row.item_id,
        masked=row.masked,
        created_at=as_utc(row.created_at),
    )


def _values(secret: Secret) -> dict[str, Any]:
    return {
        "type": secret.type,
        "description": secret.description,
        "current_version": secret.current_version,
        "expires_at": secret.expires_at,
        "rotation_due_at": secret.rotation_due_at,
        "updated_at": secret.updated_at,
    }


class SqlSecrets:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, secret: Secret) -> None:
        await self.conn.execute(
            secrets.insert().values(
                id=secret.id,
                tenant_id=secret.tenant_id,
                name=secret.name,
                created_at=secret.created_at,
                **_values(secret),
            )
        )

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
            .values(**_values(secret))
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
        await self.conn.execute(
            secret_versions.insert().values(
                id=version.id,
                secret_id=version.secret_id,
                tenant_id=version.tenant_id,
                version=version.version,
                item_id=version.item_id,
                masked=version.masked,
                created_at=version.created_at,
            )
        )

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
