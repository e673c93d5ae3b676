"""OAuth 1.0a end to end: request token -> the Authlib peer approves -> access token -> a signed API call.

The last test goes through the HTTP routes: the REST start and the browser's ``/oauth1/callback``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta

import httpx2
import pytest
import sqlalchemy as sa

from switchyard.adapters.db.tables import connections, oauth_states, vault_items
from switchyard.core.auth import oauth1
from switchyard.core.clock import utcnow
from switchyard.core.errors import OAuthError, SwitchyardError
from switchyard.core.models import Integration
from switchyard.services import oauth1_flow
from switchyard.services.connect import EndUserSpec
from switchyard.services.container import Container
from switchyard.services.integrations import IntegrationSpec
from switchyard.services.oauth1_flow import OAuth1Flow
from switchyard.services.proxy import Call
from switchyard.services.vault import Accessor
from tests.conftest import TenantFixture, make_tenant
from tests.flows.conftest import Peers, approve_at_provider

CONSUMER_KEY, CONSUMER_SECRET = "switchyard-consumer", "peer-consumer-secret-123456"


@dataclass
class Setup:
    flow: OAuth1Flow
    integration: Integration
    end_user_id: str
    tenant: TenantFixture


def definition(peers: Peers) -> str:
    return f"""
name: peer1
version: 1.0.0
displayName: Peer OAuth 1.0a provider
authenticationMethods:
  - type: oauth1
    requestTokenUrl: {peers.oauth.request_token_url}
    authorizationUrl: {peers.oauth.oauth1_authorization_url}
    accessTokenUrl: {peers.oauth.access_token_url}
