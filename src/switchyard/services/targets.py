"""Where a connection's calls go and what they carry: base URL, fixed headers and injected credentials.

Resolving a target reads the connection, its definition and its (refreshed) credentials, which costs two
database reads and an audited decrypt. The proxy's hot path reuses a resolved target for
``ttl`` seconds (SWITCHYARD_CREDENTIAL_CACHE_TTL_SECONDS) in this process's memory only: a refresh or a
disconnect in this process drops it at once; other processes pick the change up within ``ttl``. A target
is never reused past the token's refresh margin, and a provider's 401 drops it (see ``ProxyService``).
Each reuse marks the credential values as released for the request, so log redaction still sees them.
A target also carries what every call through it would otherwise work out again: the lower-cased names of
its fixed headers, its injected query already encoded, its retryable statuses and its rate-limit and
circuit-breaker keys.

Concurrent calls that miss the cache for the same connection and purpose share one resolution (single
flight): when a target expires under load, one set of reads and one audited decrypt serve every waiting
call, instead of one per call. A forgotten connection's resolution in flight is not cached.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from switchyard import context
from switchyard.core.auth import inject
from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict
from switchyard.core.http import Rate
from switchyard.core.manifest import templates
from switchyard.core.manifest.schema import Definition, OAuth1, OAuth2, OAuth2ClientCredentials
from switchyard.core.models import Connection
from switchyard.core.retry import rates_from
from switchyard.ports import Database
from switchyard.services.catalog import CatalogService
from switchyard.services.connections import not_found
from switchyard.services.integrations import IntegrationsService
from switchyard.services.refresh import Refresher
from switchyard.services.vault import Accessor

MAX_TARGETS = 10_000


@dataclass(frozen=True)
class OAuth1Keys:
    consumer_key: str
    consumer_secret: str
    token: str
    token_secret: str


@dataclass(frozen=True)
class Target:
    connection: Connection
    definition: Definition
    base_url: str | None  # None: the definition has no proxy (database connectors)
    headers: tuple[tuple[str, str], ...]  # the definition's fixed headers, then the injected credential
    query: tuple[tuple[str, str], ...]  # an injected query credential
    oauth1: OAuth1Keys | None
    credentials: dict[str, Any]  # for SQL actions, which connect with them; never leaves the host
    rates: tuple[Rate, ...]
    rates_per_tenant: bool
    fresh_until: float  # time.monotonic()
    header_names: frozenset[
        str
    ]  # ``headers``' names, lower-cased: a caller's header of the same name is dropped
    encoded_query: str  # ``query`` as a query string ('' when none)
    retry_statuses: frozenset[int]  # the definition's retryable statuses
    limit_key: str  # the definition's rate limits count under this key (per connection or per tenant)
    tenant_limit_key: str  # the tenant's global rate limit counts under this key
    breaker_key: str  # the provider's circuit breaker for this tenant

    @property
    def provider(self) -> str:
        return self.connection.connector_id

    def release(self) -> None:
        """Mark the secret values as released in this request, for log redaction."""
        for value in self.credentials.values():
            if isinstance(value, str):
                context.release(value)


def _retrieved(loading: asyncio.Future[Target]) -> None:
    """Mark a shared resolution's failure as seen, when every caller waiting for it has gone."""
    if not loading.cancelled():
        loading.exception()


def not_active(connection: Connection) -> Conflict:
    return Conflict(
        f"connection {connection.id} is {connection.status}"
        + (f": {connection.error_detail}" if connection.error_detail else ""),
        code="connection.not_active",
        remediation=connection.remediation or "Ask the end user to connect the account again.",
    )


