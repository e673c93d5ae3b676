"""The connector catalog a tenant sees: the built-in definitions, plus and over them the tenant's own.

A tenant adds or overrides a definition through the API without a release; removing the override brings
the built-in definition back. Definitions are stored as their source text and parsed when read, with a
small cache keyed by (tenant, connector, last update).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict, InvalidInput, NotFound
from switchyard.core.ids import new_id
from switchyard.core.manifest.loader import load
from switchyard.core.manifest.schema import Definition
from switchyard.core.models import ConnectorOverride, Principal
from switchyard.core.scopes import Scope
from switchyard.ports import Database
from switchyard.services.authz import require

BUILTIN = "builtin"
TENANT = "tenant"
PACKAGE = "package"  # a tenant definition owned by an uploaded package's current version


@dataclass(frozen=True)
class CatalogEntry:
    definition: Definition
    source: str  # "builtin", "tenant" or "package"
    overrides_builtin: bool = False


@dataclass(frozen=True)
class CatalogFilter:
    category: str | None = None
    q: str | None = None
    auth: str | None = None

    def matches(self, definition: Definition) -> bool:
        if self.category and self.category not in definition.categories:
            return False
        if self.auth and self.auth not in definition.auth_types():
            return False
        if self.q:
            needle = self.q.casefold()
            haystack = " ".join(
                [definition.name, definition.display_name, definition.description, *definition.capabilities]
            )
            if needle not in haystack.casefold():
                return False
        return True


def connector_not_found(connector_id: str) -> NotFound:
    return NotFound(
        f"no connector {connector_id!r}",
        code="connector.not_found",
        remediation="List the available connectors with GET /api/v1/connectors.",
    )


def package_owned(connector_id: str) -> Conflict:
    return Conflict(
        f"{connector_id!r} belongs to an uploaded package",
        code="connector.package_owned",
        remediation=f"Upload a new version, roll back or delete it under /api/v1/packages/{connector_id}.",
    )


class CatalogService:
    def __init__(self, db: Database, builtin: Mapping[str, Definition]) -> None:
        self.db = db
        self.builtin = dict(builtin)
        self._parsed: dict[tuple[str, str, datetime], Definition] = {}

    def _parse(self, override: ConnectorOverride) -> Definition:
        key = (override.tenant_id, override.connector_id, override.updated_at)
        if key not in self._parsed:
            self._parsed[key] = load(override.source, f"{override.connector_id} (tenant definition)")
        return self._parsed[key]

    def _entry(self, override: ConnectorOverride) -> CatalogEntry:
        source = PACKAGE if override.package_id else TENANT
        return CatalogEntry(self._parse(override), source, override.connector_id in self.builtin)

    async def list(self, tenant_id: str, where: CatalogFilter | None = None) -> list[CatalogEntry]:
        async with self.db.transaction(write=False) as tx:
            overrides = {o.connector_id: o for o in await tx.connector_definitions.all(tenant_id)}
        entries = {cid: CatalogEntry(d, BUILTIN) for cid, d in self.builtin.items()}
        entries.update({cid: self._entry(o) for cid, o in overrides.items()})
        chosen = where or CatalogFilter()
        return [entries[cid] for cid in sorted(entries) if chosen.matches(entries[cid].definition)]

    async def get(self, tenant_id: str, connector_id: str) -> CatalogEntry:
        async with self.db.transaction(write=False) as tx:
            override = await tx.connector_definitions.get(tenant_id, connector_id)
        if override is not None:
            return self._entry(override)
        if connector_id in self.builtin:
            return CatalogEntry(self.builtin[connector_id], BUILTIN)
        raise connector_not_found(connector_id)

    async def definition(self, tenant_id: str, connector_id: str) -> Definition:
        return (await self.get(tenant_id, connector_id)).definition

    async def put(self, principal: Principal, connector_id: str, source: str) -> CatalogEntry:
        """Add or replace the tenant's definition of ``connector_id`` (YAML or JSON text)."""
        require(principal, Scope.CONNECTORS_WRITE)
        definition = load(source, f"{connector_id} (tenant definition)")
        if definition.name != connector_id:
            raise InvalidInput(
                f"the definition is named {definition.name!r}, not {connector_id!r}",
                code="connector.name_mismatch",
            )
        now = utcnow()
        async with self.db.transaction() as tx:
            existing = await tx.connector_definitions.get(principal.tenant_id, connector_id)
            if existing is not None and existing.package_id is not None:
                raise package_owned(connector_id)
            override = ConnectorOverride(
                id=existing.id if existing else new_id("cdf"),
                tenant_id=principal.tenant_id,
                connector_id=connector_id,
                version=definition.version,
                source=source,
                created_at=existing.created_at if existing else now,
                updated_at=now,
            )
            if existing:
                await tx.connector_definitions.replace(override)
            else:
                await tx.connector_definitions.add(override)
        return self._entry(override)

    async def delete(self, principal: Principal, connector_id: str) -> None:
        """Remove the tenant's definition; a built-in one with the same id shows again."""
        require(principal, Scope.CONNECTORS_WRITE)
        async with self.db.transaction() as tx:
            existing = await tx.connector_definitions.get(principal.tenant_id, connector_id)
            if existing is not None and existing.package_id is not None:
                raise package_owned(connector_id)
            removed = await tx.connector_definitions.delete(principal.tenant_id, connector_id)
        if not removed:
            if connector_id in self.builtin:
                raise NotFound(
                    f"{connector_id!r} is built in and has no tenant definition to remove",
                    code="connector.not_overridden",
                )
            raise connector_not_found(connector_id)
