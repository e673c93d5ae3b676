"""``switchyard db current`` and ``db upgrade``."""

from __future__ import annotations

from switchyard.adapters.db.migrate import head
from tests.cli.conftest import Cli


def test_upgrade_an_empty_database_then_report_current(cli: Cli) -> None:
    assert cli.json("db", "current") == {"current": None, "newest": head(), "is_newest": False}
    assert "outdated: run switchyard db upgrade" in cli.ok("db", "current")

    upgraded = cli.ok("db", "upgrade")
    assert upgraded.strip() == f"upgraded: (empty database) -> {head()}"
    assert cli.json("db", "upgrade") == {"before": head(), "after": head(), "changed": False}
    assert cli.json("db", "current") == {"current": head(), "newest": head(), "is_newest": True}


def test_db_commands_do_not_need_the_master_keys(cli: Cli) -> None:
    cli.ok("db", "upgrade")
    assert not cli.key_file.exists()


def test_outdated_schema_is_refused_when_auto_migrate_is_off(cli: Cli) -> None:
    done = cli.run("tenants", "list", env={"SWITCHYARD_MIGRATE_ON_START": "false"})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error [database.schema_outdated]: the database schema is not current",
        "remediation: Run: switchyard db upgrade",
    ]
    cli.ok("db", "upgrade")
    assert cli.run("tenants", "list", env={"SWITCHYARD_MIGRATE_ON_START": "false"}).returncode == 0
