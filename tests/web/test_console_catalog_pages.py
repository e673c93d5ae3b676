"""Console pages over the catalog: the marketplace, a connector, integrations and connections."""

from __future__ import annotations

import dataclasses

import httpx2
from markupsafe import escape

from tests.conftest import TenantFixture, make_tenant
from tests.flows.test_proxy import connect_keyed, via
from tests.peers.provider_api import ProviderApiPeer
from tests.web.conftest import Console

VERIFIED = "verification: {path: /user, accountIdPath: login}\n"
PAYLOAD = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def _inert(page: str, payload: str = PAYLOAD) -> None:
    assert payload not in page
    assert "<script>alert(1)</script>" not in page
    assert str(escape(payload)) in page


async def test_the_marketplace_groups_connectors_by_category_and_filters(console: Console) -> None:
    page = await console.client.get("/console/connectors")
    assert page.status_code == 200
    assert 'data-connector="github"' in page.text
    assert 'id="shelf-development"' in page.text
    found = await console.client.get("/console/connectors", params={"q": "github"})
    assert 'data-connector="github"' in found.text
    assert 'data-connector="slack"' not in found.text
    only_api_keys = await console.client.get("/console/connectors", params={"auth": "oauth1"})
    assert 'data-connector="github"' not in only_api_keys.text
    nothing = await console.client.get("/console/connectors", params={"q": "no-such-connector-anywhere"})
    assert "No connector matches" in nothing.text


async def test_the_marketplace_shows_status_and_last_use(
    console: Console, api: httpx2.AsyncClient, keyed_api: ProviderApiPeer
) -> None:
    tenant = console.tenant
    connection_id = await connect_keyed(api, tenant, keyed_api.url)
    configured = await console.client.get("/console/connectors", params={"status": "connected"})
    assert 'data-connector="keyed"' in configured.text
    assert 'data-connector="github"' not in configured.text
    assert "Last used: never" in _tile(configured.text, "keyed")

    proxied = await api.get("/api/v1/proxy/user", headers=via(tenant, connection_id))
    assert proxied.status_code == 200, proxied.text
    await console.container.proxy.usage.flush()
    stored = await console.container.connections.get(tenant.principal, connection_id)
    assert stored.last_used_at is not None
    used = await console.client.get("/console/connectors", params={"q": "keyed"})
    assert f"Last used: {stored.last_used_at:%Y-%m-%d %H:%M} UTC" in _tile(used.text, "keyed")


def _tile(page: str, connector: str) -> str:
    """The marketplace tile of ``connector``."""
    start = page.index(f'data-connector="{connector}"')
    return page[start : page.index("</a>", start)]


async def test_a_connector_name_from_a_tenant_definition_is_rendered_inert(console: Console) -> None:
    source = f"""
name: hostile
version: 1.0.0
displayName: {PAYLOAD!r}
description: {PAYLOAD!r}
authenticationMethods:
  - type: api_key
    credentials:
      api_key: {{title: {PAYLOAD!r}, secret: true}}
    inject: {{in: header, name: X-Key, format: "{{{{api_key}}}}"}}
"""
    await console.container.catalog.put(console.tenant.principal, "hostile", source)
    for path in (
        "/console/connectors",
        "/console/connectors/hostile",
        "/console/integrations/new?connector=hostile",
    ):
        page = await console.client.get(path)
        assert page.status_code == 200, path
        _inert(page.text)


async def test_a_connector_page_shows_auth_methods_and_actions(console: Console) -> None:
    page = await console.client.get("/console/connectors/github")
    assert page.status_code == 200
    assert "oauth2" in page.text and "api_key" in page.text
    assert "https://docs.github.com/en/rest" in page.text
    missing = await console.client.get("/console/connectors/no-such")
    assert missing.status_code == 404
    assert "connector.not_found" in missing.text


async def test_an_integration_is_created_from_the_form_and_its_secret_never_shown(console: Console) -> None:
    form = await console.client.get("/console/integrations/new", params={"connector": "github"})
    assert 'value="builtin"' in form.text and 'value="direct"' in form.text and 'value="nango"' in form.text
    made = await console.post_form(
        "/console/integrations",
        {
            "connector_id": "github",
            "key": "github-main",
            "auth_provider": "builtin",
            "auth_type": "oauth2",
            "client_id": "client-123",
            "client_secret": "very-secret-value-42",
            "scopes": "repo read:user",
        },
        page="/console/integrations/new?connector=github",
    )
    assert made.status_code == 303, made.text
    listing = await console.client.get("/console/integrations")
    assert 'data-integration="github-main"' in listing.text
    assert "client-123" in listing.text
    assert "very-secret-value-42" not in listing.text
    stored = await console.container.integrations.get(console.tenant.principal, "github-main")
    assert stored.scopes == ("repo", "read:user")


