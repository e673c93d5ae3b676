"""Signing in to the console: sessions, the generic failure, its rate limit, CSRF, and the set-up link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.services.container import Container, build
from switchyard.web.guard import CSRF_COOKIE, SESSION_COOKIE
from tests.conftest import DatabaseFactory, make_settings
from tests.web.conftest import OPERATOR_PASSWORD, Console, console_client, csrf_of, sign_in


def _set_cookie_headers(response: httpx2.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


async def test_signing_in_sets_a_secure_http_only_session_cookie(signed_out: Console) -> None:
    answer = await sign_in(signed_out.client, signed_out.email, OPERATOR_PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/connectors"
    (session,) = [c for c in _set_cookie_headers(answer) if c.startswith(SESSION_COOKIE)]
    flags = session.lower()
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    page = await signed_out.client.get("/console/connectors")
    assert page.status_code == 200
    assert signed_out.email in page.text


async def test_the_sign_in_page_sets_the_csrf_cookie_secure_and_http_only(signed_out: Console) -> None:
    page = await signed_out.client.get("/console/login")
    (cookie,) = [c for c in _set_cookie_headers(page) if c.startswith(CSRF_COOKIE)]
    assert "secure" in cookie.lower() and "httponly" in cookie.lower()
    assert "default-src 'self'" in page.headers["content-security-policy"]


async def test_signed_out_visitors_are_sent_to_sign_in_and_back(signed_out: Console) -> None:
    answer = await signed_out.client.get("/console/connections?status=error")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fconnections%3Fstatus%3Derror"
    token = csrf_of((await signed_out.client.get("/console/login")).text)
    form = {"csrf_token": token, "email": signed_out.email, "password": OPERATOR_PASSWORD}
    back = await signed_out.client.post(
        "/console/login", data={**form, "next": "/console/connections?status=error"}
    )
    assert back.headers["location"] == "/console/connections?status=error"
    elsewhere = await signed_out.client.post("/console/login", data={**form, "next": "//evil.example/x"})
    assert elsewhere.headers["location"] == "/console/connectors"


async def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_message(
    signed_out: Console,
) -> None:
    wrong = await sign_in(signed_out.client, signed_out.email, "not the password at all")
    unknown = await sign_in(signed_out.client, "nobody@example.com", OPERATOR_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or password is not right." in wrong.text
    assert "The email or password is not right." in unknown.text
    assert not [c for c in _set_cookie_headers(wrong) if c.startswith(SESSION_COOKIE)]
    assert "not the password at all" not in wrong.text  # a password is never echoed
    assert (await signed_out.client.get("/console/connectors")).status_code == 303


async def test_repeated_failures_are_rate_limited_even_with_the_right_password_after(
    signed_out: Console,
) -> None:
    for _ in range(10):
        assert (await sign_in(signed_out.client, signed_out.email, "wrong password 123")).status_code == 401
    limited = await sign_in(signed_out.client, signed_out.email, OPERATOR_PASSWORD)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "Too many sign-in attempts" in limited.text
    assert not [c for c in _set_cookie_headers(limited) if c.startswith(SESSION_COOKIE)]


async def test_a_form_without_its_csrf_token_is_refused_with_403(signed_out: Console) -> None:
    await signed_out.client.get("/console/login")  # the browser holds the CSRF cookie
    missing = await signed_out.client.post(
        "/console/login", data={"email": signed_out.email, "password": OPERATOR_PASSWORD}
    )
    assert missing.status_code == 403
    assert "csrf.missing" in missing.text
    assert not [c for c in _set_cookie_headers(missing) if c.startswith(SESSION_COOKIE)]
    forged = await signed_out.client.post(
        "/console/login",
        data={"csrf_token": "x" * 43, "email": signed_out.email, "password": OPERATOR_PASSWORD},
    )
    assert forged.status_code == 403
    assert "csrf.mismatch" in forged.text


async def test_a_request_from_another_origin_is_refused(console: Console) -> None:
    token = await console.csrf("/console/integrations")
    answer = await console.client.post(
        "/console/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert "csrf.cross_origin" in answer.text
    assert (await console.client.get("/console/integrations")).status_code == 200  # still signed in


async def test_signing_out_ends_the_session(console: Console) -> None:
    token = await console.csrf("/console/integrations")
    cookie = console.client.cookies.get(SESSION_COOKIE)
    out = await console.client.post("/console/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await console.client.get("/console/integrations")).status_code == 303
    async with console_client(console.container) as other:  # the old cookie is dead everywhere
        other.cookies.set(SESSION_COOKIE, cookie or "")
        assert (await other.get("/console/integrations")).status_code == 303


@pytest.fixture
async def empty(new_database: DatabaseFactory, tmp_path: Path) -> AsyncIterator[Container]:
    """A container over a database of its own, with no console user yet."""
    built = build(make_settings(tmp_path, await new_database("sqlite")))
    await built.start(upgrade=True)
    yield built
    await built.close()


async def test_the_set_up_link_creates_the_first_user_once(empty: Container) -> None:
    container = empty
    link = await container.console.setup_link()
    assert link is not None
    path = link.split("://", 1)[1].split("/", 1)[1]
    async with console_client(container) as client:
        page = await client.get("/" + path)
        assert page.status_code == 200
        token = path.split("token=", 1)[1]
        form = {"csrf_token": csrf_of(page.text), "token": token, "tenant": "acme-setup"}
        short = await client.post(
            "/console/setup", data={**form, "email": "a@example.com", "password": "short"}
        )
        assert short.status_code == 422
        done = await client.post(
            "/console/setup", data={**form, "email": "a@example.com", "password": OPERATOR_PASSWORD}
        )
        assert done.status_code == 303
        assert (await client.get("/console/connectors")).status_code == 200
        again = await client.get("/" + path)
        assert again.status_code in (401, 409)
        assert "console.setup" in again.text
    assert await container.console.setup_link() is None


async def test_the_sign_in_page_warns_when_the_browser_would_refuse_its_cookies(container: Container) -> None:
    transport = httpx2.ASGITransport(app=create_app(container=container))
    async with httpx2.AsyncClient(transport=transport, base_url="http://console.example.com") as plain:
        assert 'id="login-insecure"' in (await plain.get("/console/login")).text
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as local:
        assert 'id="login-insecure"' not in (await local.get("/console/login")).text
    async with console_client(container) as secure:
        assert 'id="login-insecure"' not in (await secure.get("/console/login")).text
