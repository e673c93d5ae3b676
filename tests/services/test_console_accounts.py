"""Console users, sessions and the one-time set-up link, on both engines."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa

from switchyard.adapters.db.tables import console_sessions, console_setup_links, console_users
from switchyard.core.auth import tokens
from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict, InvalidInput, RateLimited, SwitchyardError, Unauthenticated
from switchyard.core.scopes import Scope
from switchyard.services.console_accounts import ConsoleAccounts
from switchyard.services.container import Container
from tests.conftest import TenantFixture

PASSWORD = "correct horse battery staple"


def _email() -> str:
    return f"Someone.{uuid.uuid4().hex[:8]}@Example.COM"


def _accounts(container: Container, **overrides: timedelta) -> ConsoleAccounts:
    return ConsoleAccounts(
        container.db,
        container.tenancy,
        container.proxy.limiter,
        public_base_url="https://switchyard.example.com",
        **overrides,
    )


async def _clear_console(container: Container) -> None:
    """The set-up tests need a database without console users (the engines are shared by the session)."""
    async with container.db.transaction() as tx:
        await tx.conn.execute(console_sessions.delete())
        await tx.conn.execute(console_users.delete())
        await tx.conn.execute(console_setup_links.delete())


async def _rows(container: Container, email: str) -> list[dict[str, object]]:
    async with container.db.transaction(write=False) as tx:
        query = console_users.select().where(console_users.c.email == email)
        return [dict(row._mapping) for row in (await tx.conn.execute(query)).all()]


async def test_create_log_in_resolve_log_out(container: Container, tenant: TenantFixture) -> None:
    email = _email()
    user = await container.console.create_user(tenant.name, email, PASSWORD)
    assert user.email == email.lower() and user.tenant_id == tenant.id
    assert "password" not in repr(user) and user.password_hash not in repr(user)
    assert [u.id for u in await container.console.list_users(tenant.id)] == [user.id]
    assert await container.console.has_users()

    signed_in = await container.console.log_in(f"  {email.upper()} ", PASSWORD, client="192.0.2.1")
    assert signed_in.token.startswith("sys_") and signed_in.user.id == user.id
    assert signed_in.token not in repr(signed_in)
    assert signed_in.expires_at > utcnow() + timedelta(hours=11)

    signed = await container.console.resolve(signed_in.token)
    assert signed.user.id == user.id and signed.user.last_login_at is not None
    assert signed.principal.tenant_id == tenant.id
    assert signed.principal.actor == f"user:{user.email}"
    assert signed.principal.scopes == frozenset({Scope.ADMIN})
    async with container.db.transaction(write=False) as tx:
        stored = (await tx.conn.execute(console_sessions.select())).all()
    assert all(signed_in.token not in str(tuple(row)) for row in stored)
    assert any(row.token_digest == tokens.digest(signed_in.token) for row in stored)

    await container.console.log_out(signed_in.token)
    await container.console.log_out(signed_in.token)  # unknown now: no error
    await container.console.log_out(None)
    for token in (signed_in.token, None, "", "sys_unknown"):
        with pytest.raises(Unauthenticated) as caught:
            await container.console.resolve(token)
        assert caught.value.code == "console.session_invalid"


async def test_the_hash_is_argon2id_and_the_password_is_not_stored(
    container: Container, tenant: TenantFixture
) -> None:
    email = _email()
    await container.console.create_user(tenant.id, email, PASSWORD)
    [row] = await _rows(container, email.lower())
    assert str(row["password_hash"]).startswith("$argon2id$")
    assert all(PASSWORD not in str(value) for value in row.values())


async def test_wrong_password_and_unknown_email_are_one_error(
    container: Container, tenant: TenantFixture
) -> None:
    email = _email()
    await container.console.create_user(tenant.name, email, PASSWORD)
    refusals = []
    for who, password in ((email, "not the right password"), (_email(), PASSWORD)):
        with pytest.raises(Unauthenticated) as caught:
            await container.console.log_in(who, password, client="192.0.2.2")
        refusals.append((caught.value.code, caught.value.detail, caught.value.remediation))
    assert refusals[0] == refusals[1]
    assert refusals[0][:2] == ("console.login_failed", "the email or password is not right")


async def test_sign_in_attempts_are_limited_per_email(container: Container, tenant: TenantFixture) -> None:
    email = _email()
    await container.console.create_user(tenant.name, email, PASSWORD)
    for attempt in range(10):
        with pytest.raises(Unauthenticated):
            await container.console.log_in(email, f"wrong password {attempt}", client=f"198.51.100.{attempt}")
    with pytest.raises(RateLimited) as caught:
        await container.console.log_in(email, PASSWORD, client="198.51.100.99")
    assert caught.value.code == "console.login_rate_limited"
    assert caught.value.retry_after > 0
    # Another email is not affected.
    other = _email()
    await container.console.create_user(tenant.name, other, PASSWORD)
    assert (
        await container.console.log_in(other, PASSWORD, client="198.51.100.99")
    ).user.email == other.lower()


async def test_sign_in_attempts_are_limited_per_client(container: Container) -> None:
    client = f"203.0.113.{uuid.uuid4().int % 250}"
    for _ in range(30):
        with pytest.raises(Unauthenticated):
            await container.console.log_in(_email(), PASSWORD, client=client)
    with pytest.raises(RateLimited):
        await container.console.log_in(_email(), PASSWORD, client=client)


@pytest.mark.parametrize(
    ("email", "password", "code"),
    [
        ("not-an-address", PASSWORD, "console_user.invalid_email"),
        ("two@@example.com", PASSWORD, "console_user.invalid_email"),
        ("nodot@localhost", PASSWORD, "console_user.invalid_email"),
        ("a" * 310 + "@example.com", PASSWORD, "console_user.invalid_email"),
        ("ok@example.com", "tiny-pw", "console_user.weak_password"),
        ("ok@example.com", "x" * 1025, "console_user.weak_password"),
    ],
)
async def test_bad_email_or_weak_password_stores_nothing(
    container: Container, tenant: TenantFixture, email: str, password: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await container.console.create_user(tenant.name, email, password)
    assert caught.value.code == code
    assert password not in str(caught.value.detail) + str(caught.value.remediation)
    assert await container.console.list_users(tenant.id) == []


async def test_a_duplicate_email_is_a_conflict(container: Container, tenant: TenantFixture) -> None:
    email = _email()
    await container.console.create_user(tenant.name, email, PASSWORD)
    other = await container.tenancy.create_tenant(f"t-{uuid.uuid4().hex[:10]}")
    with pytest.raises(Conflict) as caught:
        await container.console.create_user(other.name, email.upper(), PASSWORD)
    assert caught.value.code == "console_user.exists"
    assert await container.console.list_users(other.id) == []


async def test_an_expired_session_is_refused(container: Container, tenant: TenantFixture) -> None:
    email = _email()
    await container.console.create_user(tenant.name, email, PASSWORD)
    brief = _accounts(container, session_ttl=timedelta(milliseconds=50))
    signed_in = await brief.log_in(email, PASSWORD, client="192.0.2.3")
    await asyncio.sleep(0.1)
    with pytest.raises(Unauthenticated) as caught:
        await container.console.resolve(signed_in.token)
    assert caught.value.code == "console.session_invalid"
    live = await container.console.log_in(email, PASSWORD, client="192.0.2.3")
    done = await container.upkeep.run_once()  # the expired row goes; the live one stays
    assert done["expired_console_sessions"] >= 1
    async with container.db.transaction(write=False) as tx:
        assert await tx.console_sessions.find(tokens.digest(signed_in.token)) is None
        assert await tx.console_sessions.find(tokens.digest(live.token)) is not None


async def test_last_seen_is_written_at_most_once_a_minute(
    container: Container, tenant: TenantFixture
) -> None:
    email = _email()
    await container.console.create_user(tenant.name, email, PASSWORD)
    signed_in = await container.console.log_in(email, PASSWORD, client="192.0.2.4")
    first = await container.console.resolve(signed_in.token)
    again = await container.console.resolve(signed_in.token)
    assert again.session.last_seen_at == first.session.last_seen_at  # no write per request
    earlier = first.session.last_seen_at - timedelta(minutes=2)
    async with container.db.transaction() as tx:
        await tx.conn.execute(
            console_sessions.update()
            .where(console_sessions.c.id == first.session.id)
            .values(last_seen_at=earlier)
        )
    await container.console.resolve(signed_in.token)
    later = await container.console.resolve(signed_in.token)
    assert later.session.last_seen_at > earlier + timedelta(minutes=1)


async def test_change_password(container: Container, tenant: TenantFixture) -> None:
    email = _email()
    await container.console.create_user(tenant.name, email, PASSWORD)
    here = await container.console.log_in(email, PASSWORD, client="192.0.2.5")
    elsewhere = await container.console.log_in(email, PASSWORD, client="192.0.2.6")
    signed = await container.console.resolve(here.token)
    with pytest.raises(InvalidInput) as wrong:
        await container.console.change_password(signed, "not the password", "a brand new password")
    assert wrong.value.code == "console.password_wrong"
    with pytest.raises(InvalidInput) as weak:
        await container.console.change_password(signed, PASSWORD, "short")
    assert weak.value.code == "console_user.weak_password"
    await container.console.change_password(signed, PASSWORD, "a brand new password")
    await container.console.resolve(here.token)  # this session stays
    with pytest.raises(Unauthenticated):
        await container.console.resolve(elsewhere.token)  # the others end
    with pytest.raises(Unauthenticated):
        await container.console.log_in(email, PASSWORD, client="192.0.2.5")
    await container.console.log_in(email, "a brand new password", client="192.0.2.5")


async def test_the_setup_link_is_one_time(container: Container) -> None:
    await _clear_console(container)
    try:
        url = await container.console.setup_link()
        assert url is not None and url.startswith(
            f"{container.settings.public_base_url}/console/setup?token="
        )
        token = url.split("token=", 1)[1]
        older = (await container.console.setup_link() or "").split("token=", 1)[1]
        assert older != token
        await container.console.check_setup_token(token)
        async with container.db.transaction(write=False) as tx:
            stored = [tuple(row) for row in (await tx.conn.execute(console_setup_links.select())).all()]
        assert token not in str(stored)

        name = f"t-{uuid.uuid4().hex[:10]}"
        email = _email()
        # A typo does not burn the link.
        for bad in (
            {"email": email, "password": "short"},
            {"email": "nope", "password": PASSWORD},
        ):
            with pytest.raises(InvalidInput):
                await container.console.complete_setup(token, tenant=name, **bad)
        with pytest.raises(InvalidInput) as bad_name:
            await container.console.complete_setup(token, tenant="Not Valid", email=email, password=PASSWORD)
        assert bad_name.value.code == "tenant.invalid_name"
        await container.console.check_setup_token(token)

        signed_in = await container.console.complete_setup(token, tenant=name, email=email, password=PASSWORD)
        signed = await container.console.resolve(signed_in.token)
        made = await container.tenancy.find_tenant(name)
        assert signed.user.tenant_id == made.id and signed.user.email == email.lower()

        for again in (token, None, "setup_unknown"):
            with pytest.raises(Unauthenticated) as caught:
                await container.console.complete_setup(again, tenant=name, email=_email(), password=PASSWORD)
            assert caught.value.code == "console.setup_link_invalid"
            with pytest.raises(Unauthenticated):
                await container.console.check_setup_token(again)
        # The older, unused link: refused now that a console user exists.
        with pytest.raises(Conflict) as done:
            await container.console.complete_setup(older, tenant=name, email=_email(), password=PASSWORD)
        assert done.value.code == "console.setup_done"
        assert await container.console.setup_link() is None
        assert [u.email for u in await container.console.list_users(made.id)] == [email.lower()]
    finally:
        await _clear_console(container)


async def test_setup_uses_an_existing_tenant_and_refuses_expired_links(
    container: Container, tenant: TenantFixture
) -> None:
    await _clear_console(container)
    try:
        brief = _accounts(container, setup_ttl=timedelta(milliseconds=50))
        expired = (await brief.setup_link() or "").split("token=", 1)[1]
        await asyncio.sleep(0.1)
        with pytest.raises(Unauthenticated) as caught:
            await container.console.complete_setup(
                expired, tenant=tenant.name, email=_email(), password=PASSWORD
            )
        assert caught.value.code == "console.setup_link_invalid"

        token = (await container.console.setup_link() or "").split("token=", 1)[1]
        signed_in = await container.console.complete_setup(
            token, tenant=tenant.name, email=_email(), password=PASSWORD
        )
        assert signed_in.user.tenant_id == tenant.id
    finally:
        await _clear_console(container)


async def test_two_concurrent_setups_cannot_both_succeed(container: Container) -> None:
    await _clear_console(container)
    try:
        token = (await container.console.setup_link() or "").split("token=", 1)[1]
        name = f"t-{uuid.uuid4().hex[:10]}"
        results = await asyncio.gather(
            *(
                container.console.complete_setup(token, tenant=name, email=_email(), password=PASSWORD)
                for _ in range(2)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(result, BaseException) for result in results) == 1
        assert all(isinstance(r, SwitchyardError) for r in results if isinstance(r, BaseException))
        async with container.db.transaction(write=False) as tx:
            count = (
                await tx.conn.execute(sa.select(sa.func.count()).select_from(console_users))
            ).scalar_one()
        assert count == 1
    finally:
        await _clear_console(container)


def test_repr_hides_the_hash() -> None:
    from switchyard.core.models import ConsoleUser

    user = ConsoleUser("cus_1", "ten_1", "a@example.com", "$argon2id$secret", utcnow())
    assert "$argon2id$secret" not in repr(replace(user))
