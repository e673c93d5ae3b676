"""When each connection was last used: stamped on the proxy's hot path, written in the background.

A proxied call (or a typed action, which goes through the proxy) that sends a request with a connection's
credentials calls ``UsageStamps.used``, which costs a clock read and a dictionary look-up: nothing is
awaited on the request path. A connection is stamped at most once per ``USAGE_WRITE_INTERVAL`` seconds in
this process; a stamp waits in memory and a single background flusher writes what has gathered after
``FLUSH_DELAY`` seconds, every stamp in one transaction (one UPDATE per connection per interval, however
many calls a burst makes). The write never moves ``last_used_at`` backwards, so several processes and
late flushes agree. A failed write is logged and dropped: usage tracking never fails a call.
``close`` writes what is pending, at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from switchyard.core.clock import utcnow
from switchyard.logs import get_logger
from switchyard.ports import Database

log = get_logger("switchyard.usage")
USAGE_WRITE_INTERVAL = 60.0  # seconds: how stale ``last_used_at`` may get, to spare a write per call
FLUSH_DELAY = 1.0  # seconds a stamp waits, so that one transaction carries a burst's stamps
_MAX_TRACKED = 10_000  # past this many remembered connections, those not stamped within the interval go


class UsageStamps:
    def __init__(
        self,
        db: Database,
        *,
        interval: float = USAGE_WRITE_INTERVAL,
        delay: float = FLUSH_DELAY,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.interval = timedelta(seconds=interval)
        self.delay = delay
        self._clock = clock
        self._stamped: dict[str, datetime] = {}  # connection id -> time of its last stamp taken for writing
        self._pending: dict[str, dict[str, datetime]] = {}  # tenant id -> connection id -> used at
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    def used(self, tenant_id: str, connection_id: str) -> None:
        """Note that a request was sent with the connection's credentials (cheap; never awaits)."""
        now = self._clock()
        last = self._stamped.get(connection_id)
        if last is not None and now - last < self.interval:
            return
        if self._closed:
            return
        self._stamped[connection_id] = now
        self._pending.setdefault(tenant_id, {})[connection_id] = now
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush_soon(), name="switchyard-usage")

    @property
    def pending(self) -> int:
        """How many stamps wait for the next write."""
        return sum(len(stamps) for stamps in self._pending.values())

    async def _flush_soon(self) -> None:
        try:
            async with asyncio.timeout(self.delay):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write every pending stamp now, in one transaction; a failure is logged, and the stamps dropped."""
        pending, self._pending = self._pending, {}
        self._forget_stale()
        if not pending:
            return
        try:
            async with self.db.transaction() as tx:
                for tenant_id, stamps in pending.items():
                    await tx.connections.touch_used(tenant_id, stamps)
        except Exception as exc:  # a background write: whatever went wrong, the calls go on
            log.warning(
                "usage.write_failed",
                connections=sum(len(stamps) for stamps in pending.values()),
                error_type=type(exc).__name__,
                code=getattr(exc, "code", None),
            )

    def _forget_stale(self) -> None:
        if len(self._stamped) > _MAX_TRACKED:
            cutoff = self._clock() - self.interval
            self._stamped = {cid: at for cid, at in self._stamped.items() if at > cutoff}

    async def close(self) -> None:
        """Stop stamping and write what is pending."""
        self._closed = True
        self._wake.set()
        task = self._task
        if task is not None:
            await task
        await self.flush()
