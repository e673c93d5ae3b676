"""Alembic, driven programmatically on a connection we already hold (no ini file needed at run time)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    """The applied revision, read straight from Alembic's table (quietly: readiness probes call this)."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    version = sa.table(VERSION_TABLE, sa.column("version_num"))
    return connection.execute(sa.select(version.c.version_num)).scalar_one_or_none()


def is_current(connection: Connection) -> bool:
    return current(connection) == head()


def upgrade(connection: Connection) -> tuple[str | None, str]:
    before = current(connection)
    command.upgrade(config(connection), "head")
    return before, head()
