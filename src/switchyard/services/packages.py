"""Uploaded connector packages: validate, store, version, roll back, delete (seed 000's lifecycle).

An upload is checked in full before anything is kept: the archive (paths, sizes, zip bombs), the manifest,
and, when the package carries code, that the code imports inside the sandbox and defines every hook its
actions declare. Only then is the archive written to the package store (``<tenant>/<name>-v<version>.zip``)
and the rows added; if the rows cannot be written the new archive is removed again.

The package's current version owns the tenant's definition of the connector (``connector_definitions``
with ``package_id``), so the catalog, connect flows, the proxy and actions see it like any definition. An
upload or a rollback swaps the current version and that definition in one transaction: a call already
running finishes on the version it started with, the next one uses the new one. Afterwards the listeners
in ``changed`` are told, so cached targets are dropped and idle sandboxes of the old version retired.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict, NotFound, SwitchyardError
from switchyard.core.ids import new_id
from switchyard.core.manifest.loader import load
from switchyard.core.manifest.schema import Definition
from switchyard.core.models import ConnectorOverride, Package, PackageVersion, Principal
from switchyard.core.packages import (
    InspectedPackage,
    PackageLimits,
    inspect_package,
    is_newer,
    object_key,
    semver_key,
)
from switchyard.core.scopes import Scope
from switchyard.io_ports import PackageStore
from switchyard.logs import get_logger
from switchyard.ports import Database, Transaction
from switchyard.services.authz import require
from switchyard.services.package_code import PackageCode, read_archive

log = get_logger("switchyard.packages")


@dataclass(frozen=True)
class PackageView:
    package: Package
    versions: list[PackageVersion]  # newest semantic version first

    @property
    def latest_version(self) -> str:
        return self.versions[0].version if self.versions else self.package.current_version


@dataclass(frozen=True)
class Uploaded:
    view: PackageView
    version: PackageVersion


def package_not_found(name: str) -> NotFound:
    return NotFound(
        f"no package {name!r}",
        code="package.not_found",
        remediation="List the uploaded packages with GET /api/v1/packages.",
    )


def version_not_found(name: str, version: str) -> NotFound:
    return NotFound(
        f"package {name!r} has no version {version!r}",
        code="package.version_not_found",
        remediation=f"List its versions with GET /api/v1/packages/{name}/versions.",
    )


def newest_first(versions: list[PackageVersion]) -> list[PackageVersion]:
    return sorted(versions, key=lambda v: semver_key(v.version), reverse=True)


class PackagesService:
    def __init__(self, db: Database, store: PackageStore, code: PackageCode, limits: PackageLimits) -> None:
        self.db = db
        self.store = store
        self.code = code
        self.limits = limits
        self.changed: list[Callable[[str, str], None]] = []  # told (tenant id, connector id) after a swap

    async def upload(self, principal: Principal, data: bytes, *, force: bool = False) -> Uploaded:
        require(principal, Scope.CONNECTORS_WRITE)
        tenant_id = principal.tenant_id
        inspected = inspect_package(data, self.limits)
        definition = inspected.definition
        async with self.db.transaction(write=False) as tx:
            await self._check_name(tx, tenant_id, definition.name)
            package = await tx.packages.get(tenant_id, definition.name)
            existing = await tx.packages.versions(tenant_id, package.id) if package else []
        _check_version(definition.name, definition.version, existing, force=force)
        if inspected.has_code:
            await self.code.check(tenant_id, inspected, data)
        key = object_key(tenant_id, definition.name, definition.version)
        replaced = any(v.version == definition.version for v in existing)
        await self.store.put(key, data)
        try:
            uploaded = await self._record(principal, inspected, key)
        except BaseException:
            if not replaced:  # a forced replacement's archive stays: its row still names it
                await self.store.delete(key)
            raise
        self._tell(tenant_id, definition.name)
        log.info(
            "package.uploaded",
            package=definition.name,
            version=definition.version,
            size=inspected.size,
            forced=force,
        )
        return uploaded

    async def _record(self, principal: Principal, inspected: InspectedPackage, key: str) -> Uploaded:
        tenant_id, definition, now = principal.tenant_id, inspected.definition, utcnow()
        async with self.db.transaction() as tx:
            await self._check_name(tx, tenant_id, definition.name)
            package = await tx.packages.get(tenant_id, definition.name)
            if package is None:
                package = Package(
                    id=new_id("pkg"),
                    tenant_id=tenant_id,
                    name=definition.name,
                    display_name=definition.display_name,
                    description=definition.description,
                    current_version=definition.version,
                    created_at=now,
                    updated_at=now,
                )
                await tx.packages.add(package)
            version = PackageVersion(
                id=new_id("pkv"),
                tenant_id=tenant_id,
                package_id=package.id,
                version=definition.version,
                sha256=inspected.sha256,
                size=inspected.size,
                object_key=key,
                manifest=inspected.manifest_source,
                actions=[action.name for action in definition.actions],
                has_code=inspected.has_code,
                uploaded_at=now,
            )
            if await tx.packages.version(tenant_id, package.id, definition.version) is None:
                await tx.packages.add_version(version)
            else:
                await tx.packages.replace_version(version)
            package = await self._activate(tx, package, version)
            versions = newest_first(await tx.packages.versions(tenant_id, package.id))
        return Uploaded(PackageView(package, versions), version)

    async def _activate(self, tx: Transaction, package: Package, version: PackageVersion) -> Package:
        """Make ``version`` current: the package row and the tenant definition it owns, together."""
        definition = inspect_manifest(version)
        now = utcnow()
        current = Package(
            id=package.id,
            tenant_id=package.tenant_id,
            name=package.name,
            display_name=definition.display_name,
            description=definition.description,
            current_version=version.version,
            created_at=package.created_at,
            updated_at=now,
        )
        await tx.packages.update(current)
        owned = await tx.connector_definitions.get(package.tenant_id, package.name)
        override = ConnectorOverride(
            id=owned.id if owned else new_id("cdf"),
            tenant_id=package.tenant_id,
            connector_id=package.name,
            version=version.version,
            source=version.manifest,
            created_at=owned.created_at if owned else now,
            updated_at=now,
            package_id=package.id,
        )
        if owned is None:
            await tx.connector_definitions.add(override)
        else:
            await tx.connector_definitions.replace(override)
        return current

    @staticmethod
    async def _check_name(tx: Transaction, tenant_id: str, name: str) -> None:
        owned = await tx.connector_definitions.get(tenant_id, name)
        if owned is not None and owned.package_id is None:
            raise Conflict(
                f"the tenant already has its own definition named {name!r}",
                code="package.name_taken",
                remediation=f"Remove it with DELETE /api/v1/connectors/{name}, or rename the package.",
            )

    async def list(self, tenant_id: str) -> list[PackageView]:
        async with self.db.transaction(write=False) as tx:
            packages = await tx.packages.all(tenant_id)
            return [
                PackageView(package, newest_first(await tx.packages.versions(tenant_id, package.id)))
                for package in packages
            ]

    async def get(self, tenant_id: str, name: str) -> PackageView:
        async with self.db.transaction(write=False) as tx:
            package = await tx.packages.get(tenant_id, name)
            if package is None:
                raise package_not_found(name)
            return PackageView(package, newest_first(await tx.packages.versions(tenant_id, package.id)))

    async def download(
        self, tenant_id: str, name: str, version: str | None = None
    ) -> tuple[PackageVersion, bytes]:
        """A version's archive (the current one by default), checked against the digest taken on upload."""
        async with self.db.transaction(write=False) as tx:
            package = await tx.packages.get(tenant_id, name)
            if package is None:
                raise package_not_found(name)
            wanted = version or package.current_version
            found = await tx.packages.version(tenant_id, package.id, wanted)
        if found is None:
            raise version_not_found(package.name, wanted)
        return found, await read_archive(self.store, found)

    async def rollback(self, principal: Principal, name: str, version: str) -> PackageView:
        require(principal, Scope.CONNECTORS_WRITE)
        tenant_id = principal.tenant_id
        async with self.db.transaction() as tx:
            package = await tx.packages.get(tenant_id, name)
            if package is None:
                raise package_not_found(name)
            target = await tx.packages.version(tenant_id, package.id, version)
            if target is None:
                raise version_not_found(package.name, version)
            package = await self._activate(tx, package, target)
            versions = newest_first(await tx.packages.versions(tenant_id, package.id))
        self._tell(tenant_id, package.name)
        log.info("package.rolled_back", package=package.name, version=version)
        return PackageView(package, versions)

    async def delete(self, principal: Principal, name: str) -> None:
        """The package, every version's row and archive, and the definition it owned."""
        require(principal, Scope.CONNECTORS_WRITE)
        tenant_id = principal.tenant_id
        async with self.db.transaction() as tx:
            package = await tx.packages.get(tenant_id, name)
            if package is None:
                raise package_not_found(name)
            versions = await tx.packages.versions(tenant_id, package.id)
            owned = await tx.connector_definitions.get(tenant_id, package.name)
            if owned is not None and owned.package_id == package.id:
                await tx.connector_definitions.delete(tenant_id, package.name)
            await tx.packages.delete(tenant_id, package.id)
        self._tell(tenant_id, package.name)
        for version in versions:
            try:
                await self.store.delete(version.object_key)
            except SwitchyardError as exc:  # the rows are gone; an orphan archive is only storage
                log.warning("package.archive_not_deleted", key=version.object_key, code=exc.code)
        log.info("package.deleted", package=package.name, versions=len(versions))

    def _tell(self, tenant_id: str, connector_id: str) -> None:
        for listener in self.changed:
            listener(tenant_id, connector_id)


def _check_version(name: str, version: str, existing: list[PackageVersion], *, force: bool) -> None:
    if force or not existing:
        return
    if any(v.version == version for v in existing):
        raise Conflict(
            f"{name} {version} is already uploaded",
            code="package.version_exists",
            remediation="Raise the version in manifest.json, or upload with --force to replace it.",
        )
    latest = newest_first(existing)[0].version
    if not is_newer(version, latest):
        raise Conflict(
            f"{name} {version} is not newer than the latest version, {latest}",
            code="package.version_not_newer",
            remediation="Raise the version in manifest.json, or upload with --force.",
        )


def inspect_manifest(version: PackageVersion) -> Definition:
    return load(version.manifest, f"{version.object_key} (manifest.json)")
