"""The vault through the services: bindings, tampering, missing keys, the access audit, references."""

from __future__ import annotations

from datetime import timedelta

import pytest

from switchyard.adapters.db.tables import secrets, vault_access_log
from switchyard.core import crypto
from switchyard.core.clock import utcnow
from switchyard.core.errors import DecryptFailed, InvalidInput, NotFound, SwitchyardError
from switchyard.services.container import Container
from switchyard.services.secrets import SecretChanges
from switchyard.services.vault import Accessor
from tests.conftest import TenantFixture, make_tenant
from tests.services.helpers import item_of_secret, overwrite_ciphertext

ACCESSOR = Accessor("connection:con_1", "proxy.request")


async def _reveal_failure(container: Container, tenant: TenantFixture, name: str) -> DecryptFailed:
    with pytest.raises(DecryptFailed) as caught:
        await container.secrets.get(tenant.principal, name, reveal=True)
    return caught.value


async def _log(container: Container, tenant: TenantFixture, name: str) -> list[tuple[str, str | None]]:
    log = await container.secrets.access_log(tenant.principal, name, before=None, limit=50)
    return [(entry.outcome, entry.error_code) for entry in log.entries.items]


async def test_ciphertext_copied_to_another_tenant_does_not_decrypt(container: Container) -> None:
    alice, bob = (
        await make_tenant(container, "admin", "secrets:reveal"),
        await make_tenant(container, "admin", "secrets:reveal"),
    )
    await container.secrets.create(alice.principal, name="shared_name", value="alice-secret-value")
    await container.secrets.create(bob.principal, name="shared_name", value="bob-secret-value")
    alice_item = await item_of_secret(container, alice.id, "shared_name")
    bob_item = await item_of_secret(container, bob.id, "shared_name")
    assert alice_item.ciphertext is not None

    await overwrite_ciphertext(container, bob_item.id, alice_item.ciphertext)

    failure = await _reveal_failure(container, bob, "shared_name")
    assert failure.code == "vault.decrypt_failed"
    assert "alice-secret-value" not in str(failure.detail)
    assert await _log(container, bob, "shared_name") == [("failed", "vault.decrypt_failed")]
    # Alice's own value is untouched.
    assert (
        await container.secrets.get(alice.principal, "shared_name", reveal=True)
    ).value == "alice-secret-value"


async def test_ciphertext_copied_to_another_row_of_the_same_tenant_does_not_decrypt(
    container: Container,
) -> None:
    owner = await make_tenant(container, "admin", "secrets:reveal")
    await container.secrets.create(owner.principal, name="one", value="first-value")
    await container.secrets.create(owner.principal, name="two", value="second-value")
    one = await item_of_secret(container, owner.id, "one")
    two = await item_of_secret(container, owner.id, "two")
    assert one.ciphertext is not None
    await overwrite_ciphertext(container, two.id, one.ciphertext)
    assert (await _reveal_failure(container, owner, "two")).code == "vault.decrypt_failed"


async def test_corrupted_ciphertext_is_a_clean_audited_failure(container: Container) -> None:
    owner = await make_tenant(container, "admin", "secrets:reveal")
    await container.secrets.create(owner.principal, name="damaged", value="a-value-to-damage")
    item = await item_of_secret(container, owner.id, "damaged")
    assert item.ciphertext is not None
    damaged = bytearray(item.ciphertext)
    damaged[-1] ^= 0xFF
    await overwrite_ciphertext(container, item.id, bytes(damaged))

    assert (await _reveal_failure(container, owner, "damaged")).code == "vault.decrypt_failed"
    assert await _log(container, owner, "damaged") == [("failed", "vault.decrypt_failed")]


async def test_a_missing_master_key_is_named_and_audited(container: Container) -> None:
    owner = await make_tenant(container, "admin", "secrets:reveal")
    await container.secrets.create(owner.principal, name="orphan", value="sealed-by-a-lost-key")
    item = await item_of_secret(container, owner.id, "orphan")
    lost = crypto.MasterKey.generate("lost-key")
    blob = crypto.seal(
        b"sealed-by-a-lost-key", lost, crypto.Binding(owner.id, item.owner_kind, item.owner_id)
    )
    await overwrite_ciphertext(container, item.id, blob)

    failure = await _reveal_failure(container, owner, "orphan")
    assert failure.code == "vault.decrypt_failed"
    assert failure.extra == {"key_id": "lost-key"}
    assert await _log(container, owner, "orphan") == [("failed", "vault.decrypt_failed")]


