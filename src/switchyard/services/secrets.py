"""The secrets manager (seed 001): tenant-scoped named secrets with types, versions and expiry.

Values are sealed by the vault with the owner (secret_version, <version id>); a version is never changed,
an update adds one. Reads are masked from a mask computed when the version was written, so listing and
masked reads never decrypt; revealing needs ``secrets:reveal`` and is audited like every decrypt.
``resolve`` turns a configuration holding ``{"secret_name": ...}`` references into plaintext for one call.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from switchyard.core import refs
from switchyard.core import secrets as rules
from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict, InvalidInput, NotFound
from switchyard.core.ids import new_id
from switchyard.core.masking import mask, shown
from switchyard.core.models import AccessRecord, Page, Principal, Secret, SecretVersion, VaultItem
from switchyard.core.scopes import Scope
from switchyard.ports import Database, Transaction
from switchyard.services.authz import require
from switchyard.services.vault import Accessor, Vault

OWNER_KIND = "secret_version"
MAX_PAGE = 200


@dataclass(frozen=True)
class SecretView:
    secret: Secret
    version: SecretVersion
    value: str
    revealed: bool
    status: str


@dataclass(frozen=True)
class SecretChanges:
    """A partial update: ``fields`` names what the caller set (so ``None`` can clear a date)."""

    fields: frozenset[str]
    value: str | None = None
    type: str | None = None
    description: str | None = None
    expires_at: datetime | None = None
    rotation_due_at: datetime | None = None


@dataclass(frozen=True)
class AccessLog:
    access_count: int
    last_accessed_at: datetime | None
    entries: Page[AccessRecord]
    versions: dict[str, int]  # item id -> version number


_Resolved = tuple[Secret, SecretVersion, VaultItem]


class _ReferenceCache:
    """(tenant, name, version) -> rows, for ``cache_ttl`` seconds; writes in this process invalidate.

    Other processes see a change within ``cache_ttl`` (30 s by default; 0 turns caching off).
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: OrderedDict[tuple[str, refs.SecretRef], tuple[float, _Resolved]] = OrderedDict()

    def get(self, tenant_id: str, ref: refs.SecretRef) -> _Resolved | None:
        entry = self._entries.get((tenant_id, ref))
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, tenant_id: str, ref: refs.SecretRef, resolved: _Resolved) -> None:
        if self.ttl <= 0:
            return
        self._entries[(tenant_id, ref)] = (time.monotonic(), resolved)
        self._entries.move_to_end((tenant_id, ref))
        while len(self._entries) > self.MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget(self, tenant_id: str, name: str) -> None:
        for key in [key for key in self._entries if key[0] == tenant_id and key[1].name == name]:
            del self._entries[key]


