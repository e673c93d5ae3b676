"""Help for every command, and the one-line error (never a traceback) for bad configuration."""

from __future__ import annotations

import json
import stat
from typing import Any

import pytest

from switchyard import __version__
from tests.cli.conftest import Cli

GROUPS = ["db", "tenants", "keys", "secrets", "connectors", "integrations", "connections", "users"]
COMMANDS = [
    ["serve"],
    ["version"],
    ["db", "upgrade"],
    ["db", "current"],
    ["tenants", "create"],
    ["tenants", "list"],
    ["keys", "create"],
    ["keys", "list"],
    ["keys", "revoke"],
    ["keys", "rotate-master"],
    ["keys", "status"],
    ["keys", "prune"],
    ["secrets", "set"],
    ["secrets", "get"],
    ["secrets", "list"],
    ["secrets", "delete"],
    ["connectors", "list"],
    ["connectors", "show"],
    ["connectors", "schema"],
    ["connectors", "validate"],
    ["connectors", "put"],
    ["connectors", "remove"],
    ["connectors", "create"],
    ["connectors", "package"],
    ["connectors", "upload"],
    ["connectors", "download"],
    ["connectors", "download-all"],
    ["connectors", "versions"],
    ["connectors", "rollback"],
    ["connectors", "delete"],
    ["connectors", "migrate"],
    ["integrations", "create"],
    ["integrations", "list"],
    ["integrations", "show"],
    ["integrations", "delete"],
    ["connections", "list"],
    ["connections", "show"],
    ["connections", "delete"],
    ["connections", "test"],
    ["users", "create"],
    ["users", "set-password"],
    ["users", "delete"],
    ["users", "list"],
    ["connect"],
    ["login"],
    ["mcp"],
]


def test_top_level_help_names_every_group(cli: Cli) -> None:
    done = cli.run("--help")
    assert done.returncode == 0, done.stderr
    for name in ["serve", "version", "connect", "login", *GROUPS]:
        assert name in done.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_group_help(cli: Cli, group: str) -> None:
    done = cli.run(group, "--help")
    assert done.returncode == 0, done.stderr
    assert "Usage: switchyard " + group in " ".join(done.stdout.split())


def test_every_command_explains_itself(cli: Cli) -> None:
    # One process per command would be slow; the help texts come from the command tree itself.
    from typer.testing import CliRunner

    from switchyard.cli.main import app

    runner = CliRunner()
    for command in COMMANDS:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        described = result.output.split("Usage:", 1)[1]
        assert len(described.split()) > 8, (command, result.output)


def test_version(cli: Cli) -> None:
    assert cli.ok("version").strip() == f"switchyard {__version__}"
    assert cli.json("version") == {"version": __version__}


def test_generated_key_file_is_private(cli: Cli) -> None:
    cli.ok("tenants", "list")
    assert stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600
    assert json.loads(cli.key_file.read_text())["keys"]


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "0"],
        ["tenants", "list"],
        ["keys", "status", "--json"],
        ["secrets", "list", "-t", "x"],
    ],
)
def test_readable_key_file_is_refused_cleanly(cli: Cli, command: list[str]) -> None:
    cli.ok("tenants", "list")
    cli.key_file.chmod(0o644)
    done = cli.run(*command, timeout=20)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-2].startswith("error [config.key_file_permissions]: the master key file ")
    assert lines[-1] == f"remediation: Run: chmod 600 {cli.key_file}"
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""


def test_invalid_setting_is_a_configuration_error(cli: Cli) -> None:
    done = cli.run("tenants", "list", env={"SWITCHYARD_LOG_LEVEL": "LOUD"})
    assert done.returncode == 2
    assert done.stderr.startswith("error [config.invalid]: invalid setting SWITCHYARD_LOG_LEVEL")
    assert "Traceback" not in done.stderr


def test_client_errors_exit_1_with_code_and_remediation(cli: Cli) -> None:
    done = cli.run("tenants", "create", "Not A Valid Name")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error [tenant.invalid_name]: invalid tenant name 'Not A Valid Name'",
        "remediation: Use 1-63 lowercase letters, digits and '-', starting with a letter or digit.",
    ]
    missing = cli.run("keys", "list", "--tenant", "nobody", "--json")
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.startswith("error [tenant.not_found]: no tenant named 'nobody'")


def test_the_command_tree_is_pinned() -> None:
    import typer

    from switchyard.cli.main import app

    def walk(command: Any, path: list[str]) -> list[list[str]]:
        children = getattr(command, "commands", None)  # a group
        if children is None:
            return [path]
        return [leaf for name, sub in children.items() for leaf in walk(sub, [*path, name])]

    assert sorted(walk(typer.main.get_command(app), [])) == sorted(COMMANDS)
