"""The ``external`` credential store against a real HTTP peer on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchyard.core import crypto
from switchyard.core.errors import ConfigurationError, DecryptFailed, FatalError, Unavailable
from switchyard.services.container import Container, build
from switchyard.settings import Settings
from tests.conftest import DatabaseFactory, make_settings, make_tenant
from tests.peers.external_store import ExternalStorePeer, running_external_store
from tests.services.helpers import all_items, item_of_secret

VALUE = "sk-external-store-value-123456"


@pytest.fixture
async def peer() -> AsyncIterator[ExternalStorePeer]:
    async with running_external_store() as running:
        yield running


def _settings(tmp_path: Path, url: str, peer: ExternalStorePeer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "credential_store": "external",
        "credential_store_url": peer.url,
        "credential_store_token": peer.token,
    }
    return make_settings(tmp_path, url, **(values | overrides))


@pytest.fixture
async def external(
    peer: ExternalStorePeer, new_database: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[Container]:
    built = build(
        _settings(tmp_path, await new_database("sqlite"), peer, active_key_ttl_seconds=0.1, master_key=None)
    )
    await built.start(upgrade=True)
    yield built
    await built.close()


async def test_ciphertext_lives_in_the_store_and_only_sealed(
    external: Container, peer: ExternalStorePeer
) -> None:
    owner = await make_tenant(external, "admin", "secrets:reveal")
    await external.secrets.create(owner.principal, name="ext", value=VALUE)
    item = await item_of_secret(external, owner.id, "ext")
    assert item.store == "external"
    assert item.ciphertext is None
    blob = peer.blobs[(owner.id, item.id)]
    assert VALUE.encode() not in blob
    assert crypto.key_id_of(blob) == item.key_id
    assert (await external.secrets.get(owner.principal, "ext", reveal=True)).value == VALUE


async def test_store_failures_are_clear(external: Container, peer: ExternalStorePeer) -> None:
    owner = await make_tenant(external, "admin", "secrets:reveal")
    await external.secrets.create(owner.principal, name="ext", value=VALUE)
    item = await item_of_secret(external, owner.id, "ext")

    peer.failing = True
    with pytest.raises(Unavailable) as down:
        await external.secrets.get(owner.principal, "ext", reveal=True)
    assert down.value.code == "credential_store.unavailable"
    with pytest.raises(Unavailable):
        await external.secrets.create(owner.principal, name="not_stored", value="never-stored-value")
    peer.failing = False
    assert [
        v.secret.name
        for v in (await external.secrets.list_secrets(owner.principal, after=None, limit=10)).items
    ] == ["ext"]

    del peer.blobs[(owner.id, item.id)]
    with pytest.raises(DecryptFailed) as lost:
        await external.secrets.get(owner.principal, "ext", reveal=True)
    assert lost.value.code == "vault.decrypt_failed"
    log = await external.secrets.access_log(owner.principal, "ext", before=None, limit=10)
    assert [(e.outcome, e.error_code) for e in log.entries.items] == [
        ("failed", "vault.decrypt_failed"),
        ("failed", "credential_store.unavailable"),
    ]


async def test_a_wrong_store_token_is_refused(
    peer: ExternalStorePeer, new_database: DatabaseFactory, tmp_path: Path
) -> None:
    built = build(_settings(tmp_path, await new_database("sqlite"), peer, credential_store_token="wrong"))
    await built.start(upgrade=True)
    try:
        owner = await make_tenant(built, "admin")
        with pytest.raises(FatalError) as caught:
            await built.secrets.create(owner.principal, name="x", value="value-x")
        assert caught.value.code == "credential_store.rejected"
    finally:
        await built.close()


async def test_delete_removes_the_blob_and_rotation_rewrites_it(
    external: Container, peer: ExternalStorePeer
) -> None:
    owner = await make_tenant(external, "admin", "secrets:reveal")
    await external.secrets.create(owner.principal, name="kept", value=VALUE)
    await external.secrets.create(owner.principal, name="gone", value="gone-value-1234")
    gone = await item_of_secret(external, owner.id, "gone")
    await external.secrets.delete(owner.principal, "gone")
    assert (owner.id, gone.id) not in peer.blobs

    report = await external.rotation.rotate()
    assert report.rewrapped == 1
    [item] = await all_items(external)
    assert crypto.key_id_of(peer.blobs[(owner.id, item.id)]) == report.new_key_id
    assert (await external.secrets.get(owner.principal, "kept", reveal=True)).value == VALUE


def test_external_store_needs_a_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        build(make_settings(tmp_path, "sqlite+aiosqlite:///:memory:", credential_store="external"))
