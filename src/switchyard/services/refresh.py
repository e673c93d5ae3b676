"""Token refresh: on use when the token expires within the definition's margin, and in a periodic sweep.

Single flight: one refresh per connection at a time, within a process (an asyncio lock) and across
processes (a PostgreSQL advisory lock); after acquiring the lock the row is read again, so a refresh another
process just did is reused, not repeated. The new tokens (and a rotated refresh token) are sealed as a new
vault item and swapped in one transaction. ``invalid_grant`` turns the connection ``error`` with the
remediation "reconnect"; a timeout or a 5xx keeps every token, backs off and is retried later.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from switchyard.core.auth import oauth2
from switchyard.core.clock import utcnow
from switchyard.core.errors import (
    InvalidInput,
    NotFound,
    OAuthError,
    RetriableError,
    SwitchyardError,
    Unavailable,
)
from switchyard.core.manifest import templates
from switchyard.core.manifest.schema import OAuth2, OAuth2ClientCredentials
from switchyard.core.models import Connection, Integration
from switchyard.io_ports import HttpSender, Locks
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services.catalog import CatalogService
from switchyard.services.connections import ConnectionsService, NewCredentials, not_found
from switchyard.services.integrations import IntegrationsService
from switchyard.services.nango_provider import NangoProvider
from switchyard.services.vault import Accessor, Vault

log = get_logger("switchyard.refresh")
REFRESHABLE = ("oauth2", "oauth2_client_credentials")
MAX_BACKOFF = timedelta(hours=1)
RECONNECT = "Ask the end user to connect the account again."


def _nango_missing() -> Unavailable:
    return Unavailable(
        "this connection lives in Nango, which is not configured here",
        code="nango.not_configured",
        remediation="Set SWITCHYARD_NANGO_URL and SWITCHYARD_NANGO_SECRET_KEY.",
    )


def backoff(failures: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** max(failures - 1, 0)), MAX_BACKOFF)


class Refresher:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        catalog: CatalogService,
        integrations: IntegrationsService,
        connections: ConnectionsService,
        http: HttpSender,
        locks: Locks,
        *,
        nango: NangoProvider | None = None,
        concurrency: int = 8,
    ) -> None:
        self.nango = nango
        self.db = db
        self.vault = vault
        self.catalog = catalog
        self.integrations = integrations
        self.connections = connections
        self.http = http
        self.locks = locks
        self._slots = asyncio.Semaphore(concurrency)

    async def _method(self, connection: Connection) -> OAuth2 | OAuth2ClientCredentials | None:
        definition = await self.catalog.definition(connection.tenant_id, connection.connector_id)
        method = definition.method(connection.auth_type)
        return method if isinstance(method, OAuth2 | OAuth2ClientCredentials) else None

    async def due(self, connection: Connection, now: datetime | None = None) -> bool:
        """Whether the token expires within the definition's margin."""
        if connection.auth_type not in REFRESHABLE or connection.expires_at is None:
            return False
        method = await self._method(connection)
        margin = timedelta(seconds=method.expiry_buffer_seconds if method else 0)
        return connection.expires_at - margin <= (now or utcnow())

    async def credentials(
        self, connection: Connection, accessor: Accessor
    ) -> tuple[Connection, dict[str, Any]]:
        """Fresh credentials for one use: refreshed first when due (single flight), or from Nango."""
        if connection.auth_provider == "nango":
            if self.nango is None:
                raise _nango_missing()
            return connection, await self.nango.credentials(connection, accessor)
        if await self.due(connection):
            refreshed = await self.refresh(connection.tenant_id, connection.id)
            connection = refreshed or connection
        return connection, await self.connections.open_credentials(connection, accessor)

    async def refresh(
        self, tenant_id: str, connection_id: str, *, force: bool = False, wait: bool = True
    ) -> Connection | None:
        """Refresh under the connection's lock; ``wait=False`` returns None when another holder has it."""
        async with self._slots, self.locks.hold(f"refresh:{connection_id}", wait=wait) as held:
            if not held:
                return None
            async with self.db.transaction(write=False) as tx:
                connection = await tx.connections.get(tenant_id, connection_id)
            if connection is None:
                raise not_found(connection_id)
            if not force and not await self.due(connection):
                return connection  # another request or process refreshed it while we waited
            return await self._refresh_locked(connection)

    async def _refresh_locked(self, connection: Connection) -> Connection:
        method = await self._method(connection)
        if method is None:
            raise InvalidInput(
                f"{connection.connector_id} connections via {connection.auth_type} have no token to refresh",
                code="connection.not_refreshable",
            )
        async with self.db.transaction(write=False) as tx:
            integration = await tx.integrations.get_by_id(connection.tenant_id, connection.integration_id)
        if integration is None:
            raise NotFound("the connection's integration was deleted", code="integration.not_found")
        accessor = Accessor(f"connection:{connection.id}", "oauth.refresh")
        current = await self.connections.open_credentials(connection, accessor)
        try:
            token_set = await self._token_request(method, integration, connection, current)
        except OAuthError as exc:
            return await self._failed(
                connection, exc, permanent=exc.error in {"invalid_grant", "invalid_client"}
            )
        except RetriableError as exc:
            updated = await self._failed(connection, exc, permanent=False)
            if connection.expires_at is not None and connection.expires_at <= utcnow():
                raise  # the old token is dead and no new one came: the caller must wait
            return updated
        credentials = NewCredentials(token_set.as_credentials(), token_set.expires_at, token_set.scopes)
        item = await self.connections.seal(connection.tenant_id, connection.id, credentials.values)
        async with self.db.transaction() as tx:
            updated, old = await self.connections.replace_credentials(
                tx,
                connection,
                item,
                credentials,
                status="active",
                error_code=None,
                error_detail=None,
                remediation=None,
                refresh_failures=0,
                next_refresh_at=None,
                last_refreshed_at=utcnow(),
            )
        await self.vault.destroy(old)
        return updated

    async def _token_request(
        self,
        method: OAuth2 | OAuth2ClientCredentials,
        integration: Integration,
        connection: Connection,
        current: dict[str, Any],
    ) -> oauth2.TokenSet:
        secret = await self.integrations.client_secret(integration, "oauth.refresh")
        client = oauth2.Client(integration.client_id or "", secret, method.token_auth_method)
        if isinstance(method, OAuth2ClientCredentials):
            url = templates.render(method.token_url, connection.config, url_component=True)
            request = oauth2.client_credentials(
                url, client, scopes=integration.scopes, scope_separator=method.scope_separator,
                extra=method.token_params,
            )  # fmt: skip
            previous = None
        else:
            previous = current.get("refresh_token")
            if not previous:
                raise OAuthError(
                    "invalid_grant", "the connection holds no refresh token", remediation=RECONNECT
                )
            url = templates.render(
                method.refresh_url or method.token_url, connection.config, url_component=True
            )
            request = oauth2.refresh(url, client, refresh_token=previous, extra=method.token_params)
        answer = await self.http.send(request)
        return oauth2.parse_token_response(
            answer.status,
            answer.body,
            now=utcnow(),
            requested_scopes=connection.scopes,
            scope_separator=method.scope_separator,
            previous_refresh_token=previous,
        )

    async def _failed(self, connection: Connection, exc: SwitchyardError, *, permanent: bool) -> Connection:
        failures = connection.refresh_failures + 1
        updated = replace(
            connection,
            status="error" if permanent else connection.status,
            error_code=exc.code,
            error_detail=exc.detail,
            remediation=RECONNECT if permanent else "Retried automatically; the current token is kept.",
            refresh_failures=failures,
            next_refresh_at=None if permanent else utcnow() + backoff(failures),
            updated_at=utcnow(),
        )
        async with self.db.transaction() as tx:
            await tx.connections.update(updated)
        if updated.status != connection.status:
            self.connections.status_changed(updated)
        log.warning("refresh.failed", connection_id=connection.id, code=exc.code, permanent=permanent)
        return updated

    async def sweep(self, *, horizon: timedelta = timedelta(minutes=10), limit: int = 500) -> int:
        """Refresh every connection expiring within ``horizon``; returns how many were refreshed."""
        async with self.db.transaction(write=False) as tx:
            due = await tx.connections.due_for_refresh(utcnow() + horizon, limit=limit)

        async def one(tenant_id: str, connection_id: str) -> bool:
            try:  # another process already on this connection: leave it to them
                refreshed = await self.refresh(tenant_id, connection_id, wait=False)
            except SwitchyardError as exc:
                log.warning("refresh.sweep_failed", connection_id=connection_id, code=exc.code)
                return False
            return refreshed is not None and refreshed.error_code is None

        results = await asyncio.gather(*(one(t, c) for t, c in due))
        return sum(results)