async def test_access_log_is_append_only_in_the_database(container: Container) -> None:
    owner = await make_tenant(container, "admin", "secrets:reveal")
    await container.secrets.create(owner.principal, name="audited", value="audited-value")
    await container.secrets.get(owner.principal, "audited", reveal=True)
    for statement in (
        vault_access_log.update()
        .where(vault_access_log.c.tenant_id == owner.id)
        .values(actor="someone-else"),
        vault_access_log.delete().where(vault_access_log.c.tenant_id == owner.id),
    ):
        with pytest.raises(SwitchyardError):
            async with container.db.transaction() as tx:
                await tx.conn.execute(statement)
    log = await container.secrets.access_log(owner.principal, "audited", before=None, limit=10)
    assert [entry.actor for entry in log.entries.items] == [owner.principal.actor]


async def test_resolve_mixes_plain_values_and_references(container: Container) -> None:
    owner = await make_tenant(container, "admin")
    await container.secrets.create(owner.principal, name="openai_api_key", value="sk-openai-123456")
    await container.secrets.create(owner.principal, name="org", value="org-abcdef")
    resolved = await container.secrets.resolve(
        owner.id,
        {"model": "gpt-3.5-turbo", "org": {"secret_name": "org"}},
        secrets_references={"api_key": {"secret_name": "openai_api_key"}},
        accessor=ACCESSOR,
    )
    assert resolved == {"model": "gpt-3.5-turbo", "org": "org-abcdef", "api_key": "sk-openai-123456"}
    log = await container.secrets.access_log(owner.principal, "openai_api_key", before=None, limit=10)
    assert log.access_count == 1
    [entry] = log.entries.items
    assert (entry.actor, entry.purpose, entry.outcome) == ("connection:con_1", "proxy.request", "ok")


async def test_resolve_counts_every_access_and_sees_new_versions(container: Container) -> None:
    owner = await make_tenant(container, "admin")
    await container.secrets.create(owner.principal, name="rotating", value="value-one")
    config = {"token": {"secret_name": "rotating"}}
    for _ in range(3):
        assert (await container.secrets.resolve(owner.id, config, accessor=ACCESSOR))["token"] == "value-one"
    await container.secrets.update(
        owner.principal, "rotating", SecretChanges(fields=frozenset({"value"}), value="value-two")
    )
    assert (await container.secrets.resolve(owner.id, config, accessor=ACCESSOR))["token"] == "value-two"
    pinned = {"token": {"secret_name": "rotating", "version": 1}}
    assert (await container.secrets.resolve(owner.id, pinned, accessor=ACCESSOR))["token"] == "value-one"
    log = await container.secrets.access_log(owner.principal, "rotating", before=None, limit=50)
    assert log.access_count == 5
    assert len(log.entries.items) == 5


async def test_resolve_refuses_missing_and_expired_secrets(container: Container) -> None:
    owner = await make_tenant(container, "admin")
    with pytest.raises(NotFound) as missing:
        await container.secrets.resolve(owner.id, {"k": {"secret_name": "nope"}}, accessor=ACCESSOR)
    assert missing.value.code == "secret.not_found"
    assert missing.value.extra == {"missing": ["nope"]}

    await container.secrets.create(owner.principal, name="short_lived", value="short-lived-value")
    async with container.db.transaction() as tx:
        await tx.conn.execute(
            secrets.update()
            .where(secrets.c.tenant_id == owner.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(InvalidInput) as expired:
        await container.secrets.resolve(owner.id, {"k": {"secret_name": "short_lived"}}, accessor=ACCESSOR)
    assert expired.value.code == "secret.expired"


async def test_resolve_is_tenant_scoped(container: Container) -> None:
    alice, bob = await make_tenant(container, "admin"), await make_tenant(container, "admin")
    await container.secrets.create(alice.principal, name="only_alice", value="alice-only-value")
    with pytest.raises(NotFound):
        await container.secrets.resolve(bob.id, {"k": {"secret_name": "only_alice"}}, accessor=ACCESSOR)


async def test_deleting_a_secret_removes_every_ciphertext_and_keeps_the_audit(container: Container) -> None:
    owner = await make_tenant(container, "admin", "secrets:reveal")
    await container.secrets.create(owner.principal, name="doomed", value="doomed-value-1")
    await container.secrets.update(
        owner.principal, "doomed", SecretChanges(fields=frozenset({"value"}), value="v2")
    )
    await container.secrets.get(owner.principal, "doomed", reveal=True)
    items = [await item_of_secret(container, owner.id, "doomed", v) for v in (1, 2)]
    await container.secrets.delete(owner.principal, "doomed")
    async with container.db.transaction(write=False) as tx:
        assert await tx.vault_items.get_many(owner.id, [i.id for i in items]) == []
        audit = await tx.access_log.page(owner.id, [i.id for i in items], before=None, limit=10)
    assert len(audit.items) == 1
