"""The master keys a process holds, and which one is active for new encryption.

Key material comes from a ``KeySource`` (key file or environment). The database knows each key's
fingerprint and state (``active``, ``decrypt_only``, ``retired``) but never its material. Every process
reads the active key id from the database at most every ``active_key_ttl`` seconds, so a rotation started
from the CLI reaches every replica within that time while the service keeps serving.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from switchyard.core.clock import utcnow
from switchyard.core.crypto import MasterKey
from switchyard.core.errors import ConfigurationError, Conflict, Unavailable
from switchyard.core.models import MasterKeyRecord
from switchyard.io_ports import KeySource
from switchyard.logs import get_logger
from switchyard.ports import Database

log = get_logger("switchyard.keyring")

ACTIVE = "active"
DECRYPT_ONLY = "decrypt_only"
RETIRED = "retired"


class Keyring:
    def __init__(
        self,
        source: KeySource,
        db: Database,
        *,
        active_ttl: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.db = db
        self.active_ttl = active_ttl
        self._monotonic = monotonic
        self._keys: dict[str, MasterKey] = {}
        self._active_id: str | None = None
        self._active_checked = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def keys(self) -> dict[str, MasterKey]:
        return self._keys

    def describe_source(self) -> str:
        return self.source.describe()

    async def bootstrap(self) -> None:
        """Load the keys, check them against the database's records, and make sure one is active."""
        self._keys = {key.key_id: key for key in self.source.load()}
        records = await self.register(list(self._keys.values()))
        active = [record for record in records if record.state == ACTIVE]
        if not active:
            newest = list(self._keys)[-1]
            async with self.db.transaction() as tx:
                await tx.master_keys.set_state(newest, ACTIVE, utcnow())
            active_id = newest
        else:
            active_id = active[0].key_id
        if active_id not in self._keys:
            raise ConfigurationError(
                f"master key {active_id!r} is active in the database but not configured in this process",
                code="config.master_key_missing",
                remediation=f"Add key {active_id!r} to {self.describe_source()} on this node.",
            )
        self._active_id = active_id
        self._active_checked = self._monotonic()

    async def register(self, keys: list[MasterKey]) -> list[MasterKeyRecord]:
        """Record unknown keys (as ``decrypt_only``); refuse material that differs from a recorded key."""
        async with self.db.transaction() as tx:
            records = {record.key_id: record for record in await tx.master_keys.all()}
            for key in keys:
                record = records.get(key.key_id)
                if record is None:
                    record = MasterKeyRecord(key.key_id, key.fingerprint(), DECRYPT_ONLY, utcnow())
                    await tx.master_keys.add(record)
                    records[key.key_id] = record
                elif record.fingerprint != key.fingerprint():
                    raise ConfigurationError(
                        f"master key {key.key_id!r} does not match the key recorded under that id",
                        code="config.master_key_mismatch",
                        remediation="Restore the original key material; a different key cannot decrypt.",
                    )
        return list(records.values())

    async def records(self) -> list[MasterKeyRecord]:
        async with self.db.transaction(write=False) as tx:
            return await tx.master_keys.all()

    async def active_key(self) -> MasterKey:
        """The key new values are sealed with; re-read from the database every ``active_ttl`` seconds."""
        if self._monotonic() - self._active_checked >= self.active_ttl:
            async with self._lock:
                if self._monotonic() - self._active_checked >= self.active_ttl:
                    await self._refresh_active()
        assert self._active_id is not None, "Keyring.bootstrap() was not awaited"
        if self._active_id not in self._keys:
            # Never seal under a key that is no longer active: refuse until this node has the new one.
            raise Unavailable(
                f"master key {self._active_id!r} is active but not configured on this node",
                code="vault.active_key_missing",
                remediation=f"Add key {self._active_id!r} to {self.describe_source()} on this node.",
            )
        return self._keys[self._active_id]

    async def _refresh_active(self) -> None:
        records = await self.records()
        active = next((record.key_id for record in records if record.state == ACTIVE), self._active_id)
        if active is not None and active not in self._keys:
            self.reload()
        if active is not None and active not in self._keys:
            log.error("vault.active_key_missing", key_id=active, source=self.describe_source())
        self._active_id = active
        self._active_checked = self._monotonic()

    def reload(self) -> None:
        """Re-read the key source, e.g. after another process added a key to the key file.

        Keys already in memory stay there until the process ends, so a value cached just before its old key
        was retired still opens.
        """
        self._keys = {**self._keys, **{key.key_id: key for key in self.source.load()}}

    def knows(self, key_id: str) -> bool:
        if key_id not in self._keys:
            self.reload()
        return key_id in self._keys

    async def activate(self, key: MasterKey) -> str | None:
        """Make ``key`` the active key; the previous active key becomes ``decrypt_only``."""
        await self.register([key])
        async with self.db.transaction() as tx:
            previous = next((r.key_id for r in await tx.master_keys.all() if r.state == ACTIVE), None)
            if previous == key.key_id:
                raise Conflict(
                    f"master key {key.key_id!r} is already active", code="vault.key_already_active"
                )
            if previous is not None:
                await tx.master_keys.set_state(previous, DECRYPT_ONLY, utcnow())
            await tx.master_keys.set_state(key.key_id, ACTIVE, utcnow())
        self._keys[key.key_id] = key
        self._active_id = key.key_id
        self._active_checked = self._monotonic()
        return previous
