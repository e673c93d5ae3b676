"""The SQL database: engine set-up per dialect, transactions, and translation of driver errors.

SQLite runs in WAL mode with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue on the lock instead of failing on upgrade. PostgreSQL runs through asyncpg.
No SQLAlchemy or driver exception leaves this package: connection trouble becomes ``Unavailable``
(``database.unavailable``), constraint violations become ``Conflict``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    InvalidatePoolError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from switchyard.adapters.db import migrate
from switchyard.adapters.db.repositories import SqlTransaction
from switchyard.adapters.files import private_file
from switchyard.core.errors import Conflict, SwitchyardError, Unavailable

_UNAVAILABLE_REMEDIATION = "Check that the database server is running and reachable, then retry."


def translate(exc: BaseException) -> SwitchyardError:
    """Map a driver or SQLAlchemy error to the product's exception tree."""
    if isinstance(exc, IntegrityError):
        return Conflict("the change conflicts with existing data", code="resource.conflict")
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError | TimeoutError):
        return Unavailable(
            "the database is unavailable", code="database.unavailable", remediation=_UNAVAILABLE_REMEDIATION
        )
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Unavailable(
            "the database connection was lost",
            code="database.unavailable",
            remediation=_UNAVAILABLE_REMEDIATION,
        )
    return Unavailable("the database failed the request", code="database.error")


_TRANSLATED = (SQLAlchemyError, ConnectionError, OSError, TimeoutError)


class SqlDatabase:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self.engine = _create_engine(url, pool_size=pool_size)

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[SqlTransaction]:
        in_body = False
        try:
            async with self.engine.connect() as conn:
                if self.dialect == "sqlite":
                    await conn.execution_options(sqlite_begin="BEGIN IMMEDIATE" if write else "BEGIN")
                async with conn.begin():
                    in_body = True
                    yield SqlTransaction(conn)
                    in_body = False
        except _TRANSLATED as exc:
            # From the caller's own code only database errors are ours to translate; an OSError raised
            # there (a store, a provider) is not the database being down.
            if in_body and not isinstance(exc, SQLAlchemyError):
                raise
            raise translate(exc) from exc

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                yield conn
        except _TRANSLATED as exc:
            raise translate(exc) from exc

    async def ping(self) -> None:
        async with self.connection() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def schema_is_current(self) -> bool:
        async with self.connection() as conn:
            return await conn.run_sync(migrate.is_current)

    async def upgrade(self) -> tuple[str | None, str]:
        """Bring the schema to the newest migration; returns (revision before, revision after)."""
        try:
            async with self.engine.begin() as conn:
                return await conn.run_sync(migrate.upgrade)
        except _TRANSLATED as exc:
            raise translate(exc) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


def _create_engine(url: str, *, pool_size: int) -> AsyncEngine:
    parsed = make_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            private_file(Path(database))
        options["connect_args"] = {"timeout": 30}
    else:
        options.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=10)
        options["connect_args"] = {"timeout": 5}
    engine = create_async_engine(url, **options)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine, parsed.database or "")
    return engine


def _configure_sqlite(engine: AsyncEngine, database: str) -> None:
    on_disk = database not in ("", ":memory:") and not database.startswith("file:")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        if on_disk:
            record.info[_SQLITE_FILE] = _file_identity(database)

    if on_disk:

        @event.listens_for(engine.sync_engine, "checkout")
        def _on_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # An open connection keeps working on a database file that was deleted or moved away, so writes
            # would be acknowledged into a file nobody can open again. Treat that as a lost server: the pool
            # reconnects, which fails (503 database.unavailable) until the file is back at its path.
            if _file_identity(database) != record.info.get(_SQLITE_FILE):
                raise InvalidatePoolError("the SQLite database file is gone or was replaced")

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN IMMEDIATE"))


_SQLITE_FILE = "switchyard_sqlite_file"


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
