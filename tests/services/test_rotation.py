"""Online master-key rotation: readers never fail, every item ends under the new key, old keys retire."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from pathlib import Path

import pytest

from switchyard.adapters.db.tables import vault_items
from switchyard.core import crypto
from switchyard.core.errors import ConfigurationError, Conflict, Unavailable
from switchyard.services.container import Container, build
from switchyard.services.vault import Accessor
from tests.conftest import ENGINES, DatabaseFactory, make_settings, make_tenant
from tests.services.helpers import all_items

SECRETS = 1000
READER = Accessor("test:reader", "rotation-test")


async def _fresh_container(
    new_database: DatabaseFactory, engine: str, data_dir: Path, **overrides: object
) -> Container:
    settings = make_settings(data_dir, await new_database(engine), active_key_ttl_seconds=0.2, **overrides)
    built = build(settings)
    await built.start(upgrade=True)
    return built


async def _seed(container: Container, count: int) -> tuple[str, dict[str, str]]:
    owner = await make_tenant(container, "admin", "secrets:reveal")
    values = {f"secret_{i:04d}": f"value-{i:04d}-{random.randbytes(8).hex()}" for i in range(count)}
    for name, value in values.items():
        await container.secrets.create(owner.principal, name=name, value=value)
    return owner.id, values


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
async def test_rotation_of_1000_secrets_under_a_reader_loop(
    engine: str, new_database: DatabaseFactory, tmp_path: Path
) -> None:
    # No cache: every read goes to the database and sees each item as the sweep leaves it.
    container = await _fresh_container(
        new_database, engine, tmp_path, master_key=None, vault_cache_ttl_seconds=0
    )
    try:
        tenant_id, values = await _seed(container, SECRETS)
        old_key = (await container.keyring.active_key()).key_id
        names = list(values)
        reads = failures = 0
        errors: list[str] = []
        done = asyncio.Event()

        async def reader() -> None:
            nonlocal reads, failures
            while not done.is_set():
                batch = random.sample(names, 3)
                config = {name: {"secret_name": name} for name in batch}
                try:
                    resolved = await container.secrets.resolve(tenant_id, config, accessor=READER)
                    failures += sum(resolved[name] != values[name] for name in batch)
                except Exception as exc:  # any failed read fails the test, with its cause shown
                    errors.append(repr(exc))
                reads += 1
                await asyncio.sleep(0)

        progress: list[tuple[int, int]] = []
        reads_during_sweep: list[int] = []

        def on_progress(done_count: int, total: int) -> None:
            progress.append((done_count, total))
            reads_during_sweep.append(reads)

        readers = [asyncio.create_task(reader()) for _ in range(2)]
        try:
            report = await container.rotation.rotate(progress=on_progress)
        finally:
            done.set()
            await asyncio.gather(*readers)

        assert errors == []
        assert failures == 0
        assert reads_during_sweep[-1] - reads_during_sweep[0] > 10  # readers ran while items moved
        assert report.previous_key_id == old_key
        assert report.rewrapped == SECRETS
        assert report.retired == [old_key]
        assert progress[-1][0] == progress[-1][1]
        items = await all_items(container)
        assert len(items) == SECRETS
        assert {item.key_id for item in items} == {report.new_key_id}
        assert {crypto.key_id_of(item.ciphertext or b"") for item in items} == {report.new_key_id}
        # The retired key stays in the key file until pruned; every value still reads back.
        key_file = json.loads((tmp_path / "master-keys.json").read_text())
        assert [entry["id"] for entry in key_file["keys"]] == [old_key, report.new_key_id]
        assert await container.rotation.prune() == [old_key]
        key_file = json.loads((tmp_path / "master-keys.json").read_text())
        assert [entry["id"] for entry in key_file["keys"]] == [report.new_key_id]
        states = {record.key_id: record.state for record in await container.keyring.records()}
        assert states == {old_key: "retired", report.new_key_id: "active"}
    finally:
        await container.close()

    reopened = build(make_settings(tmp_path, container.settings.resolved_database_url, master_key=None))
    await reopened.start(upgrade=False)
    try:
        sample = random.sample(list(values), 20)
        resolved = await reopened.secrets.resolve(
            tenant_id, {n: {"secret_name": n} for n in sample}, accessor=READER
        )
        assert resolved == {n: values[n] for n in sample}
    finally:
        await reopened.close()


def _spec(*ids: str) -> str:
    return ",".join(
        f"{key_id}:{base64.b64encode(key_id.encode().ljust(32, b'.')).decode()}" for key_id in ids
    )


async def test_rotation_with_environment_keys_needs_a_configured_new_key(
    new_database: DatabaseFactory, tmp_path: Path
) -> None:
    url = await new_database("sqlite")
    first = build(make_settings(tmp_path, url, master_key=_spec("env-a")))
    await first.start(upgrade=True)
    try:
        await _seed(first, 5)
        with pytest.raises(ConfigurationError) as caught:
            await first.rotation.rotate(key_id="env-b")
        assert caught.value.code == "config.master_key_missing"
    finally:
        await first.close()

    second = build(
        make_settings(tmp_path, url, master_key=_spec("env-a", "env-b"), active_key_ttl_seconds=0.1)
    )
    await second.start(upgrade=False)
    try:
        assert (await second.keyring.active_key()).key_id == "env-a"  # a new key is not active by itself
        report = await second.rotation.rotate(key_id="env-b")
        assert report.rewrapped == 5
        assert report.retired == ["env-a"]
        assert {item.key_id for item in await all_items(second)} == {"env-b"}
    finally:
        await second.close()


async def test_a_key_whose_material_changed_is_refused(new_database: DatabaseFactory, tmp_path: Path) -> None:
    url = await new_database("sqlite")
    first = build(make_settings(tmp_path, url, master_key=_spec("same-id")))
    await first.start(upgrade=True)
    await first.close()
    other_material = "same-id:" + base64.b64encode(b"x" * 32).decode()
    second = build(make_settings(tmp_path, url, master_key=other_material))
    with pytest.raises(ConfigurationError) as caught:
        await second.start(upgrade=False)
    assert caught.value.code == "config.master_key_mismatch"
    await second.close()


async def test_an_active_key_missing_here_is_refused(new_database: DatabaseFactory, tmp_path: Path) -> None:
    url = await new_database("sqlite")
    first = build(make_settings(tmp_path, url, master_key=_spec("k-old", "k-new")))
    await first.start(upgrade=True)
    await first.close()
    second = build(make_settings(tmp_path, url, master_key=_spec("k-old")))
    with pytest.raises(ConfigurationError) as caught:
        await second.start(upgrade=False)
    assert caught.value.code == "config.master_key_missing"
    assert "k-new" in caught.value.detail
    await second.close()


async def test_rotating_to_a_key_id_in_use_is_refused(new_database: DatabaseFactory, tmp_path: Path) -> None:
    container = await _fresh_container(new_database, "sqlite", tmp_path, master_key=None)
    try:
        await _seed(container, 2)
        active = (await container.keyring.active_key()).key_id
        with pytest.raises(Conflict) as caught:
            await container.rotation.rotate(key_id=active)
        assert caught.value.code == "vault.key_id_taken"
        report = await container.rotation.rotate(key_id="k-second")
        with pytest.raises(Conflict):
            await container.rotation.rotate(key_id=active)  # retired ids stay taken
        assert report.retired == [active]
        assert await container.rotation.prune() == [active]
        assert [k.key_id for k in container.keyring.source.load()] == ["k-second"]
    finally:
        await container.close()


async def test_a_write_in_flight_during_rotation_keeps_its_key(
    new_database: DatabaseFactory, tmp_path: Path
) -> None:
    """A value sealed under the old key but stored after the sweep: the key is not retired, nothing is lost."""
    container = await _fresh_container(new_database, "sqlite", tmp_path, master_key=None)
    try:
        owner = await make_tenant(container, "admin", "secrets:reveal")
        old_key = (await container.keyring.active_key()).key_id
        late = await container.vault.seal(
            owner.id, "secret_version", "sev_late", b"late-value"
        )  # picked k_old
        report = await container.rotation.rotate()
        async with container.db.transaction() as tx:  # ...and only now reaches the database
            await tx.vault_items.add(late)
        assert report.retired == [old_key]  # nothing referenced it when the sweep ended
        # The material is still in the key file, so the late item opens; prune refuses to drop it.
        opened = await container.vault.open([late], READER, {late.id: ("secret_version", "sev_late")})
        assert opened[late.id] == b"late-value"
        assert await container.rotation.prune() == []
        resumed = await container.rotation.resume()
        assert resumed.rewrapped == 1
        assert await container.rotation.prune() == [old_key]
    finally:
        await container.close()


async def test_a_damaged_item_is_skipped_and_reported(new_database: DatabaseFactory, tmp_path: Path) -> None:
    container = await _fresh_container(new_database, "sqlite", tmp_path, master_key=None)
    try:
        await _seed(container, 3)
        [damaged, *_] = await all_items(container)
        blob = bytearray(damaged.ciphertext or b"")
        blob[30] ^= 0xFF  # inside the wrapped data key
        async with container.db.transaction() as tx:
            await tx.conn.execute(
                vault_items.update().where(vault_items.c.id == damaged.id).values(ciphertext=bytes(blob))
            )
        report = await container.rotation.rotate()
        assert report.rewrapped == 2
        assert report.failed == {damaged.id: "vault.decrypt_failed"}
        assert report.still_referenced == {report.previous_key_id: 1}
        assert report.retired == []
        again = await container.rotation.resume()  # no new key is made
        assert again.new_key_id == report.new_key_id
        assert len(container.keyring.source.load()) == 2
    finally:
        await container.close()


async def test_a_node_without_the_active_key_refuses_to_seal(
    new_database: DatabaseFactory, tmp_path: Path
) -> None:
    url = await new_database("sqlite")
    lagging = build(make_settings(tmp_path / "a", url, master_key=_spec("k1"), active_key_ttl_seconds=0.05))
    await lagging.start(upgrade=True)
    current = build(make_settings(tmp_path / "b", url, master_key=_spec("k1", "k2")))
    await current.start(upgrade=False)
    try:
        await current.rotation.rotate(key_id="k2")
        await asyncio.sleep(0.1)
        owner = await make_tenant(current, "admin")
        with pytest.raises(Unavailable) as caught:
            await lagging.secrets.create(owner.principal, name="x", value="value-x")
        assert caught.value.code == "vault.active_key_missing"
    finally:
        await lagging.close()
        await current.close()