class Targets:
    def __init__(
        self,
        db: Database,
        catalog: CatalogService,
        integrations: IntegrationsService,
        refresher: Refresher,
        *,
        ttl: float,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.integrations = integrations
        self.refresher = refresher
        self.ttl = ttl
        self._cache: OrderedDict[tuple[str, str], Target] = OrderedDict()
        self._loading: dict[tuple[str, str, str], asyncio.Future[Target]] = {}

    def forget(self, connection_id: str) -> None:
        for key in [key for key in self._cache if key[1] == connection_id]:
            del self._cache[key]
        for flight in [flight for flight in self._loading if flight[1] == connection_id]:
            del self._loading[flight]

    def forget_connector(self, tenant_id: str, connector_id: str) -> None:
        """Drop the targets of a connector whose definition changed (a package upload or rollback)."""
        for key in [
            key
            for key, target in self._cache.items()
            if key[0] == tenant_id and target.connection.connector_id == connector_id
        ]:
            del self._cache[key]

    async def get(self, tenant_id: str, connection_id: str, purpose: str) -> Target:
        cached = self._cache.get((tenant_id, connection_id))
        if cached is not None and cached.fresh_until > time.monotonic():
            cached.release()
            return cached
        flight = (tenant_id, connection_id, purpose)
        loading = self._loading.get(flight)
        if loading is None:
            loading = self._loading[flight] = asyncio.ensure_future(self._load(flight))
            loading.add_done_callback(_retrieved)
        target = await asyncio.shield(loading)  # a caller that gives up leaves the others theirs
        target.release()
        return target

    async def _load(self, flight: tuple[str, str, str]) -> Target:
        tenant_id, connection_id, purpose = flight
        key = (tenant_id, connection_id)
        this = asyncio.current_task()
        try:
            async with self.db.transaction(write=False) as tx:
                connection = await tx.connections.get(tenant_id, connection_id)
            if connection is None:
                self._cache.pop(key, None)
                raise not_found(connection_id)
            target = await self._resolve(connection, purpose)
            if self.ttl > 0 and self._loading.get(flight) is this:  # not forgotten meanwhile
                self._cache[key] = target
                self._cache.move_to_end(key)
                while len(self._cache) > MAX_TARGETS:
                    self._cache.popitem(last=False)
            return target
        finally:
            if self._loading.get(flight) is this:
                del self._loading[flight]

    async def _resolve(self, connection: Connection, purpose: str) -> Target:
        if connection.status != "active":
            raise not_active(connection)
        accessor = Accessor(f"connection:{connection.id}", purpose)
        connection, credentials = await self.refresher.credentials(connection, accessor)
        definition = await self.catalog.definition(connection.tenant_id, connection.connector_id)
        method = definition.method(connection.auth_type)
        headers: list[tuple[str, str]] = []
        query: tuple[tuple[str, str], ...] = ()
        base_url = None
        if definition.proxy is not None:
            base_url = templates.render(definition.proxy.base_url, connection.config, url_component=True)
            headers += [
                (name, templates.render(value, connection.config))
                for name, value in definition.proxy.headers.items()
            ]
        oauth1_keys = None
        if isinstance(method, OAuth1):
            oauth1_keys = await self._oauth1_keys(connection, credentials)
        elif credentials:
            injected = inject.apply(getattr(method, "inject", None), credentials, connection.config)
            headers += list(injected.headers.items())
            query = tuple(injected.query.items())
        limits = definition.rate_limits
        per_tenant = bool(limits and limits.per == "tenant")
        tenant, provider = connection.tenant_id, connection.connector_id
        return Target(
            connection=connection,
            definition=definition,
            base_url=base_url.rstrip("/") if base_url else None,
            headers=tuple(headers),
            query=query,
            oauth1=oauth1_keys,
            credentials=credentials,
            rates=tuple(rates_from(limits)) if limits else (),
            rates_per_tenant=per_tenant,
            fresh_until=time.monotonic() + self._lifetime(connection, method),
            header_names=frozenset(name.lower() for name, _ in headers),
            encoded_query=urlencode(query) if query else "",
            retry_statuses=frozenset(definition.retry.retryable_statuses),
            limit_key=f"provider:{tenant}:{provider}" if per_tenant else f"connection:{connection.id}",
            tenant_limit_key=f"tenant:{tenant}",
            breaker_key=f"{tenant}:{provider}",
        )

    def _lifetime(self, connection: Connection, method: object) -> float:
        """The cache lifetime: ``ttl``, but never past the moment the token becomes due for refresh."""
        lifetime = self.ttl
        if connection.expires_at is not None and isinstance(method, OAuth2 | OAuth2ClientCredentials):
            due = connection.expires_at - timedelta(seconds=method.expiry_buffer_seconds)
            lifetime = min(lifetime, max((due - utcnow()).total_seconds(), 0.0))
        return lifetime

    async def _oauth1_keys(self, connection: Connection, credentials: dict[str, Any]) -> OAuth1Keys:
        async with self.db.transaction(write=False) as tx:
            integration = await tx.integrations.get_by_id(connection.tenant_id, connection.integration_id)
        if integration is None:
            raise not_found(connection.id)
        secret = await self.integrations.client_secret(integration, "proxy.oauth1_sign")
        return OAuth1Keys(
            integration.client_id or "",
            secret or "",
            str(credentials.get("oauth_token", "")),
            str(credentials.get("oauth_token_secret", "")),
        )
