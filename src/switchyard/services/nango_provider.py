"""Seed 003's ``nango`` auth provider: a Nango server owns the tokens; Switchyard keeps the reference.

An integration with ``auth_provider: nango`` names Nango's integration by its key. Connecting imports a
Nango connection (checked to exist there); every use asks Nango for the current credentials, which Nango
refreshes itself; disconnecting deletes the connection at Nango. The vault holds only the Nango connection
id, sealed like any other connection's credentials.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from switchyard.adapters.nango import NangoClient
from switchyard.core.errors import InvalidInput, NotFound
from switchyard.core.models import Connection, Integration
from switchyard.ports import Database
from switchyard.services.connections import ConnectionsService, NewCredentials
from switchyard.services.vault import Accessor

REFERENCE = "nango_connection_id"


def as_credentials(nango_credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Nango's credentials object in the names Switchyard's injection rules use."""
    kind = str(nango_credentials.get("type", "")).upper()
    if kind == "API_KEY":
        return {"api_key": nango_credentials.get("apiKey")}
    if kind == "BASIC":
        return {"username": nango_credentials.get("username"), "password": nango_credentials.get("password")}
    return {"access_token": nango_credentials.get("access_token"), "token_type": "Bearer"}


class NangoProvider:
    def __init__(self, db: Database, connections: ConnectionsService, client: NangoClient) -> None:
        self.db = db
        self.connections = connections
        self.client = client

    async def import_connection(
        self,
        integration: Integration,
        end_user_id: str,
        entered: Mapping[str, Any],
        config: Mapping[str, Any],
    ) -> Connection:
        reference = entered.get("connection_id")
        if not isinstance(reference, str) or not reference:
            raise InvalidInput(
                'a Nango connection is imported by its id: credentials {"connection_id": ...}',
                code="connection.invalid_credentials",
            )
        found = await self.client.get_connection(reference, integration.key)
        values = {REFERENCE: found.connection_id}
        return await self.connections.create(integration, end_user_id, NewCredentials(values), config=config)

    async def _reference(self, connection: Connection, accessor: Accessor) -> tuple[str, str]:
        values = await self.connections.open_credentials(connection, accessor)
        async with self.db.transaction(write=False) as tx:
            integration = await tx.integrations.get_by_id(connection.tenant_id, connection.integration_id)
        if integration is None:
            raise NotFound("the connection's integration was deleted", code="integration.not_found")
        return str(values[REFERENCE]), integration.key

    async def credentials(self, connection: Connection, accessor: Accessor) -> dict[str, Any]:
        reference, key = await self._reference(connection, accessor)
        return as_credentials((await self.client.get_connection(reference, key)).credentials)

    async def delete(self, connection: Connection) -> None:
        reference, key = await self._reference(
            connection, Accessor(f"connection:{connection.id}", "nango.delete")
        )
        with contextlib.suppress(NotFound):  # already gone at Nango: the deletion is what we wanted
            await self.client.delete_connection(reference, key)