proxy: {{baseUrl: "{peers.api.url}"}}
verification: {{path: /user, accountIdPath: id}}
"""


async def prepare(
    container: Container, tenant: TenantFixture, peers: Peers, *, secret: str = CONSUMER_SECRET
) -> Setup:
    callback = f"{container.settings.public_base_url}/oauth1/callback"
    peers.oauth.register_oauth1_client(CONSUMER_KEY, CONSUMER_SECRET, default_redirect_uri=callback)
    flow = container.oauth1
    await container.catalog.put(tenant.principal, "peer1", definition(peers))
    spec = IntegrationSpec(
        fields=frozenset({"key", "connector_id", "auth_type", "client_id", "client_secret"}),
        key="peer1",
        connector_id="peer1",
        auth_type="oauth1",
        client_id=CONSUMER_KEY,
        client_secret=secret,
    )
    integration = await container.integrations.create(tenant.principal, spec)
    end_user = await container.tenancy.create_end_user(tenant.principal, external_id="u1")
    return Setup(flow, integration, end_user.id, tenant)


async def stored(container: Container, tenant_id: str) -> dict[str, int]:
    """What the tenant has in the tables a flow writes to."""
    counts: dict[str, int] = {}
    async with container.db.engine.connect() as conn:
        for name, table, extra in [
            ("pending", oauth_states, sa.true()),
            ("request_secrets", vault_items, vault_items.c.owner_kind == oauth1_flow.REQUEST_OWNER_KIND),
            ("connections", connections, sa.true()),
        ]:
            query = sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == tenant_id, extra)
            counts[name] = int((await conn.execute(query)).scalar_one())
    return counts


async def refused(code: str, awaitable: Awaitable[object]) -> SwitchyardError:
    with pytest.raises(SwitchyardError) as caught:
        await awaitable
    assert caught.value.code == code, caught.value
    return caught.value


async def test_connect_and_call_the_api_with_the_stored_token(
    container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    setup = await prepare(container, tenant, peers)
    started = await setup.flow.start(
        setup.integration, setup.end_user_id, return_url="https://app.example.com/done"
    )
    assert started.authorization_url.startswith(peers.oauth.oauth1_authorization_url + "?oauth_token=")
    assert started.expires_at - utcnow() <= timedelta(minutes=10)
    assert await stored(container, tenant.id) == {"pending": 1, "request_secrets": 1, "connections": 0}
    with pytest.raises(SwitchyardError):  # the OAuth 2.0 flow does not see OAuth 1.0a records
        await container.oauth.find_state(started.state)

    back = await approve_at_provider(started.authorization_url)
    assert set(back) == {"oauth_token", "oauth_verifier"}
    assert back["oauth_token"] == started.state

    outcome = await setup.flow.callback(back)
    assert outcome.error is None and outcome.connection is not None and outcome.pending is not None
    assert outcome.pending.return_url == "https://app.example.com/done"
    connection = outcome.connection
    assert (connection.status, connection.auth_type, connection.expires_at) == ("active", "oauth1", None)
    assert set(connection.credentials_masked) == {"oauth_token", "oauth_token_secret"}
    assert all(v.startswith("***") for v in connection.credentials_masked.values())
    assert await stored(container, tenant.id) == {"pending": 1, "request_secrets": 0, "connections": 1}
    assert peers.oauth.token_requests["oauth1_request_token"] == 1
    assert peers.oauth.token_requests["oauth1_access_token"] == 1

    # The stored token credentials sign a call that the provider's API accepts.
    credentials = await container.connections.open_credentials(connection, Accessor("test", "e2e"))
    url = f"{peers.api.url}/user"
    headers = oauth1.sign(
        "GET", url, {}, None, CONSUMER_KEY, CONSUMER_SECRET,
        credentials["oauth_token"], credentials["oauth_token_secret"],
    )  # fmt: skip
    async with httpx2.AsyncClient() as client:
        me = await client.get(url, headers=headers)
        forged = await client.get(
            url,
            headers=oauth1.sign(
                "GET", url, {}, None, CONSUMER_KEY, CONSUMER_SECRET, credentials["oauth_token"], "guess"
            ),
        )
    assert me.status_code == 200, me.text
    assert me.json()["id"] == peers.oauth.user_id
    assert peers.api.request_log[0].auth_kind == "oauth1"
    assert forged.status_code == 401

    # The proxy signs each call itself (a fresh nonce every time), query parameters included.
    for _ in range(2):
        async with container.proxy.open(
            tenant.id, connection.id, Call("GET", "/items?limit=2", [("Accept", "application/json")])
        ) as exchange:
            assert exchange.upstream.status == 200, await exchange.upstream.read()
            assert len(json.loads(await exchange.upstream.read())["items"]) == 2
    assert [r.auth_kind for r in peers.api.request_log[-2:]] == ["oauth1", "oauth1"]

    # The same redirect again is refused, and nothing more is stored.
    await refused("oauth.state_replayed", setup.flow.complete(back))
    replay = await setup.flow.callback(back)
    assert replay.error is not None and replay.error.code == "oauth.state_replayed"
    assert peers.oauth.token_requests["oauth1_access_token"] == 1
    assert (await stored(container, tenant.id))["connections"] == 1


async def test_a_callback_with_a_connect_session_spends_it(
    container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    setup = await prepare(container, tenant, peers)
    new = await container.connect_sessions.create(tenant.principal, EndUserSpec("u1"))
    started = await setup.flow.start(setup.integration, setup.end_user_id, connect_session_id=new.session.id)
    await container.connect_sessions.resolve(new.token)  # usable until a connection is made
    outcome = await setup.flow.callback(await approve_at_provider(started.authorization_url))
    assert outcome.error is None and outcome.connection is not None
    await refused("connect_session.used", container.connect_sessions.resolve(new.token))


async def test_unknown_missing_and_foreign_tokens_are_refused(
    container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    setup = await prepare(container, tenant, peers)
    started = await setup.flow.start(setup.integration, setup.end_user_id)
    back = await approve_at_provider(started.authorization_url)

    await refused("oauth.state_invalid", setup.flow.complete({"oauth_token": "nope", "oauth_verifier": "x"}))
    await refused("oauth.state_missing", setup.flow.complete({"oauth_verifier": back["oauth_verifier"]}))
    other = await make_tenant(container, "admin")
    await refused("oauth.state_invalid", setup.flow.complete(back, tenant_id=other.id))
    assert peers.oauth.token_requests["oauth1_access_token"] == 0
    assert await stored(container, tenant.id) == {"pending": 1, "request_secrets": 1, "connections": 0}

    # None of that used the pending authorization up: the right tenant completes it.
    done = await setup.flow.complete(back, tenant_id=tenant.id)
    assert done.connection.tenant_id == tenant.id


async def test_an_expired_authorization_is_refused(
    container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    setup = await prepare(container, tenant, peers)
    started = await setup.flow.start(setup.integration, setup.end_user_id)
    back = await approve_at_provider(started.authorization_url)
    async with container.db.transaction() as tx:  # ten minutes and a second later
        await tx.conn.execute(
            oauth_states.update()
            .where(oauth_states.c.tenant_id == tenant.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    await refused("oauth.state_expired", setup.flow.complete(back))
    assert peers.oauth.token_requests["oauth1_access_token"] == 0
    assert (await stored(container, tenant.id))["connections"] == 0


async def test_a_denial_leaves_no_connection(
    container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    setup = await prepare(container, tenant, peers)
    started = await setup.flow.start(setup.integration, setup.end_user_id)
    peers.oauth.deny_next = True
    back = await approve_at_provider(started.authorization_url)
    assert back["error"] == "access_denied" and "oauth_token" not in back  # Authlib's way: no token
    await refused("oauth.access_denied", setup.flow.complete(back))
    outcome = await setup.flow.callback(back)
    assert outcome.error is not None and outcome.error.code == "oauth.access_denied"
    assert outcome.pending is None and outcome.connection is None

    # Twitter's way names the token: the pending authorization is used up and its secret forgotten.
    denied = await setup.flow.callback({"denied": started.state})
    assert denied.error is not None and denied.error.code == "oauth.access_denied"
    assert denied.pending is not None and denied.pending.end_user_id == setup.end_user_id
    assert await stored(container, tenant.id) == {"pending": 1, "request_secrets": 0, "connections": 0}
    assert peers.oauth.token_requests["oauth1_access_token"] == 0


async def test_a_wrong_verifier_is_refused_by_the_provider_and_nothing_is_stored(
    container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    setup = await prepare(container, tenant, peers)
    started = await setup.flow.start(setup.integration, setup.end_user_id)
    back = await approve_at_provider(started.authorization_url)
    error = await refused_oauth(setup.flow.complete({**back, "oauth_verifier": "forged"}))
    assert peers.oauth.token_log[-1].status in (400, 401)
    assert error.error != "access_denied"
    assert await stored(container, tenant.id) == {"pending": 1, "request_secrets": 0, "connections": 0}
    await refused("oauth.state_replayed", setup.flow.complete(back))  # single use, even when it failed


async def test_a_wrong_consumer_secret_fails_at_the_request_token(
    container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    setup = await prepare(container, tenant, peers, secret="not-the-consumer-secret")
    await refused_oauth(setup.flow.start(setup.integration, setup.end_user_id))
    assert peers.oauth.token_log[-1].grant_type == "oauth1_request_token"
    assert await stored(container, tenant.id) == {"pending": 0, "request_secrets": 0, "connections": 0}


async def refused_oauth(awaitable: Awaitable[object]) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        await awaitable
    return caught.value


async def test_the_http_routes_pick_the_oauth1_flow(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    await prepare(container, tenant, peers)
    started = await api.post(
        "/api/v1/oauth/authorize", json={"integration": "peer1", "end_user_id": "u1"}, headers=tenant.headers
    )
    assert started.status_code == 200, started.text
    back = await approve_at_provider(started.json()["authorization_url"])
    assert set(back) >= {"oauth_token", "oauth_verifier"}
    page = await api.get("/oauth1/callback", params=back)
    assert page.status_code == 200, page.text
    listed = (await api.get("/api/v1/connections", headers=tenant.headers)).json()["connections"]
    assert [(c["auth_type"], c["status"]) for c in listed] == [("oauth1", "active")]
