"""Repositories for uploaded connector packages and their versions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from switchyard.adapters.db.rows import model_of, to_columns
from switchyard.adapters.db.tables import package_versions, packages
from switchyard.core.models import Package, PackageVersion

_package = model_of(Package)
_version = model_of(PackageVersion)
_FIXED = frozenset({"id", "tenant_id", "name", "created_at"})


class SqlPackages:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, package: Package) -> None:
        await self.conn.execute(packages.insert().values(**to_columns(package, packages)))

    async def get(self, tenant_id: str, name_or_id: str) -> Package | None:
        column = packages.c.id if name_or_id.startswith("pkg_") else packages.c.name
        query = packages.select().where(packages.c.tenant_id == tenant_id, column == name_or_id)
        row = (await self.conn.execute(query)).first()
        return _package(row) if row else None

    async def all(self, tenant_id: str) -> list[Package]:
        query = packages.select().where(packages.c.tenant_id == tenant_id).order_by(packages.c.name)
        return [_package(row) for row in (await self.conn.execute(query)).all()]

    async def update(self, package: Package) -> None:
        await self.conn.execute(
            packages.update()
            .where(packages.c.tenant_id == package.tenant_id, packages.c.id == package.id)
            .values(**to_columns(package, packages, exclude=_FIXED))
        )

    async def delete(self, tenant_id: str, package_id: str) -> None:
        await self.conn.execute(
            package_versions.delete().where(
                package_versions.c.tenant_id == tenant_id, package_versions.c.package_id == package_id
            )
        )
        await self.conn.execute(
            packages.delete().where(packages.c.tenant_id == tenant_id, packages.c.id == package_id)
        )

    async def add_version(self, version: PackageVersion) -> None:
        await self.conn.execute(package_versions.insert().values(**to_columns(version, package_versions)))

    async def replace_version(self, version: PackageVersion) -> None:
        """Overwrite a stored version's row (an upload forced over the same version number)."""
        await self.conn.execute(
            package_versions.update()
            .where(
                package_versions.c.tenant_id == version.tenant_id,
                package_versions.c.package_id == version.package_id,
                package_versions.c.version == version.version,
            )
            .values(**to_columns(version, package_versions, exclude=frozenset({"id", "tenant_id"})))
        )

    async def versions(self, tenant_id: str, package_id: str) -> list[PackageVersion]:
        """Every stored version, in upload order (callers sort by semantic version)."""
        query = (
            package_versions.select()
            .where(package_versions.c.tenant_id == tenant_id, package_versions.c.package_id == package_id)
            .order_by(package_versions.c.uploaded_at, package_versions.c.id)
        )
        return [_version(row) for row in (await self.conn.execute(query)).all()]

    async def version(self, tenant_id: str, package_id: str, version: str) -> PackageVersion | None:
        query = package_versions.select().where(
            package_versions.c.tenant_id == tenant_id,
            package_versions.c.package_id == package_id,
            package_versions.c.version == version,
        )
        row = (await self.conn.execute(query)).first()
        return _version(row) if row else None
