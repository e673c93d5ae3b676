"""The hosted connect page at a connect session's ``connect_url``, against a real provider peer on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from markupsafe import escape

from switchyard.core.auth import tokens
from switchyard.core.clock import utcnow
from switchyard.core.ids import new_id
from switchyard.core.manifest.schema import FormField
from switchyard.core.models import ConnectSession
from switchyard.services.connect_page import Field, Offered, read_form
from switchyard.services.container import Container
from tests.conftest import KEYED_API_KEY, TenantFixture
from tests.flows.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT, Peers, approve_at_provider
from tests.peers.oauth_server import running_oauth_server
from tests.peers.provider_api import ProviderApiPeer, running_provider_api
from tests.web.conftest import console_client

XSS = "<script>alert(1)</script>"
ATTR_XSS = '"><img src=x onerror=alert(1)>'


def keyed_definition(
    url: str, *, display_name: str = "Keyed API", description: str = "A keyed test API"
) -> str:
    return f"""
name: keyed
version: 1.0.0
displayName: {json.dumps(display_name)}
description: {json.dumps(description)}
authenticationMethods:
  - type: api_key
    credentials:
      api_key: {{title: API key, secret: true, description: Find it under Settings}}
    inject: {{in: header, name: X-Api-Key, format: "{{{{api_key}}}}"}}
connectionConfig:
  region: {{title: Region, enum: [eu, us], default: eu}}
  workspace: {{title: Workspace, pattern: "^[a-z]+$", description: Your workspace name}}
  limit: {{title: Page size, type: integer, required: false}}
  sandbox: {{title: Use the sandbox, type: boolean, required: false}}
