"""``switchyard users create/list``: console users from the command line; the password is never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from switchyard.core.errors import Unauthenticated
from tests.cli.conftest import Cli, open_container, serving, wait_until_up

PASSWORD = "a long enough console password"


async def test_create_with_password_stdin_then_list(cli: Cli, demo: dict[str, Any]) -> None:
    created = cli.json(
        "users", "create", "--tenant", "demo", "--email", " Admin@Example.com ", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created["email"] == "admin@example.com" and created["tenant_id"] == demo["tenant"]["id"]
    assert set(created) == {"id", "tenant_id", "email", "created_at", "last_login_at"}

    listed = cli.json("users", "list", "--tenant", "demo")
    assert [u["email"] for u in listed["users"]] == ["admin@example.com"]
    table = cli.ok("users", "list", "--tenant", "demo")
    assert "admin@example.com" in table
    for shown in (str(created), str(listed), table):
        assert PASSWORD not in shown and "argon2" not in shown and "password" not in shown

    async with open_container(cli.data_dir) as container:
        signed_in = await container.console.log_in("admin@example.com", PASSWORD, client="127.0.0.1")
    assert signed_in.user.tenant_id == demo["tenant"]["id"]


def test_create_refuses_a_weak_password_and_a_duplicate(cli: Cli, demo: dict[str, Any]) -> None:
    weak = cli.run(
        "users", "create", "-t", "demo", "-e", "a@example.com", "--password-stdin", stdin="short\n"
    )
    assert weak.returncode == 1
    assert weak.stderr.startswith("error [console_user.weak_password]")
    assert "short" not in weak.stdout
    args = ("users", "create", "-t", "demo", "-e", "a@example.com", "--password-stdin")
    cli.ok(*args, stdin=PASSWORD)
    again = cli.run(*args, stdin=PASSWORD)
    assert again.returncode == 1 and again.stderr.startswith("error [console_user.exists]")
    assert PASSWORD not in again.stdout + again.stderr
    empty = cli.run("users", "list", "-t", "nobody")
    assert empty.returncode == 1 and empty.stderr.startswith("error [tenant.not_found]")


def test_serve_prints_a_one_time_setup_link_until_a_user_exists(cli: Cli, tmp_path: Path) -> None:
    with serving(cli, tmp_path) as server:
        wait_until_up(server)
    banner = "No console user yet. Open this one-time link to set up the console (valid 24 h): "
    [line] = [line for line in server.stderr.read_text().splitlines() if line.startswith(banner)]
    assert line.removeprefix(banner).startswith("http://127.0.0.1:8080/console/setup?token=setup_")
    assert "setup?token" not in server.stdout.read_text()

    cli.ok("tenants", "create", "demo")
    cli.ok("users", "create", "-t", "demo", "-e", "a@example.com", "--password-stdin", stdin=PASSWORD)
    with serving(cli, tmp_path) as server:
        wait_until_up(server)
    assert banner not in server.stderr.read_text()


async def test_an_operator_resets_a_forgotten_password_and_deletes_a_user(
    cli: Cli, demo: dict[str, Any]
) -> None:
    cli.ok("users", "create", "-t", "demo", "-e", "b@example.com", "--password-stdin", stdin=PASSWORD)
    async with open_container(cli.data_dir) as container:
        old = await container.console.log_in("b@example.com", PASSWORD, client="127.0.0.1")
    new_password = "another long enough password"
    reset = cli.ok(
        "users", "set-password", "-t", "demo", "-e", "B@example.com", "--password-stdin", stdin=new_password
    )
    assert new_password not in reset
    async with open_container(cli.data_dir) as container:
        with pytest.raises(Unauthenticated):  # every session ended with the reset
            await container.console.resolve(old.token)
        with pytest.raises(Unauthenticated):
            await container.console.log_in("b@example.com", PASSWORD, client="127.0.0.2")
        signed_in = await container.console.log_in("b@example.com", new_password, client="127.0.0.3")

    unknown = cli.run(
        "users", "set-password", "-t", "demo", "-e", "c@example.com", "--password-stdin", stdin=new_password
    )
    assert unknown.returncode == 1 and unknown.stderr.startswith("error [console_user.not_found]")
    unasked = cli.run("users", "delete", "-t", "demo", "-e", "b@example.com")
    assert unasked.returncode == 1 and unasked.stderr.startswith("error [cli.confirmation_required]")
    cli.ok("users", "delete", "-t", "demo", "-e", "b@example.com", "--yes")
    assert cli.json("users", "list", "-t", "demo")["users"] == []
    async with open_container(cli.data_dir) as container:
        with pytest.raises(Unauthenticated):
            await container.console.resolve(signed_in.token)