class SecretsService:
    def __init__(self, db: Database, vault: Vault, *, cache_ttl: float = 0.0) -> None:
        self.db = db
        self.vault = vault
        self._refs = _ReferenceCache(cache_ttl)

    # -- writing ---------------------------------------------------------------------------------------

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        value: str,
        type: str = rules.SecretType.GENERIC,
        description: str | None = None,
        expires_at: datetime | None = None,
        rotation_due_at: datetime | None = None,
    ) -> SecretView:
        require(principal, Scope.SECRETS_WRITE)
        tenant_id = principal.tenant_id
        rules.check_name(name)
        secret_type = _check_type(type)
        raw = rules.check_value(value)
        now = utcnow()
        rules.check_dates(expires_at, rotation_due_at, now)
        secret = Secret(
            id=new_id("sec"),
            tenant_id=tenant_id,
            name=name,
            type=secret_type,
            description=description,
            current_version=1,
            expires_at=expires_at,
            rotation_due_at=rotation_due_at,
            created_at=now,
            updated_at=now,
        )
        async with self.db.transaction(write=False) as tx:
            if await tx.secrets.get(tenant_id, name) is not None:
                raise _exists(name)
        version, item = await self._seal_version(secret, 1, value, raw, now)
        try:
            async with self.db.transaction() as tx:
                await tx.secrets.add(secret)
                await tx.vault_items.add(item)
                await tx.secrets.add_version(version)
        except Conflict:
            await self.vault.destroy([item])
            raise _exists(name) from None
        except BaseException:
            await self.vault.destroy([item])
            raise
        return self._view(secret, version, now)

    async def update(self, principal: Principal, name: str, changes: SecretChanges) -> SecretView:
        """Change metadata; a new ``value`` adds a version (older versions stay readable)."""
        require(principal, Scope.SECRETS_WRITE)
        tenant_id = principal.tenant_id
        now = utcnow()
        current = await self._get(tenant_id, name)
        updated = _apply(current, changes, now)
        rules.check_dates(
            updated.expires_at, updated.rotation_due_at, now, expiry_changed="expires_at" in changes.fields
        )
        sealed: tuple[SecretVersion, VaultItem] | None = None
        if changes.value is not None:
            raw = rules.check_value(changes.value)
            number = current.current_version + 1
            sealed = await self._seal_version(updated, number, changes.value, raw, now)
            updated = replace(updated, current_version=number)
        try:
            async with self.db.transaction() as tx:
                if not await tx.secrets.update(updated, expected_version=current.current_version):
                    raise Conflict(
                        f"secret {name!r} was changed by another request; retry",
                        code="secret.concurrent_update",
                    )
                if sealed:
                    await tx.vault_items.add(sealed[1])
                    await tx.secrets.add_version(sealed[0])
                    version = sealed[0]
                else:
                    version = await _version(tx, updated, None)
        except BaseException:
            if sealed:  # outside the transaction: never hold the write lock across store IO
                await self.vault.destroy([sealed[1]])
            raise
        self._refs.forget(tenant_id, name)
        return self._view(updated, version, now)

    async def delete(self, principal: Principal, name: str) -> None:
        """Remove the secret, every version and every ciphertext; the access audit stays."""
        require(principal, Scope.SECRETS_WRITE)
        tenant_id = principal.tenant_id
        async with self.db.transaction() as tx:
            secret = await tx.secrets.get(tenant_id, name)
            if secret is None:
                raise _not_found(name)
            versions = await tx.secrets.list_versions(tenant_id, secret.id)
            items = await tx.vault_items.get_many(tenant_id, [v.item_id for v in versions])
            await tx.secrets.delete(tenant_id, secret.id)
            await tx.vault_items.delete(tenant_id, [item.id for item in items])
        self._refs.forget(tenant_id, name)
        await self.vault.destroy(items)

    async def _seal_version(
        self, secret: Secret, number: int, value: str, raw: bytes, now: datetime
    ) -> tuple[SecretVersion, VaultItem]:
        version_id = new_id("sev")
        item = await self.vault.seal(secret.tenant_id, OWNER_KIND, version_id, raw)
        version = SecretVersion(
            id=version_id,
            secret_id=secret.id,
            tenant_id=secret.tenant_id,
            version=number,
            item_id=item.id,
            masked=mask(value, secret.type),
            created_at=now,
        )
        return version, item

    # -- reading ---------------------------------------------------------------------------------------

    async def get(
        self, principal: Principal, name: str, *, reveal: bool = False, version: int | None = None
    ) -> SecretView:
        require(principal, Scope.SECRETS_READ)
        if reveal:
            require(principal, Scope.SECRETS_REVEAL)
        tenant_id = principal.tenant_id
        async with self.db.transaction(write=False) as tx:
            secret = await tx.secrets.get(tenant_id, name)
            if secret is None:
                raise _not_found(name)
            found = await _version(tx, secret, version)
            items = await tx.vault_items.get_many(tenant_id, [found.item_id]) if reveal else []
        now = utcnow()
        if not reveal:
            return self._view(secret, found, now)
        owners = {found.item_id: (OWNER_KIND, found.id)}
        opened = await self.vault.open(items, Accessor(principal.actor, "secrets.reveal"), owners)
        value = opened[found.item_id].decode("utf-8")
        return SecretView(
            secret, found, value, True, rules.status_of(secret.expires_at, secret.rotation_due_at, now)
        )

    async def list_secrets(self, principal: Principal, *, after: str | None, limit: int) -> Page[SecretView]:
        require(principal, Scope.SECRETS_READ)
        now = utcnow()
        async with self.db.transaction(write=False) as tx:
            page = await tx.secrets.page(principal.tenant_id, after=after, limit=min(limit, MAX_PAGE))
            views = [self._view(s, await _version(tx, s, None), now) for s in page.items]
        return Page(views, page.next_cursor)

    async def versions(self, principal: Principal, name: str) -> tuple[Secret, list[SecretVersion]]:
        require(principal, Scope.SECRETS_READ)
        async with self.db.transaction(write=False) as tx:
            secret = await tx.secrets.get(principal.tenant_id, name)
            if secret is None:
                raise _not_found(name)
            versions = await tx.secrets.list_versions(principal.tenant_id, secret.id)
        return secret, [replace(v, masked=shown(v.masked, secret.type)) for v in versions]

    async def access_log(
        self, principal: Principal, name: str, *, before: str | None, limit: int
    ) -> AccessLog:
        require(principal, Scope.SECRETS_READ)
        tenant_id = principal.tenant_id
        async with self.db.transaction(write=False) as tx:
            secret = await tx.secrets.get(tenant_id, name)
            if secret is None:
                raise _not_found(name)
            versions = await tx.secrets.list_versions(tenant_id, secret.id)
            item_ids = [v.item_id for v in versions]
            count, last = await tx.access_log.summary(tenant_id, item_ids)
            entries = await tx.access_log.page(tenant_id, item_ids, before=before, limit=min(limit, MAX_PAGE))
        return AccessLog(
            access_count=count,
            last_accessed_at=last,
            entries=entries,
            versions={v.item_id: v.version for v in versions},
        )

    async def resolve(
        self,
        tenant_id: str,
        configuration: Mapping[str, Any],
        *,
        accessor: Accessor,
        secrets_references: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A copy of ``configuration`` with every secret reference replaced by its plaintext."""
        merged = refs.merge(configuration, secrets_references)
        wanted = sorted(refs.find(merged))
        if not wanted:
            return merged
        resolved = await self._lookup(tenant_id, wanted)
        now = utcnow()
        for secret, _, _ in resolved.values():
            if rules.status_of(secret.expires_at, None, now) == "expired":
                raise InvalidInput(
                    f"secret {secret.name!r} expired at {secret.expires_at:%Y-%m-%dT%H:%M:%SZ}",
                    code="secret.expired",
                    remediation=f"Set a new value for {secret.name!r} with a later expiry.",
                )
        items = list({item.id: item for _, _, item in resolved.values()}.values())
        owners = {version.item_id: (OWNER_KIND, version.id) for _, version, _ in resolved.values()}
        opened = await self.vault.open(items, accessor, owners)
        values = {ref: opened[item.id].decode("utf-8") for ref, (_, _, item) in resolved.items()}
        result: dict[str, Any] = refs.substitute(merged, values)
        return result

    async def _lookup(self, tenant_id: str, wanted: list[refs.SecretRef]) -> dict[refs.SecretRef, _Resolved]:
        resolved = {ref: hit for ref in wanted if (hit := self._refs.get(tenant_id, ref)) is not None}
        missing = [ref for ref in wanted if ref not in resolved]
        if not missing:
            return resolved
        async with self.db.transaction(write=False) as tx:
            secrets = {s.name: s for s in await tx.secrets.get_many(tenant_id, [r.name for r in missing])}
            absent = sorted({ref.name for ref in missing} - set(secrets))
            if absent:
                raise NotFound(
                    f"no secret named {', '.join(repr(name) for name in absent)}",
                    code="secret.not_found",
                    extra={"missing": absent},
                )
            found = {ref: await _version(tx, secrets[ref.name], ref.version) for ref in missing}
            items = {
                i.id: i for i in await tx.vault_items.get_many(tenant_id, [v.item_id for v in found.values()])
            }
        for ref, version in found.items():
            entry = (secrets[ref.name], version, items[version.item_id])
            self._refs.put(tenant_id, ref, entry)
            resolved[ref] = entry
        return resolved

    @staticmethod
    def _view(secret: Secret, version: SecretVersion, now: datetime) -> SecretView:
        status = rules.status_of(secret.expires_at, secret.rotation_due_at, now)
        return SecretView(secret, version, shown(version.masked, secret.type), False, status)

    async def _get(self, tenant_id: str, name: str) -> Secret:
        async with self.db.transaction(write=False) as tx:
            secret = await tx.secrets.get(tenant_id, name)
        if secret is None:
            raise _not_found(name)
        return secret


async def _version(tx: Transaction, secret: Secret, number: int | None) -> SecretVersion:
    wanted = secret.current_version if number is None else number
    found = await tx.secrets.get_version(secret.tenant_id, secret.id, wanted)
    if found is None:
        raise NotFound(f"secret {secret.name!r} has no version {wanted}", code="secret.version_not_found")
    return found


def _check_type(value: str) -> str:
    try:
        return rules.SecretType(value).value
    except ValueError:
        known = ", ".join(t.value for t in rules.SecretType)
        raise InvalidInput(
            f"unknown secret type {value!r}", code="secret.invalid_type", remediation=f"Use one of: {known}."
        ) from None


def _apply(secret: Secret, changes: SecretChanges, now: datetime) -> Secret:
    values: dict[str, Any] = {"updated_at": now}
    for field in ("description", "expires_at", "rotation_due_at"):
        if field in changes.fields:
            values[field] = getattr(changes, field)
    if "type" in changes.fields and changes.type is not None:
        values["type"] = _check_type(changes.type)
    return replace(secret, **values)


def _exists(name: str) -> Conflict:
    return Conflict(
        f"a secret named {name!r} already exists",
        code="secret.exists",
        remediation="Update it with PUT to add a version.",
    )


def _not_found(name: str) -> NotFound:
    return NotFound(f"no secret named {name!r}", code="secret.not_found")