async def test_a_refused_integration_shows_the_error_and_keeps_nothing(console: Console) -> None:
    refused = await console.post_form(
        "/console/integrations",
        {
            "connector_id": "github",
            "key": "gh",
            "auth_provider": "builtin",
            "auth_type": "oauth2",
            "client_secret": "hidden-secret-77",
        },
        page="/console/integrations/new?connector=github",
    )
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert "hidden-secret-77" not in refused.text
    assert await console.container.integrations.list_integrations(console.tenant.principal) == []


async def test_an_integration_post_without_csrf_is_refused(console: Console) -> None:
    answer = await console.client.post(
        "/console/integrations",
        data={"connector_id": "github", "auth_provider": "direct", "auth_type": "api_key"},
    )
    assert answer.status_code == 403
    assert "csrf.missing" in answer.text
    assert await console.container.integrations.list_integrations(console.tenant.principal) == []


async def test_connections_list_detail_live_test_metadata_and_disconnect(
    console: Console, api: httpx2.AsyncClient, keyed_api: ProviderApiPeer
) -> None:
    connection_id = await connect_keyed(api, console.tenant, keyed_api.url, extra=VERIFIED)
    listing = await console.client.get("/console/connections")
    assert f'data-connection="{connection_id}"' in listing.text
    detail = await console.client.get(f"/console/connections/{connection_id}")
    assert detail.status_code == 200
    assert 'id="test-connection"' in detail.text
    token = await console.csrf(f"/console/connections/{connection_id}")
    tested = await console.client.post(
        f"/console/connections/{connection_id}/test",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert tested.status_code == 200
    assert tested.json()["ok"] is True
    saved = await console.client.post(
        f"/console/connections/{connection_id}/metadata",
        data={"csrf_token": token, "metadata": '{"plan": "pro"}'},
    )
    assert saved.status_code == 303
    stored = await console.container.connections.get(console.tenant.principal, connection_id)
    assert stored.metadata == {"plan": "pro"}
    bad = await console.client.post(
        f"/console/connections/{connection_id}/metadata", data={"csrf_token": token, "metadata": "[1"}
    )
    assert bad.status_code == 422
    assert "metadata must be a JSON object" in bad.text
    gone = await console.client.post(
        f"/console/connections/{connection_id}/disconnect", data={"csrf_token": token}
    )
    assert gone.status_code == 303
    assert f'data-connection="{connection_id}"' not in (await console.client.get("/console/connections")).text


async def test_a_connection_error_message_is_rendered_inert_with_its_remediation(
    console: Console, api: httpx2.AsyncClient, keyed_api: ProviderApiPeer
) -> None:
    connection_id = await connect_keyed(api, console.tenant, keyed_api.url)
    stored = await console.container.connections.get(console.tenant.principal, connection_id)
    broken = dataclasses.replace(
        stored,
        status="error",
        error_code="refresh.failed",
        error_detail=PAYLOAD,
        remediation="Reconnect " + PAYLOAD,
    )
    async with console.container.db.transaction() as tx:
        await tx.connections.update(broken)
    page = await console.client.get(f"/console/connections/{connection_id}")
    _inert(page.text)
    assert "refresh.failed" in page.text
    listing = await console.client.get("/console/connections", params={"status": "error"})
    assert f'data-connection="{connection_id}"' in listing.text


async def test_an_inline_icon_is_shown_and_a_remote_one_never_fetched(console: Console) -> None:
    icon = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnLz4="
    source = f"""
name: iconic
version: 1.0.0
displayName: Iconic
icon: "{icon}"
authenticationMethods:
  - type: api_key
    credentials:
      api_key: {{title: Key, secret: true}}
    inject: {{in: header, name: X-Key, format: "{{{{api_key}}}}"}}
"""
    await console.container.catalog.put(console.tenant.principal, "iconic", source)
    page = await console.client.get("/console/connectors/iconic")
    assert f'<img class="logo" src="{icon}"' in page.text
    github = await console.client.get("/console/connectors/github")
    assert "githubassets" not in github.text  # the catalog's https icon is not loaded
    assert 'class="logo hue-' in github.text


async def test_a_console_user_sees_only_their_own_tenant(
    console: Console, api: httpx2.AsyncClient, keyed_api: ProviderApiPeer
) -> None:
    other = await make_tenant(console.container)
    theirs = await connect_keyed(api, other, keyed_api.url)
    assert f'data-connection="{theirs}"' not in (await console.client.get("/console/connections")).text
    assert 'data-integration="keyed"' not in (await console.client.get("/console/integrations")).text
    page = await console.client.get(f"/console/connections/{theirs}")
    assert page.status_code == 404
    token = await console.csrf("/console/connections")
    tested = await console.client.post(
        f"/console/connections/{theirs}/test", headers={"X-CSRF-Token": token, "Accept": "application/json"}
    )
    assert tested.status_code == 404
    gone = await console.client.post(f"/console/connections/{theirs}/disconnect", data={"csrf_token": token})
    assert gone.status_code == 404
    assert (await other_connection_exists(console, other, theirs)) is True


async def other_connection_exists(console: Console, other: TenantFixture, connection_id: str) -> bool:
    found = await console.container.connections.get(other.principal, connection_id)
    return found.status == "active"
