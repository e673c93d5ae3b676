"""Connections as people read them: with their integration's key and the end user's own id."""

from __future__ import annotations

from dataclasses import dataclass

from switchyard.core.models import Connection, Page, Principal
from switchyard.ports import Database
from switchyard.services.connections import ConnectionFilter, ConnectionsService


@dataclass(frozen=True)
class ConnectionView:
    connection: Connection
    integration: str  # the integration's key ("?" when it is gone)
    end_user: str  # the end user's external id ("?" when it is gone)


class ConnectionViews:
    def __init__(self, db: Database, connections: ConnectionsService) -> None:
        self.db = db
        self.connections = connections

    async def page(
        self, principal: Principal, where: ConnectionFilter, *, after: str | None, limit: int
    ) -> Page[ConnectionView]:
        found = await self.connections.list_connections(principal, where, after=after, limit=limit)
        return Page(await self._views(principal.tenant_id, found.items), found.next_cursor)

    async def get(self, principal: Principal, connection_id: str) -> ConnectionView:
        connection = await self.connections.get(principal, connection_id)
        return (await self._views(principal.tenant_id, [connection]))[0]

    async def _views(self, tenant_id: str, connections: list[Connection]) -> list[ConnectionView]:
        async with self.db.transaction(write=False) as tx:
            keys = {i.id: i.key for i in await tx.integrations.all(tenant_id)}
            found = await tx.end_users.by_ids(tenant_id, sorted({c.end_user_id for c in connections}))
        users = {user.id: user.external_id for user in found}
        return [
            ConnectionView(c, keys.get(c.integration_id, "?"), users.get(c.end_user_id, "?"))
            for c in connections
        ]
