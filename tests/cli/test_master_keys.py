"""``switchyard keys rotate-master`` and ``keys status`` over a data dir holding secrets."""

from __future__ import annotations

import json
from typing import Any

from switchyard.cli.runtime import cli_principal
from tests.cli.conftest import Cli, open_container


def _key_file_ids(cli: Cli) -> list[str]:
    return [entry["id"] for entry in json.loads(cli.key_file.read_text())["keys"]]


async def test_rotation_moves_every_item_and_retires_the_old_key(cli: Cli, demo: dict[str, Any]) -> None:
    principal = cli_principal(demo["tenant"]["id"])
    async with open_container(cli.data_dir) as container:
        for number in range(3):
            await container.secrets.create(principal, name=f"secret_{number}", value=f"value-{number}-abcdef")
    before = cli.json("keys", "status")
    old = before["active_key_id"]
    assert [(k["key_id"], k["vault_items"]) for k in before["keys"]] == [(old, 3)]

    report = cli.json("keys", "rotate-master")
    new = report["new_key_id"]
    assert report["previous_key_id"] == old and new != old
    assert report["rewrapped"] == 3 and report["passes"] >= 2
    assert report["retired"] == [old] and report["still_referenced"] == {}

    after = cli.json("keys", "status")
    assert after["active_key_id"] == new
    states = {k["key_id"]: (k["state"], k["vault_items"], k["configured"]) for k in after["keys"]}
    assert states == {old: ("retired", 0, True), new: ("active", 3, True)}
    assert _key_file_ids(cli) == [old, new]  # kept until pruned
    assert cli.json("keys", "prune") == {"pruned": [old]}
    assert _key_file_ids(cli) == [new]
    assert cli.json("keys", "prune") == {"pruned": []}
    async with open_container(cli.data_dir) as container:
        for number in range(3):
            view = await container.secrets.get(principal, f"secret_{number}", reveal=True)
            assert view.value == f"value-{number}-abcdef"


def test_rotation_shows_progress_on_stderr_and_the_report_on_stdout(cli: Cli, demo: dict[str, Any]) -> None:
    cli.ok("secrets", "set", "-t", "demo", "one", "--value", "value-one-abcdef")
    done = cli.run("keys", "rotate-master", "--key-id", "k-second")
    assert done.returncode == 0, done.stderr
    assert "re-wrapping, pass" in done.stderr
    assert "new active key:   k-second" in done.stdout and "re-wrapped items: 1" in done.stdout
    assert _key_file_ids(cli)[-1] == "k-second"
    resumed = cli.json("keys", "rotate-master", "--resume")
    assert (resumed["new_key_id"], resumed["rewrapped"]) == ("k-second", 0)

    status = cli.ok("keys", "status")
    assert "active key: k-second" in status and "retired" in status


def test_rotation_refuses_a_key_id_in_use(cli: Cli, demo: dict[str, Any]) -> None:
    active = cli.json("keys", "status")["active_key_id"]
    done = cli.run("keys", "rotate-master", "--key-id", active)
    assert done.returncode == 1
    assert done.stderr.lstrip().startswith(
        f"error [vault.key_id_taken]: master key id {active!r} is already in use"
    )
    assert _key_file_ids(cli) == [active]
    assert cli.json("keys", "status")["active_key_id"] == active
