"""Periodic upkeep that every serving process runs: token refresh sweep, pending revocations, old states.

Safe on many replicas at once: refreshes take a per-connection lock without waiting (a connection another
process is refreshing is skipped), and every step is idempotent (the database is the source of truth).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from switchyard.core.clock import utcnow
from switchyard.core.errors import SwitchyardError
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services.connection_actions import ConnectionActions
from switchyard.services.refresh import Refresher

log = get_logger("switchyard.background")
STATE_RETENTION = timedelta(days=1)


class Upkeep:
    def __init__(
        self, db: Database, refresher: Refresher, actions: ConnectionActions, *, interval: float
    ) -> None:
        self.db = db
        self.refresher = refresher
        self.actions = actions
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        refreshed = await self.refresher.sweep()
        revoked = await self.actions.retry_revocations()
        async with self.db.transaction() as tx:
            forgotten = await tx.oauth_states.delete_expired(utcnow() - STATE_RETENTION)
        return {"refreshed": refreshed, "revoked": revoked, "expired_states": forgotten}

    async def _loop(self) -> None:
        while True:
            try:
                done = await self.run_once()
                if any(done.values()):
                    log.info("upkeep", **done)
            except SwitchyardError as exc:
                log.warning("upkeep.failed", code=exc.code, detail=exc.detail)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None and self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name="switchyard-upkeep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
