"""The secrets pages: list, create, rotate, delete and the access log; values are never shown."""

from __future__ import annotations

import pytest

from switchyard.core.errors import NotFound
from switchyard.services.vault import Accessor
from tests.web.conftest import Console, csrf_of

VALUE = "sk-live-plaintext-0123456789-abcdef"
XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'


async def _create(console: Console, name: str, value: str = VALUE, **more: str) -> None:
    answer = await console.post_form(
        "/console/secrets", {"name": name, "value": value, **more}, page="/console/secrets"
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/console/secrets/{name}"


async def test_the_page_needs_a_signed_in_user(signed_out: Console) -> None:
    answer = await signed_out.client.get("/console/secrets")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=")


async def test_create_then_list_and_detail_never_show_the_value(console: Console) -> None:
    empty = await console.client.get("/console/secrets")
    assert empty.status_code == 200 and "No secrets yet" in empty.text
    assert 'type="password"' in empty.text and 'aria-current="page"' in empty.text
    await _create(console, "stripe-key", type="api_key", description="Billing")

    listed = await console.client.get("/console/secrets")
    assert "stripe-key" in listed.text and "Billing" in listed.text and "v1" in listed.text
    assert "***abcdef" in listed.text  # the service's mask, nothing more
    detail = await console.client.get("/console/secrets/stripe-key")
    assert detail.status_code == 200
    assert 'data-version="1"' in detail.text and "Nobody has opened this secret yet" in detail.text
    for page in (listed, detail):
        assert VALUE not in page.text and "plaintext" not in page.text


async def test_rotate_adds_a_version(console: Console) -> None:
    await _create(console, "rotating")
    new_value = "second-value-that-stays-hidden-999999"
    answer = await console.post_form(
        "/console/secrets/rotating/rotate", {"value": new_value}, page="/console/secrets/rotating"
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/console/secrets/rotating"
    page = (await console.client.get("/console/secrets/rotating")).text
    assert 'data-version="2"' in page and 'data-version="1"' in page
    assert "v2" in page and new_value not in page and VALUE not in page
    view = await console.container.secrets.get(console.tenant.principal, "rotating")
    assert view.secret.current_version == 2


async def test_a_refused_value_is_shown_in_the_page(console: Console) -> None:
    await _create(console, "kept")
    answer = await console.post_form(
        "/console/secrets/kept/rotate", {"value": ""}, page="/console/secrets/kept"
    )
    assert answer.status_code == 422
    assert "secret.empty_value" in answer.text and 'id="rotate-error"' in answer.text
    duplicate = await console.post_form(
        "/console/secrets", {"name": "kept", "value": "x"}, page="/console/secrets"
    )
    assert duplicate.status_code == 409 and "secret.exists" in duplicate.text


async def test_delete_removes_the_secret(console: Console) -> None:
    await _create(console, "doomed")
    page = (await console.client.get("/console/secrets/doomed")).text
    assert 'data-confirm="Delete the secret doomed' in page
    answer = await console.post_form("/console/secrets/doomed/delete", {}, page="/console/secrets/doomed")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/secrets"
    with pytest.raises(NotFound):
        await console.container.secrets.get(console.tenant.principal, "doomed")
    assert (await console.client.get("/console/secrets/doomed")).status_code == 404


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(console: Console) -> None:
    answer = await console.client.post("/console/secrets", data={"name": "sneaky", "value": VALUE})
    assert answer.status_code == 403 and "csrf.missing" in answer.text
    with pytest.raises(NotFound):
        await console.container.secrets.get(console.tenant.principal, "sneaky")


async def test_the_access_log_of_a_secret(console: Console) -> None:
    await _create(console, "opened")
    await console.container.secrets.resolve(
        console.tenant.id,
        {"token": {"secret_name": "opened"}},
        accessor=Accessor("connection:con_test", "proxy.request"),
    )
    page = (await console.client.get("/console/secrets/opened")).text
    assert "connection:con_test" in page and "proxy.request" in page
    assert "1 time," in page and VALUE not in page


async def test_user_text_renders_inert(console: Console) -> None:
    # Secret names are restricted (a letter, then letters, digits, _ . -): the description is free text.
    await _create(console, "xss", description=XSS + XSS_ATTR)
    for path in ("/console/secrets", "/console/secrets/xss"):
        page = (await console.client.get(path)).text
        assert XSS not in page and XSS_ATTR not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # a refused name is echoed in the error, escaped too
    token = csrf_of((await console.client.get("/console/secrets")).text)
    refused = await console.client.post(
        "/console/secrets", data={"csrf_token": token, "name": XSS, "value": "v"}
    )
    assert refused.status_code == 422 and "secret.invalid_name" in refused.text
    assert XSS not in refused.text and "&lt;script&gt;" in refused.text
