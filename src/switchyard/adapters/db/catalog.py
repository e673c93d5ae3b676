"""Repositories for tenant connector definitions and integrations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, to_columns
from switchyard.adapters.db.tables import connector_definitions, integrations
from switchyard.core.models import ConnectorOverride, Integration

_override = model_of(ConnectorOverride)
_integration = model_of(Integration)
_FIXED = frozenset({"id", "tenant_id", "created_at"})


class SqlConnectorDefinitions:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, tenant_id: str, connector_id: str) -> ConnectorOverride | None:
        query = connector_definitions.select().where(
            connector_definitions.c.tenant_id == tenant_id,
            connector_definitions.c.connector_id == connector_id,
        )
        row = (await self.conn.execute(query)).first()
        return _override(row) if row else None

    async def all(self, tenant_id: str) -> list[ConnectorOverride]:
        query = (
            connector_definitions.select()
            .where(connector_definitions.c.tenant_id == tenant_id)
            .order_by(connector_definitions.c.connector_id)
        )
        return [_override(row) for row in (await self.conn.execute(query)).all()]

    async def add(self, override: ConnectorOverride) -> None:
        await self.conn.execute(
            connector_definitions.insert().values(**to_columns(override, connector_definitions))
        )

    async def replace(self, override: ConnectorOverride) -> None:
        await self.conn.execute(
            connector_definitions.update()
            .where(
                connector_definitions.c.tenant_id == override.tenant_id,
                connector_definitions.c.connector_id == override.connector_id,
            )
            .values(**to_columns(override, connector_definitions, exclude=_FIXED))
        )

    async def delete(self, tenant_id: str, connector_id: str) -> bool:
        result = await self.conn.execute(
            connector_definitions.delete().where(
                connector_definitions.c.tenant_id == tenant_id,
                connector_definitions.c.connector_id == connector_id,
            )
        )
        return bool(result.rowcount)


class SqlIntegrations:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, integration: Integration) -> None:
        await self.conn.execute(integrations.insert().values(**to_columns(integration, integrations)))

    async def get(self, tenant_id: str, key: str) -> Integration | None:
        query = integrations.select().where(integrations.c.tenant_id == tenant_id, integrations.c.key == key)
        row = (await self.conn.execute(query)).first()
        return _integration(row) if row else None

    async def get_by_id(self, tenant_id: str, integration_id: str) -> Integration | None:
        query = integrations.select().where(
            integrations.c.tenant_id == tenant_id, integrations.c.id == integration_id
        )
        row = (await self.conn.execute(query)).first()
        return _integration(row) if row else None

    async def all(self, tenant_id: str, *, connector_id: str | None = None) -> list[Integration]:
        query = integrations.select().where(integrations.c.tenant_id == tenant_id)
        if connector_id is not None:
            query = query.where(integrations.c.connector_id == connector_id)
        rows = (await self.conn.execute(query.order_by(integrations.c.key))).all()
        return [_integration(row) for row in rows]

    async def update(self, integration: Integration) -> None:
        await self.conn.execute(
            integrations.update()
            .where(integrations.c.tenant_id == integration.tenant_id, integrations.c.id == integration.id)
            .values(**to_columns(integration, integrations, exclude=_FIXED))
        )

    async def delete(self, tenant_id: str, key: str) -> bool:
        result = await self.conn.execute(
            integrations.delete().where(integrations.c.tenant_id == tenant_id, integrations.c.key == key)
        )
        return bool(result.rowcount)
