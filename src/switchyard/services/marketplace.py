"""The console's marketplace: catalog entries with what this tenant has made of each connector."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from switchyard.core.models import ConnectorUsage, Principal
from switchyard.core.scopes import Scope
from switchyard.ports import Database
from switchyard.services.authz import require
from switchyard.services.catalog import CatalogEntry, CatalogFilter, CatalogService

STATUSES = ("connected", "attention", "configured", "available")


@dataclass(frozen=True)
class Listing:
    entry: CatalogEntry
    integrations: int
    usage: ConnectorUsage

    @property
    def status(self) -> str:
        """connected (live connections), attention (some in error), configured (an integration, no
        connection yet) or available."""
        if self.usage.errors:
            return "attention"
        if self.usage.connections:
            return "connected"
        return "configured" if self.integrations else "available"

    @property
    def last_used_at(self) -> datetime | None:
        return self.usage.last_used_at


@dataclass(frozen=True)
class Shelf:
    category: str
    listings: list[Listing]


class Marketplace:
    def __init__(self, db: Database, catalog: CatalogService) -> None:
        self.db = db
        self.catalog = catalog

    async def listings(
        self, principal: Principal, where: CatalogFilter, *, status: str | None = None
    ) -> list[Listing]:
        require(principal, Scope.INTEGRATIONS_READ)
        entries = await self.catalog.list(principal.tenant_id, where)
        async with self.db.transaction(write=False) as tx:
            configured: dict[str, int] = {}
            for integration in await tx.integrations.all(principal.tenant_id):
                configured[integration.connector_id] = configured.get(integration.connector_id, 0) + 1
            usage = await tx.connections.usage_by_connector(principal.tenant_id)
        found = [
            Listing(entry, configured.get(entry.definition.name, 0), usage.get(entry.definition.name, NO_USE))
            for entry in entries
        ]
        return [listing for listing in found if status is None or listing.status == status]

    async def shelves(
        self, principal: Principal, where: CatalogFilter, *, status: str | None = None
    ) -> list[Shelf]:
        """The listings grouped by their first category (alphabetical; uncategorised last)."""
        grouped: dict[str, list[Listing]] = {}
        for listing in await self.listings(principal, where, status=status):
            categories = listing.entry.definition.categories
            grouped.setdefault(str(categories[0]) if categories else "other", []).append(listing)
        order = sorted(grouped, key=lambda name: (name == "other", name))
        return [Shelf(name, grouped[name]) for name in order]

    async def categories(self, principal: Principal) -> list[str]:
        require(principal, Scope.INTEGRATIONS_READ)
        entries = await self.catalog.list(principal.tenant_id)
        return sorted({str(c) for entry in entries for c in entry.definition.categories})


NO_USE = ConnectorUsage(connections=0, errors=0, last_used_at=None)