proxy: {{baseUrl: "{url}"}}
verification: {{path: /user}}
"""


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx2.AsyncClient]:
    async with console_client(container) as browser:
        yield browser


async def add_keyed(
    client: httpx2.AsyncClient, tenant: TenantFixture, url: str, *keys: str, **definition: str
) -> None:
    headers = {**tenant.headers, "content-type": "application/yaml"}
    put = await client.put(
        "/api/v1/connectors/keyed", content=keyed_definition(url, **definition), headers=headers
    )
    assert put.status_code == 200, put.text
    for key in keys or ("keyed",):
        body = {"key": key, "connector_id": "keyed", "auth_provider": "direct", "auth_type": "api_key"}
        made = await client.post("/api/v1/integrations", json=body, headers=tenant.headers)
        assert made.status_code == 201, made.text


async def new_session(client: httpx2.AsyncClient, tenant: TenantFixture, **extra: object) -> str:
    body = {"end_user": {"id": "u42"}, **extra}
    made = await client.post("/api/v1/connect-sessions", json=body, headers=tenant.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


async def connections_of(client: httpx2.AsyncClient, tenant: TenantFixture) -> list[dict[str, object]]:
    listed = await client.get("/api/v1/connections", params={"end_user_id": "u42"}, headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    return list(listed.json()["connections"])


def good_form(token: str, key: str = KEYED_API_KEY) -> dict[str, str]:
    return {
        "session": token,
        "credentials.api_key": key,
        "config.region": "us",
        "config.workspace": "acme",
        "config.limit": "50",
        "config.sandbox": "true",
    }


def assert_no_form(page: str) -> None:
    assert "<form" not in page and "data-integration=" not in page and "connect-button" not in page


async def test_a_live_session_offers_its_integrations_and_the_definitions_fields(
    client: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await add_keyed(client, tenant, keyed_api.url, "keyed", "keyed-eu", "not-offered")
    token = await new_session(client, tenant, allowed_integrations=["keyed", "keyed-eu"])

    listing = await client.get("/connect", params={"session": token})
    assert listing.status_code == 200, listing.text
    assert "script-src 'self'" in listing.headers["content-security-policy"]
    assert listing.headers["cache-control"] == "no-store"
    assert 'data-integration="keyed"' in listing.text and 'data-integration="keyed-eu"' in listing.text
    assert "not-offered" not in listing.text
    assert "<form" not in listing.text  # first a choice
    assert "<script>" not in listing.text and "style=" not in listing.text

    chosen = await client.get("/connect", params={"session": token, "integration": "keyed"})
    page = chosen.text
    assert chosen.status_code == 200
    assert 'id="step-config"' in page and 'id="connect-button"' in page and 'aria-current="step"' in page
    assert 'action="/connect/keyed"' in page and 'method="post"' in page
    assert re.search(
        r'<input id="f-credentials-api_key" name="credentials.api_key" type="password"[^>]* required', page
    )
    assert 'aria-describedby="f-credentials-api_key-hint"' in page and "Find it under Settings" in page
    assert re.search(r'<select id="f-config-region" name="config.region" required', page)
    assert '<option value="us">us</option>' in page and '<option value="eu" selected>eu</option>' in page
    assert re.search(r'name="config.workspace" type="text"[^>]* required pattern="\^\[a-z\]\+\$"', page)
    assert re.search(r'name="config.limit" type="number" step="1"', page)
    assert not re.search(r'name="config.limit"[^>]* required', page)
    assert re.search(r'type="checkbox" id="f-config-sandbox" name="config.sandbox" value="true"', page)
    assert f'name="session" value="{token}"' in page
    assert "csrf_token" not in page  # the session token is the credential here, not a cookie

    refused = await client.get("/connect", params={"session": token, "integration": "not-offered"})
    assert refused.status_code == 404 and "connect_session.integration_not_allowed" in refused.text
    assert_no_form(refused.text)

    only_one = await new_session(client, tenant, allowed_integrations=["keyed-eu"])
    straight = await client.get("/connect", params={"session": only_one})
    assert 'id="step-config"' in straight.text and 'action="/connect/keyed-eu"' in straight.text


async def test_an_api_key_connects_once_and_the_link_is_then_spent(
    client: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await add_keyed(client, tenant, keyed_api.url)
    token = await new_session(client, tenant)

    done = await client.post("/connect/keyed", data=good_form(token))
    assert done.status_code == 200, done.text
    assert 'id="step-success"' in done.text and "Connected. You can close this window." in done.text
    assert keyed_api.request_log[-1].credential == KEYED_API_KEY  # checked live with the provider
    [made] = await connections_of(client, tenant)
    assert made["status"] == "active"
    assert made["config"] == {"region": "us", "workspace": "acme", "limit": 50, "sandbox": True}

    again = await client.get("/connect", params={"session": token})
    assert again.status_code == 410
    assert (
        "This link was already used" in again.text
        and "Ask the application for a new connect link." in again.text
    )
    assert "connect_session.used" in again.text
    assert_no_form(again.text)
    replay = await client.post("/connect/keyed", data=good_form(token))
    assert replay.status_code == 410 and "This link was already used" in replay.text
    as_json = await client.post(
        "/connect/keyed", data=good_form(token), headers={"Accept": "application/json"}
    )
    assert as_json.status_code == 410 and as_json.json()["code"] == "connect_session.used"
    assert len(await connections_of(client, tenant)) == 1


async def test_a_return_url_gets_the_result_and_scripts_get_json(
    client: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await add_keyed(client, tenant, keyed_api.url)
    back = "https://app.example.com/connected?tab=1"
    token = await new_session(client, tenant, return_url=back)
    page = (await client.get("/connect", params={"session": token})).text
    assert 'data-return-origin="https://app.example.com"' in page
    assert 'data-return-url="https://app.example.com/connected?tab=1"' in page

    redirected = await client.post("/connect/keyed", data=good_form(token))
    assert redirected.status_code == 303
    location = urlsplit(redirected.headers["location"])
    assert (location.netloc, location.path) == ("app.example.com", "/connected")
    query = parse_qs(location.query)
    assert query["tab"] == ["1"] and query["status"] == ["success"]
    [made] = await connections_of(client, tenant)
    assert query["connection_id"] == [made["id"]]

    second = await new_session(client, tenant, return_url=back)
    fetched = await client.post(
        "/connect/keyed", data=good_form(second), headers={"Accept": "application/json"}
    )
    assert fetched.status_code == 201
    assert fetched.json()["ok"] is True and fetched.json()["integration"] == "keyed"
    assert fetched.json()["connection_id"].startswith("con")


async def test_an_expired_link_shows_a_clear_page_and_creates_nothing(
    client: httpx2.AsyncClient, container: Container, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await add_keyed(client, tenant, keyed_api.url)
    await new_session(client, tenant)  # makes the end user
    async with container.db.transaction(write=False) as tx:
        user = await tx.end_users.get(tenant.id, "u42")
    assert user is not None
    token = tokens.new_token("cs_")
    past = utcnow() - timedelta(hours=1)
    expired = ConnectSession(
        id=new_id("cse"), tenant_id=tenant.id, token_digest=tokens.digest(token), end_user_id=user.id,
        allowed_integrations=(), return_url=None, expires_at=past, created_at=past - timedelta(minutes=30),
    )  # fmt: skip
    async with container.db.transaction() as tx:
        await tx.connect_sessions.add(expired)

    for answer in (
        await client.get("/connect", params={"session": token}),
        await client.get("/connect", params={"session": "cs_unknown"}),
        await client.get("/connect"),
        await client.post("/connect/keyed", data=good_form(token)),
    ):
        assert answer.status_code == 401
        assert "text/html" in answer.headers["content-type"]
        assert "This link has expired" in answer.text
        assert "Ask the application for a new connect link." in answer.text
        assert "connect_session.invalid" in answer.text
        assert_no_form(answer.text)
    assert await connections_of(client, tenant) == []


async def test_a_wrong_key_shows_the_providers_reason_and_the_link_stays_usable(
    client: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await add_keyed(client, tenant, keyed_api.url)
    token = await new_session(client, tenant, return_url="https://app.example.com/back")

    refused = await client.post("/connect/keyed", data=good_form(token, key="pk_wrong"))
    assert refused.status_code == 422
    page = refused.text
    assert 'id="step-error"' in page and "connection.verification_failed" in page
    assert "Keyed API answered 401: The api_key credential is not valid." in page
    assert "Check the credentials with the provider and enter them again." in page
    assert re.search(
        r'<a class="button" id="retry-link" href="/connect\?session=[^"]+&amp;integration=keyed">', page
    )
    assert "https://app.example.com/back?status=error&amp;error=connection.verification_failed" in page

    as_json = await client.post(
        "/connect/keyed", data=good_form(token, key="pk_wrong"), headers={"Accept": "application/json"}
    )
    assert as_json.status_code == 422 and as_json.json()["code"] == "connection.verification_failed"

    bad_input = good_form(token)
    bad_input["config.workspace"] = "Not Lowercase"
    bad_input["config.limit"] = "many"
    invalid = await client.post("/connect/keyed", data=bad_input)
    assert invalid.status_code == 422
    assert "limit must be a integer" in invalid.text and "workspace does not match" in invalid.text

    assert await connections_of(client, tenant) == []
    still = await client.get("/connect", params={"session": token})
    assert still.status_code == 200 and 'id="connect-button"' in still.text
    assert (await client.post("/connect/keyed", data=good_form(token))).status_code == 303


async def test_provider_controlled_text_is_rendered_inert(
    client: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await add_keyed(client, tenant, keyed_api.url, "keyed", "keyed-2", display_name=XSS, description=ATTR_XSS)
    token = await new_session(client, tenant)
    pages = [
        (await client.get("/connect", params={"session": token})).text,
        (await client.get("/connect", params={"session": token, "integration": "keyed"})).text,
        (await client.post("/connect/keyed", data=good_form(token, key="pk_wrong"))).text,
    ]
    for page in pages:
        assert XSS not in page and ATTR_XSS not in page
        assert str(escape(XSS)) in page and "<img" not in page
    assert str(escape(ATTR_XSS)) in pages[0]
    assert f"{escape(XSS)} answered 401" in pages[2]


async def test_a_post_from_another_site_is_refused(
    client: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await add_keyed(client, tenant, keyed_api.url)
    token = await new_session(client, tenant)
    foreign = await client.post(
        "/connect/keyed", data=good_form(token), headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "connect.cross_origin" in foreign.text
    assert await connections_of(client, tenant) == []
    own = await client.post("/connect/keyed", data=good_form(token), headers={"Origin": "https://testserver"})
    assert own.status_code == 200 and 'id="step-success"' in own.text


@pytest.fixture
async def oauth_peers() -> AsyncIterator[Peers]:
    async with running_oauth_server() as oauth, running_provider_api(oauth=oauth) as api:
        oauth.register_client(
            CLIENT_ID, CLIENT_SECRET, redirect_uris=[REDIRECT], scopes=["read"],
            grant_types=["authorization_code", "refresh_token"],
        )  # fmt: skip
        yield Peers(oauth, api)


async def test_an_oauth_integration_signs_in_through_a_popup_that_reports_to_the_page(
    client: httpx2.AsyncClient, container: Container, tenant: TenantFixture, oauth_peers: Peers
) -> None:
    headers = {**tenant.headers, "content-type": "application/yaml"}
    put = await client.put("/api/v1/connectors/peer", content=oauth_peers.definition(), headers=headers)
    assert put.status_code == 200, put.text
    body = {
        "key": "peer", "connector_id": "peer", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "redirect_url": REDIRECT,
    }  # fmt: skip
    assert (await client.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    token = await new_session(client, tenant, allowed_integrations=["peer"])

    page = (await client.get("/connect", params={"session": token})).text
    assert 'action="/oauth/authorize"' in page and 'method="get"' in page and 'data-popup="true"' in page
    assert '<input type="hidden" name="mode" value="redirect">' in page
    assert 'name="credentials.' not in page  # the provider asks for the password, not us

    start = await client.get(
        "/oauth/authorize", params={"session": token, "integration": "peer", "mode": "hosted"}
    )
    assert start.status_code == 302, start.text
    back = await approve_at_provider(start.headers["location"])
    done = await client.get("/oauth/callback", params=back)
    assert done.status_code == 200, done.text
    own_origin = json.dumps(container.settings.public_base_url)
    assert f"window.opener.postMessage(d,{own_origin})" in done.text
    assert '"type": "switchyard:connect"' in done.text and '"status": "success"' in done.text
    [made] = await connections_of(client, tenant)
    assert made["id"] in done.text and made["status"] == "active"


def test_form_strings_become_the_fields_types() -> None:
    def field(name: str, **spec: object) -> Field:
        return Field(name, f"config.{name}", FormField.model_validate({"title": name, **spec}))

    offered = Offered(
        key="k", connector_id="c", display_name="C", description="", icon=None, auth_type="api_key", redirect=False,
        popup=False, credential_fields=(Field("api_key", "credentials.api_key", FormField(title="K", secret=True)),),
        config_fields=(
            field("n", type="integer"), field("x", type="number"), field("on", type="boolean"),
            field("off", type="boolean"), field("name"), field("empty"), field("bad", type="integer"),
        ),
    )  # fmt: skip
    form = {"config.n": "7", "config.x": "2.5", "config.on": "true", "config.name": "  acme ",
            "config.empty": "", "config.bad": "seven", "credentials.api_key": " k ", "config.extra": "1"}  # fmt: skip
    credentials, config = read_form(offered, form)
    assert credentials == {"api_key": " k "}  # secrets are taken as typed
    assert config == {"n": 7, "x": 2.5, "on": True, "off": False, "name": "acme", "bad": "seven"}
