"""``switchyard tenants`` and ``switchyard keys create/list/revoke``, checked against the services."""

from __future__ import annotations

from typing import Any

import pytest

from switchyard.core.errors import Unauthenticated
from tests.cli.conftest import Cli, open_container


async def test_tenants_create_prints_a_working_admin_key(cli: Cli) -> None:
    out = cli.ok("tenants", "create", "demo")
    key_line = next(line for line in out.splitlines() if line.startswith("admin key: "))
    plaintext = key_line.removeprefix("admin key: ")
    assert "shown only once" in out
    tenant_id = next(line.split()[-1] for line in out.splitlines() if line.startswith("tenant id:"))

    async with open_container(cli.data_dir) as container:
        principal = await container.api_keys.authenticate(plaintext)
    assert principal.tenant_id == tenant_id
    assert principal.scopes == frozenset({"admin"})


async def test_tenants_create_json_and_list(cli: Cli, demo: dict[str, Any]) -> None:
    assert demo["tenant"]["name"] == "demo"
    assert demo["api_key"]["name"] == "admin" and demo["api_key"]["scopes"] == ["admin"]
    assert demo["api_key"]["key"].startswith(demo["api_key"]["prefix"] + "_")
    async with open_container(cli.data_dir) as container:
        principal = await container.api_keys.authenticate(demo["api_key"]["key"])
    assert principal.tenant_id == demo["tenant"]["id"]

    listed = cli.json("tenants", "list")
    assert [t["name"] for t in listed["tenants"]] == ["demo"]
    assert "demo" in cli.ok("tenants", "list")

    again = cli.run("tenants", "create", "demo")
    assert again.returncode == 1 and again.stderr.startswith("error [tenant.exists]")


async def test_keys_create_list_revoke(cli: Cli, demo: dict[str, Any]) -> None:
    created = cli.json(
        "keys", "create", "--tenant", demo["tenant"]["id"], "--name", "ci",
        "--scope", "secrets:read", "--scope", "proxy", "--expires-in-days", "7",
    )  # fmt: skip
    assert created["scopes"] == ["proxy", "secrets:read"] and created["expires_at"] is not None
    async with open_container(cli.data_dir) as container:
        principal = await container.api_keys.authenticate(created["key"])
    assert principal.scopes == frozenset({"secrets:read", "proxy"})

    listed = cli.json("keys", "list", "--tenant", "demo")["api_keys"]
    assert {k["name"] for k in listed} == {"admin", "ci"}
    ci = next(k for k in listed if k["name"] == "ci")
    assert ci["prefix"] == created["prefix"] and ci["last_used_at"] is not None and ci["revoked_at"] is None
    table = cli.ok("keys", "list", "--tenant", "demo")
    assert created["prefix"] in table and created["key"] not in table
    for shown in (str(listed), table):
        assert "digest" not in shown and created["key"] not in shown

    assert cli.ok("keys", "revoke", "--tenant", "demo", created["id"]).strip() == f"revoked {created['id']}"
    async with open_container(cli.data_dir) as container:
        with pytest.raises(Unauthenticated):
            await container.api_keys.authenticate(created["key"])
        still = await container.api_keys.authenticate(demo["api_key"]["key"])
    assert still.tenant_id == demo["tenant"]["id"]
    revoked = next(k for k in cli.json("keys", "list", "-t", "demo")["api_keys"] if k["name"] == "ci")
    assert revoked["revoked_at"] is not None


def test_keys_create_refuses_unknown_scope_and_unknown_key(cli: Cli, demo: dict[str, Any]) -> None:
    bad = cli.run("keys", "create", "-t", "demo", "-n", "x", "-s", "everything")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error [api_key.invalid_scope]: unknown scope(s): everything\nremediation: ")
    missing = cli.run("keys", "revoke", "-t", "demo", "key_nope")
    assert missing.returncode == 1 and missing.stderr.startswith("error [api_key.not_found]")
    assert len(cli.json("keys", "list", "-t", "demo")["api_keys"]) == 1
