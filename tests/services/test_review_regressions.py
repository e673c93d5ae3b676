"""Regressions found in review: each test names the defect it keeps from coming back."""

from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import pytest
from aiohttp import web

from switchyard.adapters.db.tables import secret_versions
from switchyard.core.clock import utcnow
from switchyard.core.errors import DecryptFailed, FatalError, Unauthenticated, Unavailable
from switchyard.core.redaction import REDACTED, redact
from switchyard.services.container import Container, build
from switchyard.services.secrets import SecretChanges
from switchyard.services.vault import Accessor
from tests.conftest import DatabaseFactory, make_settings, make_tenant
from tests.peers.external_store import running_external_store
from tests.peers.loopback import serving
from tests.services.helpers import item_of_secret

PLUS_FIVE = timezone(timedelta(hours=5))


async def test_expiry_given_with_an_offset_is_kept_exact(container: Container) -> None:
    """SQLite used to drop the offset: an expiry 'now + 2 s' at +05:00 lasted five more hours."""
    owner = await make_tenant(container, "admin")
    soon = (utcnow() + timedelta(seconds=2)).astimezone(PLUS_FIVE)
    issued = await container.api_keys.issue(owner.id, name="short", scopes=["admin"], expires_at=soon)
    async with container.db.transaction(write=False) as tx:
        stored = await tx.api_keys.get(owner.id, issued.key.id)
    assert stored is not None
    assert stored.expires_at == soon  # the same instant, whatever the offset
    later = (utcnow() + timedelta(hours=3)).astimezone(PLUS_FIVE)
    view = await container.secrets.create(
        owner.principal, name="dated", value="dated-value", expires_at=later
    )
    assert (await container.secrets.get(owner.principal, "dated")).secret.expires_at == view.secret.expires_at
    async with container.db.transaction() as tx:
        await tx.api_keys.revoke(owner.id, issued.key.id, utcnow() - timedelta(seconds=1))
    with pytest.raises(Unauthenticated):
        await container.api_keys.authenticate(issued.plaintext)


async def test_a_value_moved_under_another_secret_of_the_tenant_does_not_open(container: Container) -> None:
    """The binding comes from the referencing version, not from the item row."""
    owner = await make_tenant(container, "admin", "secrets:reveal")
    await container.secrets.create(owner.principal, name="payout_account", value="ACCOUNT-OF-OWNER-123")
    await container.secrets.create(owner.principal, name="attacker_note", value="ACCOUNT-OF-ATTACKER-999")
    attacker_item = await item_of_secret(container, owner.id, "attacker_note")
    async with container.db.transaction() as tx:
        await tx.conn.execute(
            secret_versions.update()
            .where(secret_versions.c.tenant_id == owner.id, secret_versions.c.item_id != attacker_item.id)
            .values(item_id=attacker_item.id)
        )
    with pytest.raises(DecryptFailed):
        await container.secrets.get(owner.principal, "payout_account", reveal=True)
    with pytest.raises(DecryptFailed):
        await container.secrets.resolve(
            owner.id, {"k": {"secret_name": "payout_account"}}, accessor=_reader()
        )


async def test_a_mask_follows_the_secret_type(container: Container) -> None:
    owner = await make_tenant(container, "admin")
    await container.secrets.create(owner.principal, name="pw", value="correct-horse-battery-staple")
    assert (await container.secrets.get(owner.principal, "pw")).value == "***staple"
    await container.secrets.update(
        owner.principal, "pw", SecretChanges(fields=frozenset({"type"}), type="password")
    )
    assert (await container.secrets.get(owner.principal, "pw")).value == "***"
    _, versions = await container.secrets.versions(owner.principal, "pw")
    assert [v.masked for v in versions] == ["***"]


def test_multi_line_values_are_redacted_inside_reprs() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    rendered = redact({"holder": (pem, 1), "note": repr({"k": pem})}, {pem})
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in str(rendered)
    assert REDACTED in str(rendered)


async def test_the_external_store_must_answer_2xx(new_database: DatabaseFactory, tmp_path: Path) -> None:
    async def moved(_request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "https://elsewhere.example/"})

    app = web.Application()
    app.router.add_route("*", "/items/{tenant}/{item}", moved)
    async with serving(app) as url:
        container = build(
            make_settings(
                tmp_path, await new_database("sqlite"), credential_store="external", credential_store_url=url
            )
        )
        await container.start(upgrade=True)
        try:
            owner = await make_tenant(container, "admin")
            with pytest.raises(FatalError) as caught:
                await container.secrets.create(owner.principal, name="x", value="value-x")
            assert caught.value.code == "credential_store.rejected"
            assert (await container.secrets.list_secrets(owner.principal, after=None, limit=5)).items == []
        finally:
            await container.close()


async def test_deleting_with_the_store_down_succeeds_and_a_missing_store_is_a_clear_503(
    new_database: DatabaseFactory, tmp_path: Path
) -> None:
    url = await new_database("sqlite")
    async with running_external_store() as peer:
        settings = make_settings(
            tmp_path,
            url,
            credential_store="external",
            credential_store_url=peer.url,
            credential_store_token=peer.token,
        )
        with_store = build(settings)
        await with_store.start(upgrade=True)
        owner = await make_tenant(with_store, "admin", "secrets:reveal")
        await with_store.secrets.create(owner.principal, name="gone", value="external-value-1")
        await with_store.secrets.create(owner.principal, name="kept", value="external-value-2")
        peer.failing = True
        await with_store.secrets.delete(owner.principal, "gone")  # the rows go; the orphaned blob is logged
        names = [
            v.secret.name
            for v in (await with_store.secrets.list_secrets(owner.principal, after=None, limit=5)).items
        ]
        assert names == ["kept"]
        await with_store.close()

    without_store = build(make_settings(tmp_path, url))
    await without_store.start(upgrade=False)
    try:
        with pytest.raises(Unavailable) as caught:
            await without_store.secrets.get(owner.principal, "kept", reveal=True)
        assert caught.value.code == "credential_store.unavailable"
    finally:
        await without_store.close()


def _reader() -> Accessor:
    return Accessor("test:review", "regression")
