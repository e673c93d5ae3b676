"""Connect session -> authorization URL -> the Authlib peer approves -> callback -> an active connection."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx2
import pytest

from switchyard.core.clock import utcnow
from switchyard.core.errors import Unauthenticated
from switchyard.services.container import Container
from switchyard.services.vault import Accessor
from tests.conftest import TenantFixture
from tests.flows.conftest import REDIRECT, Peers, add_integration, approve_at_provider


async def test_connect_through_the_peer_and_use_the_token(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    await add_integration(api, tenant, peers)
    await api.patch("/api/v1/integrations/peer", json={"redirect_url": REDIRECT}, headers=tenant.headers)
    session = (
        await api.post(
            "/api/v1/connect-sessions",
            json={"end_user": {"id": "u42"}, "return_url": "https://app.example.com/connected"},
            headers=tenant.headers,
        )
    ).json()
    start = await api.get("/oauth/authorize", params={"session": session["token"], "integration": "peer"})
    assert start.status_code == 302, start.text
    back = await approve_at_provider(start.headers["location"])
    assert set(back) == {"code", "state"}

    done = await api.get("/oauth/callback", params=back)
    assert done.status_code == 302, done.text
    assert done.headers["location"].startswith(
        "https://app.example.com/connected?status=success&connection_id="
    )
    connection_id = done.headers["location"].rsplit("=", 1)[1]
    with pytest.raises(Unauthenticated) as spent:  # the connect link worked once
        await container.connect_sessions.resolve(session["token"])
    assert spent.value.code == "connect_session.used"

    connection = (await api.get(f"/api/v1/connections/{connection_id}", headers=tenant.headers)).json()
    assert connection["status"] == "active"
    assert connection["scopes"] == ["read"]
    assert connection["expires_at"] is not None
    credentials = (
        await api.get(f"/api/v1/connections/{connection_id}/credentials", headers=tenant.headers)
    ).json()
    assert credentials["credentials"]["access_token"].startswith("***")

    # The stored token reaches the provider's API.
    opened = await container.connections.open_credentials(
        await container.connections.get(tenant.principal, connection_id), Accessor("test", "e2e")
    )
    async with httpx2.AsyncClient() as client:
        me = await client.get(
            f"{peers.api.url}/user", headers={"Authorization": f"Bearer {opened['access_token']}"}
        )
    assert me.status_code == 200
    assert peers.oauth.token_requests["authorization_code"] == 1
    log = peers.oauth.token_log[-1]
    assert log.client_auth == "basic"


async def test_a_wrong_pkce_verifier_is_refused_and_nothing_is_stored(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    await add_integration(api, tenant, peers)
    await api.patch("/api/v1/integrations/peer", json={"redirect_url": REDIRECT}, headers=tenant.headers)
    await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)
    first = (
        await api.post(
            "/api/v1/oauth/authorize",
            json={"integration": "peer", "end_user_id": "u1"},
            headers=tenant.headers,
        )
    ).json()
    second = (
        await api.post(
            "/api/v1/oauth/authorize",
            json={"integration": "peer", "end_user_id": "u1"},
            headers=tenant.headers,
        )
    ).json()
    code_for_first = await approve_at_provider(first["authorization_url"])
    state_for_second = await approve_at_provider(second["authorization_url"])
    # The first flow's code with the second flow's state: the second verifier does not match the challenge.
    mixed = {"code": code_for_first["code"], "state": state_for_second["state"]}
    refused = await api.get("/oauth/callback", params=mixed)
    assert refused.status_code == 400
    assert "oauth.invalid_grant" in refused.text
    assert (await api.get("/api/v1/connections", headers=tenant.headers)).json()["connections"] == []


async def test_access_denied_leaves_no_connection(
    api: httpx2.AsyncClient, tenant: TenantFixture, peers: Peers
) -> None:
    await add_integration(api, tenant, peers)
    await api.patch("/api/v1/integrations/peer", json={"redirect_url": REDIRECT}, headers=tenant.headers)
    await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)
    started = (
        await api.post(
            "/api/v1/oauth/authorize",
            json={"integration": "peer", "end_user_id": "u1"},
            headers=tenant.headers,
        )
    ).json()
    peers.oauth.deny_next = True
    back = await approve_at_provider(started["authorization_url"])
    assert back["error"] == "access_denied"
    page = await api.get("/oauth/callback", params=back)
    assert page.status_code == 400
    assert "You declined access" in page.text
    assert (await api.get("/api/v1/connections", headers=tenant.headers)).json()["connections"] == []


async def test_the_whole_life_of_a_connection(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    """Connect session -> authorization URL -> the peer approves -> callback -> active -> the token reaches
    the peer API -> the token expires -> the next uses refresh exactly once -> delete revokes at the peer."""
    await add_integration(api, tenant, peers)
    await api.patch("/api/v1/integrations/peer", json={"redirect_url": REDIRECT}, headers=tenant.headers)
    session = (
        await api.post("/api/v1/connect-sessions", json={"end_user": {"id": "u7"}}, headers=tenant.headers)
    ).json()
    start = await api.get("/oauth/authorize", params={"session": session["token"], "integration": "peer"})
    done = await api.get("/oauth/callback", params=await approve_at_provider(start.headers["location"]))
    assert done.status_code == 200, done.text
    [listed] = (
        await api.get("/api/v1/connections", params={"end_user_id": "u7"}, headers=tenant.headers)
    ).json()["connections"]
    assert listed["status"] == "active"
    connection = await container.connections.get(tenant.principal, listed["id"])

    async def call_peer() -> int:
        current = await container.connections.get(tenant.principal, connection.id)
        _, values = await container.refresher.credentials(current, Accessor("test", "use"))
        async with httpx2.AsyncClient() as client:
            me = await client.get(
                f"{peers.api.url}/user", headers={"Authorization": f"Bearer {values['access_token']}"}
            )
        return me.status_code

    assert await call_peer() == 200
    peers.oauth.expire_access_tokens()
    async with container.db.transaction() as tx:
        await tx.connections.update(replace(connection, expires_at=utcnow()))
    assert await asyncio.gather(*(call_peer() for _ in range(10))) == [200] * 10
    assert peers.oauth.token_requests["refresh_token"] == 1

    deleted = (await api.delete(f"/api/v1/connections/{connection.id}", headers=tenant.headers)).json()
    assert deleted["service_revocation_status"] == "confirmed"
    assert [entry.token_type_hint for entry in peers.oauth.revocation_log] == [
        "refresh_token",
        "access_token",
    ]
