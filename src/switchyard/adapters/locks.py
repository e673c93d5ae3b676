"""Named locks for single-flight work (one token refresh per connection at a time).

``InProcessLocks`` serialise coroutines of one process. ``PostgresLocks`` add a PostgreSQL advisory lock
on a dedicated connection, so that processes sharing the database serialise too; on SQLite (single node)
the in-process lock is all there is.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from switchyard.adapters.db.engine import SqlDatabase


class InProcessLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str, *, wait: bool = True) -> AsyncIterator[bool]:
        """Yields True once held; with ``wait=False``, yields False at once when someone holds it."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            if not wait and lock.locked():
                yield False
                return
            async with lock:
                yield True
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]


def _advisory_key(key: str) -> int:
    """A signed 64-bit number for ``pg_advisory_lock``, from a stable hash of the name."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


class PostgresLocks:
    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        self.local = InProcessLocks()

    @asynccontextmanager
    async def hold(self, key: str, *, wait: bool = True) -> AsyncIterator[bool]:
        async with self.local.hold(key, wait=wait) as held_here:
            if not held_here:
                yield False
                return
            async with self.db.connection() as conn:
                number = _advisory_key(key)
                function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
                held = (await conn.execute(sa.text(f"SELECT {function}(:k)"), {"k": number})).scalar()
                await conn.commit()
                try:
                    yield held is not False
                finally:
                    if held is not False:
                        await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": number})
                        await conn.commit()


def locks_for(db: SqlDatabase) -> InProcessLocks | PostgresLocks:
    return PostgresLocks(db) if db.dialect == "postgresql" else InProcessLocks()
