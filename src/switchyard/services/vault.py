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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from switchyard import context
from switchyard.core import crypto
from switchyard.core.clock import utcnow
from switchyard.core.crypto import Binding
from switchyard.core.errors import SwitchyardError, Unavailable
from switchyard.core.ids import new_id
from switchyard.core.models import AccessRecord, VaultItem
from switchyard.io_ports import CiphertextStore
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services.keyring import Keyring

Owner = tuple[str, str]  # (owner kind, owner id): whose value an item is


def binding_of(item: VaultItem) -> Binding:
    """The binding an item was sealed with, as its own row records it (used by rotation only)."""
    return Binding(item.tenant_id, item.owner_kind, item.owner_id)


@dataclass(frozen=True)
class Accessor:
    """Who opens a value and why; both land in the access audit."""

    actor: str
    purpose: str


log = get_logger("switchyard.vault")


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
        blob = crypto.seal(plaintext, key, Binding(tenant_id, owner_kind, owner_id))
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

    async def open(
        self, items: Sequence[VaultItem], accessor: Accessor, owners: Mapping[str, Owner]
    ) -> dict[str, bytes]:
        """Decrypt ``items`` of one tenant, each as the value of ``owners[item.id]`` (kind, id).

        The binding comes from the caller's row (the secret version, the connection), not from the item
        row itself: an item moved under another owner in the database does not decrypt. Every attempt is
        audited before anything is returned; when one item fails, nothing is released.
        """
        if not items:
            return {}
        tenant_id = items[0].tenant_id
        if any(item.tenant_id != tenant_id for item in items):
            raise ValueError("Vault.open takes the items of one tenant")
        plaintexts: dict[str, bytes] = {}
        failure: tuple[VaultItem, SwitchyardError] | None = None
        for item in items:
            try:
                plaintexts[item.id] = await self._decrypt(item, Binding(tenant_id, *owners[item.id]))
            except SwitchyardError as exc:
                failure = (item, exc)
                break
        await self._audit(items, plaintexts, failure, accessor, owners)
        if failure is not None:
            raise failure[1]
        for value in plaintexts.values():
            context.release(value.decode("utf-8", errors="replace"))
        return plaintexts

    def store_of(self, item: VaultItem) -> CiphertextStore:
        store = self.stores.get(item.store)
        if store is None:
            raise Unavailable(
                f"vault item {item.id} is kept in the {item.store!r} credential store, which is not configured",
                code="credential_store.unavailable",
                remediation="Set SWITCHYARD_CREDENTIAL_STORE_URL (and its token) again.",
            )
        return store

    async def _decrypt(self, item: VaultItem, binding: Binding) -> bytes:
        blob = await self.store_of(item).get(item)
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
        owners: Mapping[str, Owner],
    ) -> None:
        now = utcnow()
        rid = context.request_id.get()

        def record(item: VaultItem, outcome: str, code: str | None) -> AccessRecord:
            kind, owner_id = owners[item.id]
            return AccessRecord(
                id=new_id("acc"),
                tenant_id=item.tenant_id,
                item_id=item.id,
                owner_kind=kind,
                owner_id=owner_id,
                actor=accessor.actor,
                purpose=accessor.purpose,
                outcome=outcome,
                at=now,
                error_code=code,
                request_id=rid,
            )

        if failure is not None:  # nothing is released, so only the failure is recorded
            records = [record(failure[0], "failed", failure[1].code)]
        else:
            records = [record(item, "ok", None) for item in items]
        # Insert-only: a hot secret read by many requests takes no row lock anywhere.
        async with self.db.transaction() as tx:
            await tx.access_log.append(records)

    async def destroy(self, items: Sequence[VaultItem]) -> None:
        """Drop blobs from external stores after their rows are gone (database blobs went with the row).

        Best effort: the rows are already deleted, so a store that fails now leaves an orphaned ciphertext,
        logged with its id, rather than an error for a deletion that did happen.
        """
        self.cache.forget([item.id for item in items])
        for item in items:
            try:
                await self.store_of(item).delete(item.tenant_id, item.id)
            except SwitchyardError as exc:
                log.warning("vault.orphaned_blob", item_id=item.id, store=item.store, code=exc.code)
