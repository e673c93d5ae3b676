"""Seed 003's ``nango`` auth provider: a Nango server owns the tokens; Switchyard keeps the reference.

An integration with ``auth_provider: nango`` names Nango's integration by its key. The end user connects in
Nango's Connect UI (``start`` makes the Nango connect session and returns its link); ``sync`` then imports
the end user's new Nango connections, and a known Nango connection id can be imported directly. Every use
asks Nango for the current credentials, which Nango refreshes itself; disconnecting deletes the connection
at Nango. The vault holds only the Nango connection id, sealed like any other connection's credentials;
the id is also kept in the connection's config so that a sync imports each Nango connection once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from switchyard.adapters.nango import NangoClient
from switchyard.core.errors import InvalidInput, NotFound
from switchyard.core.models import Connection, EndUser, Integration
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
        config = {**config, REFERENCE: found.connection_id}
        return await self.connections.create(integration, end_user_id, NewCredentials(values), config=config)

    async def start(self, integration: Integration, end_user: EndUser) -> str:
        """Nango's Connect UI link for this end user and integration."""
        session = await self.client.create_connect_session(
            end_user.external_id, end_user.email, end_user.display_name, [integration.key]
        )
        if not session.connect_link:
            raise InvalidInput("Nango returned no connect link", code="nango.no_connect_link")
        return session.connect_link

    async def sync(self, integration: Integration, end_user: EndUser) -> list[Connection]:
        """Import the end user's Nango connections of this integration that are not here yet."""
        refs = await self.client.list_connections(end_user_id=end_user.external_id)
        async with self.db.transaction(write=False) as tx:
            page = await tx.connections.page(
                integration.tenant_id,
                after=None,
                limit=1000,
                end_user_id=end_user.id,
                integration_id=integration.id,
            )
        known = {c.config.get(REFERENCE) for c in page.items}
        imported = []
        for ref in refs:
            if ref.provider_config_key == integration.key and ref.connection_id not in known:
                entered = {"connection_id": ref.connection_id}
                imported.append(await self.import_connection(integration, end_user.id, entered, {}))
        return imported

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
