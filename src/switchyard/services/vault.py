"""The vault: seals values for an owner, opens them for an accessor, and audits every opening.

``seal`` encrypts under the active master key and puts the blob in the configured store; the caller adds the
returned item in its own transaction. ``open`` decrypts a set of items for one purpose: each attempt, failed
or not, is appended to the access audit with who, why and the request id before any plaintext is returned,
and every released value is registered for log redaction.

Items are immutable: a new value is a new item. Only rotation rewrites an item (same value, new key wrap),
bumping its ``revision``.

A small in-process cache keeps blobs' data keys for ``cache_ttl`` seconds so that hot credentials skip the
key unwrap; it is keyed by (item id, revision), so a changed item never hits a stale entry.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from switchyard import context
from switchyard.core import crypto
from switchyard.core.clock import utcnow
from switchyard.core.errors import SwitchyardError
from switchyard.core.ids import new_id
from switchyard.core.models import AccessRecord, VaultItem
from switchyard.ports import CiphertextStore, Database
from switchyard.services.keyring import Keyring


def binding_of(item: VaultItem) -> crypto.Binding:
    return crypto.Binding(item.tenant_id, item.owner_kind, item.owner_id)


@dataclass(frozen=True)
class Accessor:
    """Who opens a value and why; both land in the access audit."""

    actor: str
    purpose: str


class DataKeyCache:
    """LRU of unwrapped data keys with a time limit; ``ttl == 0`` disables it."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[tuple[str, int], tuple[float, bytes]] = OrderedDict()

    def get(self, item: VaultItem) -> bytes | None:
        entry = self._entries.get((item.id, item.revision))
        if entry is None:
            return None
        stored_at, dek = entry
        if time.monotonic() - stored_at > self.ttl:
            del self._entries[(item.id, item.revision)]
            return None
        self._entries.move_to_end((item.id, item.revision))
        return dek

    def put(self, item: VaultItem, dek: bytes) -> None:
        if self.ttl <= 0 or self.size <= 0:
            return
        self._entries[(item.id, item.revision)] = (time.monotonic(), dek)
        self._entries.move_to_end((item.id, item.revision))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, item_ids: Sequence[str]) -> None:
        doomed = set(item_ids)
        for key in [key for key in self._entries if key[0] in doomed]:
            del self._entries[key]


class Vault:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        stores: dict[str, CiphertextStore],
        *,
        default_store: str = "database",
        cache: DataKeyCache | None = None,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.stores = stores
        self.default_store = default_store
        self.cache = cache or DataKeyCache(ttl=0, size=0)

    async def seal(self, tenant_id: str, owner_kind: str, owner_id: str, plaintext: bytes) -> VaultItem:
        """Encrypt and store a value; the caller adds the returned item inside its transaction."""
        key = await self.keyring.active_key()
        item_id = new_id("vlt")
        blob = crypto.seal(plaintext, key, crypto.Binding(tenant_id, owner_kind, owner_id))
        store = self.stores[self.default_store]
        kept = await store.put(tenant_id, item_id, blob)
        return VaultItem(
            id=item_id,
            tenant_id=tenant_id,
            owner_kind=owner_kind,
            owner_id=owner_id,
            key_id=key.key_id,
            store=store.name,
            ciphertext=kept,
            revision=1,
        )

    async def open(self, items: Sequence[VaultItem], accessor: Accessor) -> dict[str, bytes]:
        """Decrypt ``items`` (of one tenant); every attempt is audited before anything is returned."""
        if not items:
            return {}
        tenant_id = items[0].tenant_id
        if any(item.tenant_id != tenant_id for item in items):
            raise ValueError("Vault.open takes the items of one tenant")
        plaintexts: dict[str, bytes] = {}
        failure: tuple[VaultItem, SwitchyardError] | None = None
        for item in items:
            try:
                plaintexts[item.id] = await self._decrypt(item)
            except SwitchyardError as exc:
                failure = (item, exc)
                break
        await self._audit(items, plaintexts, failure, accessor)
        if failure is not None:
            raise failure[1]
        for value in plaintexts.values():
            context.release(value.decode("utf-8", errors="replace"))
        return plaintexts

    async def _decrypt(self, item: VaultItem) -> bytes:
        blob = await self.stores[item.store].get(item)
        binding = binding_of(item)
        dek = self.cache.get(item)
        if dek is None:
            self.keyring.knows(crypto.key_id_of(blob))  # reloads the key source for a new key id
            dek = crypto.unwrap_data_key(blob, self.keyring.keys, binding)
            self.cache.put(item, dek)
        return crypto.open_with_data_key(blob, dek, binding)

    async def _audit(
        self,
        items: Sequence[VaultItem],
        plaintexts: dict[str, bytes],
        failure: tuple[VaultItem, SwitchyardError] | None,
        accessor: Accessor,
    ) -> None:
        now = utcnow()
        rid = context.request_id.get()
        attempted = [item for item in items if item.id in plaintexts]
        records = [self._record(item, accessor, now, rid, "ok", None) for item in attempted]
        if failure is not None:
            records.append(self._record(failure[0], accessor, now, rid, "failed", failure[1].code))
        # Insert-only: a hot secret read by many requests takes no row lock anywhere.
        async with self.db.transaction() as tx:
            await tx.access_log.append(records)

    @staticmethod
    def _record(
        item: VaultItem, accessor: Accessor, now: datetime, rid: str | None, outcome: str, code: str | None
    ) -> AccessRecord:
        return AccessRecord(
            id=new_id("acc"),
            tenant_id=item.tenant_id,
            item_id=item.id,
            owner_kind=item.owner_kind,
            owner_id=item.owner_id,
            actor=accessor.actor,
            purpose=accessor.purpose,
            outcome=outcome,
            at=now,
            error_code=code,
            request_id=rid,
        )

    async def destroy(self, items: Sequence[VaultItem]) -> None:
        """Remove blobs from external stores after their rows are gone; database blobs go with the row."""
        self.cache.forget([item.id for item in items])
        for item in items:
            await self.stores[item.store].delete(item.tenant_id, item.id)
