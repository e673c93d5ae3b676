"""The settings page: the tenant, its console users, changing one's password, the server's safe settings."""

from __future__ import annotations

from pathlib import Path

from switchyard.services.server_facts import server_facts
from tests.conftest import TEST_MASTER_KEY, make_settings
from tests.web.conftest import OPERATOR_PASSWORD, Console, console_client, csrf_of, sign_in

XSS_EMAIL = "<script>alert(1)</script>@evil.example.com"
NEW_PASSWORD = "a much longer new passphrase"


async def _change(console: Console, current: str, new: str, confirm: str | None = None) -> object:
    token = csrf_of((await console.client.get("/console/settings")).text)
    form = {
        "csrf_token": token,
        "current": current,
        "new": new,
        "confirm": new if confirm is None else confirm,
    }
    return await console.client.post("/console/settings/password", data=form)


async def test_the_page_needs_a_signed_in_user(signed_out: Console) -> None:
    answer = await signed_out.client.get("/console/settings")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


async def test_the_page_shows_the_tenant_users_and_no_secret(console: Console) -> None:
    await console.container.console.create_user(console.tenant.id, XSS_EMAIL, OPERATOR_PASSWORD)
    page = await console.client.get("/console/settings")
    assert page.status_code == 200
    html = page.text
    assert console.tenant.name in html and console.tenant.id in html and console.email in html
    settings = console.container.settings
    assert ("SQLite" if settings.is_sqlite else "PostgreSQL") in html
    assert "bubblewrap" in html and "<dd>database</dd>" in html
    assert settings.resolved_database_url not in html and str(settings.data_dir) not in html
    assert TEST_MASTER_KEY not in html and TEST_MASTER_KEY.split(":", 1)[1] not in html
    key_file = settings.resolved_master_key_file
    if key_file.exists():
        assert key_file.read_text() not in html
    # a console user's email is the one free-text value here: it renders inert
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;@evil" in html


def test_server_facts_never_hold_credentials(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        "postgresql+asyncpg://switchyard:hunter2-db-password@db.internal:5432/switchyard",
        public_base_url="https://operator:hunter3-url-password@switchyard.example.com",
        redis_url="redis://:hunter4-redis@cache:6379/0",
        credential_store_token="hunter5-store-token",
        connectors_storage="s3://bucket/prefix",
        connectors_storage_options='{"secret_access_key": "hunter6-s3"}',
    )
    facts = dict(server_facts(settings))
    shown = " ".join(facts.values())
    for leaked in ("hunter", "db.internal", "bucket", TEST_MASTER_KEY.split(":", 1)[1]):
        assert leaked not in shown
    assert facts["Database"] == "PostgreSQL" and facts["Connector package storage"] == "s3"
    assert facts["Public base URL"] == "https://switchyard.example.com"


async def test_changing_the_password(console: Console) -> None:
    answer = await _change(console, OPERATOR_PASSWORD, NEW_PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/settings?changed=password"
    page = (await console.client.get(answer.headers["location"])).text
    assert "Your password was changed" in page
    async with console_client(console.container) as other:
        assert (await sign_in(other, console.email, OPERATOR_PASSWORD)).status_code == 401
        assert (await sign_in(other, console.email, NEW_PASSWORD)).status_code == 303


async def test_a_wrong_current_password_is_shown_in_the_page(console: Console) -> None:
    wrong = await _change(console, "not the password at all", NEW_PASSWORD)
    assert wrong.status_code == 400
    assert 'id="password-error"' in wrong.text and "console.password_wrong" in wrong.text
    differ = await _change(console, OPERATOR_PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "!")
    assert differ.status_code == 400 and "console.password_mismatch" in differ.text
    weak = await _change(console, OPERATOR_PASSWORD, "short")
    assert weak.status_code == 400 and "console_user.weak_password" in weak.text
    async with console_client(console.container) as other:  # the password did not change
        assert (await sign_in(other, console.email, OPERATOR_PASSWORD)).status_code == 303


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(console: Console) -> None:
    form = {"current": OPERATOR_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    answer = await console.client.post("/console/settings/password", data=form)
    assert answer.status_code == 403 and "csrf.missing" in answer.text
    async with console_client(console.container) as other:
        assert (await sign_in(other, console.email, OPERATOR_PASSWORD)).status_code == 303
