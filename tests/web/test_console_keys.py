"""The API keys page: list, create (the key shown once), revoke."""

from __future__ import annotations

import re

import pytest

from switchyard.core.errors import Unauthenticated
from tests.web.conftest import Console, csrf_of

XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'
_PLAINTEXT = re.compile(r'<code id="new-key"[^>]*>([^<]+)</code>')


async def _create(console: Console, name: str, *scopes: str, expires: str = "") -> str:
    token = csrf_of((await console.client.get("/console/api-keys")).text)
    answer = await console.client.post(
        "/console/api-keys",
        data={"csrf_token": token, "name": name, "scopes": list(scopes), "expires": expires},
    )
    assert answer.status_code == 201, answer.text
    found = _PLAINTEXT.search(answer.text)
    assert found, answer.text
    assert 'data-copy="new-key"' in answer.text and "shown only this once" in answer.text
    return found.group(1)


async def test_the_page_needs_a_signed_in_user(signed_out: Console) -> None:
    answer = await signed_out.client.get("/console/api-keys")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


async def test_the_list_and_the_form(console: Console) -> None:
    page = await console.client.get("/console/api-keys")
    assert page.status_code == 200
    assert "test" in page.text  # the tenant fixture's key
    assert 'name="scopes" value="admin" checked' in page.text
    assert 'value="connections:read">' in page.text  # offered, not checked
    assert 'value="secrets:reveal"' not in page.text  # a console user cannot grant what it lacks


async def test_create_shows_the_key_once_and_it_works(console: Console) -> None:
    plaintext = await _create(console, "billing worker", "connections:read", "proxy", expires="30")
    principal = await console.container.api_keys.authenticate(plaintext)
    assert principal.tenant_id == console.tenant.id
    assert principal.scopes == frozenset({"connections:read", "proxy"})
    listed = (await console.client.get("/console/api-keys")).text
    assert "billing worker" in listed and plaintext not in listed
    (key,) = [
        k
        for k in await console.container.api_keys.list_keys(console.tenant.id)
        if k.id == principal.api_key_id
    ]
    assert f"syk_{key.lookup}_…" in listed and "connections:read" in listed  # the lookup prefix: an index


async def test_revoke(console: Console) -> None:
    plaintext = await _create(console, "short lived", "admin")
    principal = await console.container.api_keys.authenticate(plaintext)
    page = (await console.client.get("/console/api-keys")).text
    assert f'action="/console/api-keys/{principal.api_key_id}/revoke"' in page
    assert 'data-confirm="Revoke the key short lived?' in page
    answer = await console.client.post(
        f"/console/api-keys/{principal.api_key_id}/revoke", data={"csrf_token": csrf_of(page)}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/api-keys"
    with pytest.raises(Unauthenticated):
        await console.container.api_keys.authenticate(plaintext)
    assert "badge revoked" in (await console.client.get("/console/api-keys")).text


async def test_refusals_are_shown_in_the_page(console: Console) -> None:
    token = csrf_of((await console.client.get("/console/api-keys")).text)
    no_scope = await console.client.post("/console/api-keys", data={"csrf_token": token, "name": "x"})
    assert no_scope.status_code == 422 and "api_key.invalid_scope" in no_scope.text
    beyond = await console.client.post(
        "/console/api-keys", data={"csrf_token": token, "name": "x", "scopes": ["secrets:reveal"]}
    )
    assert beyond.status_code == 403 and "api_key.scope_escalation" in beyond.text
    assert 'id="key-error"' in beyond.text


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(console: Console) -> None:
    before = await console.container.api_keys.list_keys(console.tenant.id)
    answer = await console.client.post("/console/api-keys", data={"name": "sneaky", "scopes": ["admin"]})
    assert answer.status_code == 403 and "csrf.missing" in answer.text
    assert await console.container.api_keys.list_keys(console.tenant.id) == before


async def test_key_names_render_inert(console: Console) -> None:
    await _create(console, XSS + XSS_ATTR, "admin")
    page = (await console.client.get("/console/api-keys")).text
    assert XSS not in page and XSS_ATTR not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
