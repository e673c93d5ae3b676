"""Periodic upkeep that every serving process runs: token refresh sweep, pending revocations, old states,
expired MCP tokens.

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
from switchyard.services.operate import OperateService
from switchyard.services.refresh import Refresher
from switchyard.services.vault import Vault

log = get_logger("switchyard.background")
STATE_RETENTION = timedelta(days=1)


class Upkeep:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        refresher: Refresher,
        actions: ConnectionActions,
        operate: OperateService,
        *,
        interval: float,
    ) -> None:
        self.operate = operate
        self.db = db
        self.vault = vault
        self.refresher = refresher
        self.actions = actions
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        refreshed = await self.refresher.sweep()
        revoked = await self.actions.retry_revocations()
        forgotten = await self._forget_abandoned_states()
        pruned = await self.operate.prune_request_ids()
        mcp_tokens = await self._forget_expired_mcp_tokens()
        console_sessions = await self._forget_expired_console_sessions()
        return {
            "refreshed": refreshed,
            "revoked": revoked,
            "expired_states": forgotten,
            "operate_request_ids": pruned,
            "expired_mcp_tokens": mcp_tokens,
            "expired_console_sessions": console_sessions,
        }

    async def _forget_expired_mcp_tokens(self) -> int:
        """Expired MCP tokens are refused on sight; their rows go here."""
        async with self.db.transaction() as tx:
            return await tx.mcp_tokens.prune(utcnow())

    async def _forget_expired_console_sessions(self) -> int:
        """Expired console sessions are refused on sight; their rows go here."""
        async with self.db.transaction() as tx:
            return await tx.console_sessions.prune(utcnow())

    async def _forget_abandoned_states(self) -> int:
        """Authorizations never completed: the rows and their sealed verifiers or request secrets."""
        async with self.db.transaction() as tx:
            states = await tx.oauth_states.expired(utcnow() - STATE_RETENTION, limit=500)
            items = []
            for state in states:
                if state.verifier_item_id:
                    items += await tx.vault_items.get_many(state.tenant_id, [state.verifier_item_id])
                    await tx.vault_items.delete(state.tenant_id, [state.verifier_item_id])
            await tx.oauth_states.delete([state.id for state in states])
        await self.vault.destroy(items)
        return len(states)

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
