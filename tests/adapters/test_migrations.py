"""Migrations run on both engines, create exactly the declared schema, and go down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from switchyard.adapters.db import migrate
from switchyard.adapters.db.engine import SqlDatabase
from switchyard.adapters.db.tables import metadata
from switchyard.core.errors import ConfigurationError
from switchyard.services.container import build
from tests.conftest import ENGINES, DatabaseFactory, make_settings


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _downgrade(connection: Connection) -> None:
    command.downgrade(migrate.config(connection), "base")


@pytest.mark.parametrize("engine", ENGINES)
async def test_upgrade_matches_the_declared_schema_and_round_trips(
    engine: str, new_database: DatabaseFactory
) -> None:
    db = SqlDatabase(await new_database(engine))
    try:
        assert not await db.schema_is_current()
        before, after = await db.upgrade()
        assert (before, after) == (None, migrate.head())
        assert await db.schema_is_current()
        async with db.connection() as conn:
            assert await conn.run_sync(_diff) == []
        async with db.engine.begin() as conn:
            await conn.run_sync(_downgrade)
        assert not await db.schema_is_current()
        assert (await db.upgrade())[0] is None
        assert await db.upgrade() == (migrate.head(), migrate.head())  # idempotent
    finally:
        await db.dispose()


async def test_serving_on_an_outdated_schema_is_refused(
    new_database: DatabaseFactory, tmp_path: Path
) -> None:
    container = build(make_settings(tmp_path, await new_database("sqlite")))
    with pytest.raises(ConfigurationError) as caught:
        await container.start(upgrade=False)
    assert caught.value.code == "database.schema_outdated"
    await container.close()
