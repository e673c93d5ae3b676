"""Online master-key rotation.

1. A new key is added to the key source (generated into the key file, or already in the environment)
   and made active; every process picks it up within ``active_key_ttl`` seconds, and a process that cannot
   load the active key refuses to seal anything rather than seal under an old one.
2. A sweep re-wraps the data key of every item not under the new key, in batches, with a compare-and-swap
   on the item's revision. Values are never decrypted, so nothing is audited as an access. Readers keep
   working throughout: a blob names the key that wrapped it and every configured key can still unwrap.
   An item that cannot be re-wrapped (damaged, or deleted meanwhile) is skipped and reported, never fatal.
3. Sweeps repeat (after waiting out ``active_key_ttl``, for writes that picked the old key just before)
   until one finds nothing. An old key is then marked ``retired`` by one statement that checks, in the same
   transaction, that no item references it. Its material stays in the key file until ``prune``, run later,
   removes retired keys that still wrap nothing: a write that was in flight during rotation can never lose
   its key. ``resume`` finishes an interrupted rotation without making yet another key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from switchyard.core import crypto
from switchyard.core.crypto import MasterKey, new_key_id
from switchyard.core.errors import ConfigurationError, Conflict, SwitchyardError
from switchyard.core.models import VaultItem
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services.keyring import DECRYPT_ONLY, RETIRED, Keyring
from switchyard.services.vault import Vault, binding_of

Progress = Callable[[int, int], None]  # (done, total)
log = get_logger("switchyard.rotation")


@dataclass
class RotationReport:
    new_key_id: str
    previous_key_id: str | None
    rewrapped: int = 0
    passes: int = 0
    retired: list[str] = field(default_factory=list)
    still_referenced: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # item id -> error code


class Rotation:
    def __init__(self, db: Database, keyring: Keyring, vault: Vault, *, batch_size: int = 200) -> None:
        self.db = db
        self.keyring = keyring
        self.vault = vault
        self.batch_size = batch_size

    async def rotate(
        self, *, key_id: str | None = None, progress: Progress | None = None, max_passes: int = 5
    ) -> RotationReport:
        key = await self._new_key(key_id)
        previous = await self.keyring.activate(key)
        return await self._finish(RotationReport(key.key_id, previous), progress, max_passes)

    async def resume(self, *, progress: Progress | None = None, max_passes: int = 5) -> RotationReport:
        """Sweep everything to the key already active (after an interrupted or partial rotation)."""
        active = await self.keyring.active_key()
        return await self._finish(RotationReport(active.key_id, None), progress, max_passes)

    async def _finish(
        self, report: RotationReport, progress: Progress | None, max_passes: int
    ) -> RotationReport:
        await self.sweep(report, progress=progress, max_passes=max_passes)
        await self.retire_unreferenced(report)
        return report

    async def _new_key(self, key_id: str | None) -> MasterKey:
        source = self.keyring.source
        if source.writable:
            taken = set(self.keyring.keys) | {record.key_id for record in await self.keyring.records()}
            if key_id in taken:
                raise Conflict(
                    f"master key id {key_id!r} is already in use",
                    code="vault.key_id_taken",
                    remediation="Choose a new id, or leave --key-id out to get a generated one.",
                )
            key = MasterKey.generate(key_id or new_key_id())
            source.add(key)
            return key
        self.keyring.reload()
        configured = self.keyring.keys
        if key_id is None or key_id not in configured:
            raise ConfigurationError(
                "with SWITCHYARD_MASTER_KEY, rotation needs the id of a new key already configured",
                code="config.master_key_missing",
                remediation="Add 'newid:<base64>' to SWITCHYARD_MASTER_KEY on every node, restart them, "
                "then run: switchyard keys rotate-master --key-id newid",
            )
        return configured[key_id]

    async def sweep(self, report: RotationReport, *, progress: Progress | None, max_passes: int) -> None:
        target = self.keyring.keys[report.new_key_id]
        while report.passes < max_passes:
            report.passes += 1
            total = sum(n for kid, n in (await self._counts()).items() if kid != target.key_id)
            done = await self._one_pass(target, total, progress, report)
            report.rewrapped += done
            if done == 0 and report.passes > 1:
                return
            # Processes that have not yet seen the new active key may still seal under the old one.
            await asyncio.sleep(self.keyring.active_ttl + 0.1)

    async def _one_pass(
        self, target: MasterKey, total: int, progress: Progress | None, report: RotationReport
    ) -> int:
        done, after = 0, None
        if progress:
            progress(0, total)
        while True:
            async with self.db.transaction(write=False) as tx:
                batch = await tx.vault_items.not_under_key(target.key_id, after=after, limit=self.batch_size)
            if not batch:
                return done
            rewrapped: list[tuple[VaultItem, bytes | None]] = []
            for item in batch:
                try:
                    rewrapped.append((item, await self._rewrap(item, target)))
                except SwitchyardError as exc:
                    report.failed[item.id] = exc.code
                    log.warning("rotation.item_skipped", item_id=item.id, code=exc.code)
            async with self.db.transaction() as tx:
                lost = []
                for item, stored in rewrapped:
                    if await tx.vault_items.replace_ciphertext(item, key_id=target.key_id, ciphertext=stored):
                        done += 1
                        report.failed.pop(item.id, None)
                    else:
                        lost.append(item)
                gone = [i for i in lost if not await tx.vault_items.get_many(i.tenant_id, [i.id])]
            await self.vault.destroy([i for i in gone if i.store != "database"])  # deleted meanwhile
            after = batch[-1].id
            if progress:
                progress(done, max(total, done))

    async def _rewrap(self, item: VaultItem, target: MasterKey) -> bytes | None:
        store = self.vault.store_of(item)
        blob = await store.get(item)
        self.keyring.knows(crypto.key_id_of(blob))
        new_blob = crypto.rewrap(blob, self.keyring.keys, target, binding_of(item))
        return await store.put(item.tenant_id, item.id, new_blob)

    async def _counts(self) -> dict[str, int]:
        async with self.db.transaction(write=False) as tx:
            return await tx.vault_items.count_by_key()

    async def retire_unreferenced(self, report: RotationReport) -> None:
        """Mark old keys retired where no item references them; the check and the change are one statement."""
        for record in await self.keyring.records():
            if record.state != DECRYPT_ONLY:
                continue
            async with self.db.transaction() as tx:
                retired = await tx.master_keys.retire_if_unreferenced(record.key_id)
            if retired:
                report.retired.append(record.key_id)
            else:
                report.still_referenced[record.key_id] = (await self._counts()).get(record.key_id, 0)

    async def prune(self) -> list[str]:
        """Remove from the key file the material of retired keys that still wrap nothing."""
        if not self.keyring.source.writable:
            raise ConfigurationError(
                "keys from SWITCHYARD_MASTER_KEY are removed by the operator",
                code="config.master_key_read_only",
                remediation="Remove retired keys (see switchyard keys status) from SWITCHYARD_MASTER_KEY.",
            )
        counts = await self._counts()
        held = {key.key_id for key in self.keyring.source.load()}
        pruned = []
        for record in await self.keyring.records():
            if record.state == RETIRED and record.key_id in held and not counts.get(record.key_id):
                self.keyring.source.remove(record.key_id)
                pruned.append(record.key_id)
        return pruned
