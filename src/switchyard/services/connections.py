"""Connections: an end user's connected account and its sealed credentials.

Credentials are one JSON document in a vault item owned by (``connection``, id): tokens for OAuth, the
entered fields for API keys and passwords. Items are immutable, so a refresh seals a new item and swaps the
reference in the same transaction. A masked copy (seed 001's ``***key123``) is kept beside it so reading
credentials masked never decrypts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from switchyard.core.clock import utcnow
from switchyard.core.errors import DecryptFailed, NotFound
from switchyard.core.ids import new_id
from switchyard.core.masking import mask
from switchyard.core.models import Connection, Integration, Page, Principal, VaultItem
from switchyard.core.scopes import Scope
from switchyard.ports import Database, Transaction
from switchyard.services.authz import require
from switchyard.services.vault import Accessor, Vault

OWNER_KIND = "connection"
MAX_PAGE = 200
_NOT_MASKED = frozenset({"token_type", "expires_at", "scope"})


@dataclass(frozen=True)
class ConnectionFilter:
    end_user_id: str | None = None
    integration_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class NewCredentials:
    values: dict[str, Any]
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    account_id: str | None = None


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: value if key in _NOT_MASKED or not isinstance(value, str) else mask(value, "token")
        for key, value in values.items()
        if key != "extra"
    }


def not_found(connection_id: str) -> NotFound:
    return NotFound(f"no connection {connection_id!r}", code="connection.not_found")


class ConnectionsService:
    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault
        # told the id when a connection is created, its credentials change, or it goes
        self.changed: list[Callable[[str], None]] = []
        # told the connection (as stored, or as it was before deletion) when the set of an end user's
        # active connections may have changed: created, deleted, or its status changed
        self.moved: list[Callable[[Connection], None]] = []

    def _tell(self, connection_id: str) -> None:
        for listener in self.changed:
            listener(connection_id)

    def _tell_moved(self, connection: Connection) -> None:
        for listener in self.moved:
            listener(connection)

    def status_changed(self, connection: Connection) -> None:
        """For services that update a connection's status themselves (refresh failures, pending revocations):
        tell the listeners of ``moved`` after the update committed."""
        self._tell_moved(connection)

    async def seal(self, tenant_id: str, connection_id: str, values: Mapping[str, Any]) -> VaultItem:
        raw = json.dumps(dict(values), separators=(",", ":")).encode("utf-8")
        return await self.vault.seal(tenant_id, OWNER_KIND, connection_id, raw)

    async def create(
        self,
        integration: Integration,
        end_user_id: str,
        credentials: NewCredentials,
        *,
        config: Mapping[str, Any] | None = None,
    ) -> Connection:
        now = utcnow()
        connection_id = new_id("con")
        item = await self.seal(integration.tenant_id, connection_id, credentials.values)
        connection = Connection(
            id=connection_id,
            tenant_id=integration.tenant_id,
            integration_id=integration.id,
            connector_id=integration.connector_id,
            end_user_id=end_user_id,
            auth_provider=integration.auth_provider,
            auth_type=integration.auth_type,
            status="active",
            credentials_item_id=item.id,
            credentials_masked=masked(credentials.values),
            expires_at=credentials.expires_at,
            scopes=credentials.scopes,
            account_id=credentials.account_id,
            config=dict(config or {}),
            metadata={},
            tags=(),
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.db.transaction() as tx:
                await tx.vault_items.add(item)
                await tx.connections.add(connection)
        except BaseException:
            await self.vault.destroy([item])
            raise
        self._tell(connection.id)
        self._tell_moved(connection)
        return connection

    async def get(self, principal: Principal, connection_id: str) -> Connection:
        require(principal, Scope.CONNECTIONS_READ)
        async with self.db.transaction(write=False) as tx:
            connection = await tx.connections.get(principal.tenant_id, connection_id)
        if connection is None:
            raise not_found(connection_id)
        return connection

    async def list_connections(
        self, principal: Principal, where: ConnectionFilter, *, after: str | None, limit: int
    ) -> Page[Connection]:
        require(principal, Scope.CONNECTIONS_READ)
        async with self.db.transaction(write=False) as tx:
            return await tx.connections.page(
                principal.tenant_id,
                after=after,
                limit=min(limit, MAX_PAGE),
                end_user_id=where.end_user_id,
                integration_id=where.integration_id,
                status=where.status,
            )

    async def annotate(
        self,
        principal: Principal,
        connection_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
    ) -> Connection:
        """Replace the caller's own metadata and tags on a connection."""
        require(principal, Scope.CONNECTIONS_WRITE)
        async with self.db.transaction() as tx:
            connection = await tx.connections.get(principal.tenant_id, connection_id)
            if connection is None:
                raise not_found(connection_id)
            updated = replace(
                connection,
                metadata=dict(metadata) if metadata is not None else connection.metadata,
                tags=tuple(dict.fromkeys(tags)) if tags is not None else connection.tags,
                updated_at=utcnow(),
            )
            await tx.connections.update(updated)
        return updated

    async def open_credentials(self, connection: Connection, accessor: Accessor) -> dict[str, Any]:
        """The plaintext credentials for one call; audited.

        A refresh in another request or process may have swapped the credentials item since ``connection``
        was read; the row is then read again and the new item opened.
        """
        for _ in range(3):
            async with self.db.transaction(write=False) as tx:
                items = await tx.vault_items.get_many(connection.tenant_id, [connection.credentials_item_id])
                if not items:
                    latest = await tx.connections.get(connection.tenant_id, connection.id)
            if items:
                owners = {connection.credentials_item_id: (OWNER_KIND, connection.id)}
                opened = await self.vault.open(items, accessor, owners)
                values: dict[str, Any] = json.loads(opened[connection.credentials_item_id])
                return values
            if latest is None:
                raise not_found(connection.id)
            connection = latest
        raise DecryptFailed(f"the credentials of connection {connection.id} are missing")

    async def replace_credentials(
        self,
        tx: Transaction,
        connection: Connection,
        item: VaultItem,
        credentials: NewCredentials,
        **changes: Any,
    ) -> tuple[Connection, list[VaultItem]]:
        """Inside ``tx``: point the connection at a new credentials item; returns the old items to destroy."""
        old = await tx.vault_items.get_many(connection.tenant_id, [connection.credentials_item_id])
        updated = replace(
            connection,
            credentials_item_id=item.id,
            credentials_masked=masked(credentials.values),
            expires_at=credentials.expires_at,
            scopes=credentials.scopes or connection.scopes,
            updated_at=utcnow(),
            **changes,
        )
        await tx.vault_items.add(item)
        await tx.connections.update(updated)
        await tx.vault_items.delete(connection.tenant_id, [connection.credentials_item_id])
        self._tell(connection.id)
        if updated.status != connection.status:  # told before ``tx`` commits: listeners read later or never
            self._tell_moved(updated)
        return updated, old

    async def remove(self, connection: Connection) -> None:
        """Delete the row and its credentials (revocation at the provider is the caller's job)."""
        async with self.db.transaction() as tx:
            items = await tx.vault_items.get_many(connection.tenant_id, [connection.credentials_item_id])
            await tx.connections.delete(connection.tenant_id, connection.id)
            await tx.vault_items.delete(connection.tenant_id, [connection.credentials_item_id])
        self._tell(connection.id)
        self._tell_moved(connection)
        await self.vault.destroy(items)
