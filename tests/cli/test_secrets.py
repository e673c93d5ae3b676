"""``switchyard secrets``: set (value, file, stdin), get masked and revealed, list, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from switchyard.cli.runtime import cli_principal
from tests.cli.conftest import Cli, open_container

VALUE = "sk-live-0123456789abcdefkey123"


def test_set_then_get_masked_and_revealed(cli: Cli, demo: dict[str, Any]) -> None:
    out = cli.ok("secrets", "set", "-t", "demo", "openai", "--type", "api_key", "--value", VALUE)
    assert "created secret openai (version 1)" in out
    assert "***key123 (masked)" in out and VALUE not in out

    masked = cli.ok("secrets", "get", "-t", "demo", "openai")
    assert "***key123" in masked and VALUE not in masked
    as_json = cli.json("secrets", "get", "-t", "demo", "openai")
    assert as_json["value"] == "***key123" and as_json["masked"] is True and as_json["type"] == "api_key"

    revealed = cli.ok("secrets", "get", "-t", "demo", "openai", "--reveal")
    assert f"value:        {VALUE}" in revealed
    revealed_json = cli.json("secrets", "get", "-t", "demo", "openai", "--reveal")
    assert revealed_json["value"] == VALUE and revealed_json["masked"] is False


def test_value_from_stdin_and_a_second_version(cli: Cli, demo: dict[str, Any]) -> None:
    created = cli.json("secrets", "set", "-t", "demo", "db_password", "--type", "password", stdin="hunter2\n")
    assert created["value"] == "***" and created["version"] == 1
    revealed = cli.json("secrets", "get", "-t", "demo", "db_password", "--reveal")
    assert revealed["value"] == "hunter2"  # the trailing newline of `echo` is dropped

    updated = cli.json(
        "secrets", "set", "-t", "demo", "db_password", "--description", "primary db", stdin="correct horse"
    )
    assert updated["version"] == 2 and updated["current_version"] == 2
    assert updated["description"] == "primary db" and updated["type"] == "password"
    assert cli.json("secrets", "get", "-t", "demo", "db_password", "--reveal")["value"] == "correct horse"
    first = cli.json("secrets", "get", "-t", "demo", "db_password", "--reveal", "--version", "1")
    assert first["value"] == "hunter2" and first["version"] == 1


def test_value_from_file_is_kept_verbatim(cli: Cli, demo: dict[str, Any], tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    path = tmp_path / "cert.pem"
    path.write_text(pem)
    cli.ok("secrets", "set", "-t", "demo", "tls_cert", "--type", "certificate", "--from-file", str(path))
    assert cli.json("secrets", "get", "-t", "demo", "tls_cert", "--reveal")["value"] == pem

    both = cli.run("secrets", "set", "-t", "demo", "x", "--value", "v", "--from-file", str(path))
    assert both.returncode == 2 and "either --value or --from-file" in both.stderr


def test_empty_stdin_is_refused(cli: Cli, demo: dict[str, Any]) -> None:
    done = cli.run("secrets", "set", "-t", "demo", "empty", stdin="")
    assert done.returncode == 1 and done.stderr.startswith("error [secret.empty_value]")
    assert cli.json("secrets", "list", "-t", "demo") == {"secrets": []}


async def test_list_pages_through_every_secret(cli: Cli, demo: dict[str, Any]) -> None:
    principal = cli_principal(demo["tenant"]["id"])
    async with open_container(cli.data_dir) as container:
        for number in range(205):  # more than one page of 200
            await container.secrets.create(principal, name=f"s{number:03d}", value=f"value-{number}")
    listed = cli.json("secrets", "list", "-t", "demo")["secrets"]
    assert [s["name"] for s in listed] == [f"s{n:03d}" for n in range(205)]
    assert all(s["masked"] for s in listed)
    table = cli.ok("secrets", "list", "-t", "demo")
    assert "s204" in table and "value-204" not in table


def test_delete_without_a_terminal_needs_yes(cli: Cli, demo: dict[str, Any]) -> None:
    cli.ok("secrets", "set", "-t", "demo", "keep_me", "--value", VALUE)
    refused = cli.run("secrets", "delete", "-t", "demo", "keep_me")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error [cli.confirmation_required]: refusing to delete secret 'keep_me' without confirmation",
        "remediation: Pass --yes to delete without a prompt.",
    ]
    assert cli.json("secrets", "get", "-t", "demo", "keep_me", "--reveal")["value"] == VALUE

    assert cli.ok("secrets", "delete", "-t", "demo", "keep_me", "--yes").strip() == "deleted secret keep_me"
    gone = cli.run("secrets", "get", "-t", "demo", "keep_me")
    assert gone.returncode == 1 and gone.stderr.startswith("error [secret.not_found]")
