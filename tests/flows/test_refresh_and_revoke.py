"""Refresh on use exactly once, rotation saved, failures kept apart; deletion revokes at the peer."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx2

from switchyard.core.clock import utcnow
from switchyard.services.container import Container
from switchyard.services.vault import Accessor
from tests.conftest import TenantFixture
from tests.flows.conftest import Peers
from tests.flows.helpers import connect_through_peer, stored_tokens

USE = Accessor("test", "use")


async def test_an_expired_token_is_refreshed_exactly_once_by_concurrent_uses(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    connection_id = await connect_through_peer(api, tenant, peers)
    before = await stored_tokens(container, tenant, connection_id)
    peers.oauth.expire_access_tokens()
    await _make_due(container, tenant, connection_id)

    connection = await container.connections.get(tenant.principal, connection_id)
    results = await asyncio.gather(*(container.refresher.credentials(connection, USE) for _ in range(20)))
    assert peers.oauth.token_requests["refresh_token"] == 1
    tokens = {values["access_token"] for _, values in results}
    assert len(tokens) == 1
    [fresh] = tokens
    assert fresh != before["access_token"]
    after = await stored_tokens(container, tenant, connection_id)
    assert after["refresh_token"] != before["refresh_token"]  # the rotated refresh token was saved
    async with httpx2.AsyncClient() as client:
        me = await client.get(f"{peers.api.url}/user", headers={"Authorization": f"Bearer {fresh}"})
    assert me.status_code == 200
    refreshed = (await api.get(f"/api/v1/connections/{connection_id}", headers=tenant.headers)).json()
    assert refreshed["last_refreshed_at"] is not None


async def test_invalid_grant_turns_the_connection_error_with_reconnect(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    connection_id = await connect_through_peer(api, tenant, peers)
    moved: list[tuple[str, str]] = []  # what the MCP server listens to for list-changed notifications
    container.connections.moved.append(lambda c: moved.append((c.id, c.status)))
    peers.oauth.token_failure = "invalid_grant"
    refreshed = await api.post(f"/api/v1/connections/{connection_id}/refresh", headers=tenant.headers)
    assert refreshed.status_code == 200, refreshed.text
    body = refreshed.json()
    assert body["status"] == "error"
    assert moved == [(connection_id, "error")]
    assert body["error"]["code"] == "oauth.invalid_grant"
    assert "connect the account again" in body["error"]["remediation"]


async def test_a_token_endpoint_that_times_out_keeps_the_old_token(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    connection_id = await connect_through_peer(api, tenant, peers)
    before = await stored_tokens(container, tenant, connection_id)
    peers.oauth.token_failure = "500"
    body = (await api.post(f"/api/v1/connections/{connection_id}/refresh", headers=tenant.headers)).json()
    assert body["status"] == "active"
    assert body["error"]["code"] == "oauth.provider_unavailable"
    assert await stored_tokens(container, tenant, connection_id) == before
    connection = await container.connections.get(tenant.principal, connection_id)
    assert connection.refresh_failures == 1
    assert connection.next_refresh_at is not None

    peers.oauth.token_failure = ("stall", 2.0)
    container.control_http.client.timeout = httpx2.Timeout(0.5)
    body = (await api.post(f"/api/v1/connections/{connection_id}/refresh", headers=tenant.headers)).json()
    assert body["error"]["code"] == "oauth.provider_timeout"
    assert (await stored_tokens(container, tenant, connection_id))["refresh_token"] == before["refresh_token"]
    peers.oauth.token_failure = None
    container.control_http.client.timeout = httpx2.Timeout(10.0)
    recovered = (
        await api.post(f"/api/v1/connections/{connection_id}/refresh", headers=tenant.headers)
    ).json()
    assert (recovered["status"], recovered["error"]) == ("active", None)


async def test_deleting_revokes_at_the_provider(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    connection_id = await connect_through_peer(api, tenant, peers)
    tokens = await stored_tokens(container, tenant, connection_id)
    deleted = await api.delete(f"/api/v1/connector-credentials/{connection_id}", headers=tenant.headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "revoked"
    assert deleted.json()["service_revocation_status"] == "confirmed"
    assert [entry.token_type_hint for entry in peers.oauth.revocation_log] == [
        "refresh_token",
        "access_token",
    ]
    async with httpx2.AsyncClient() as client:
        me = await client.get(
            f"{peers.api.url}/user", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert me.status_code == 401
    assert (await api.get(f"/api/v1/connections/{connection_id}", headers=tenant.headers)).status_code == 404


async def test_a_revocation_the_provider_misses_stays_pending_and_is_retried(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    connection_id = await connect_through_peer(api, tenant, peers)
    original = peers.oauth.revocation_url
    await api.put(
        "/api/v1/connectors/peer",
        content=peers.definition().replace(original, original.replace("/revoke", "/no-such-endpoint")),
        headers={**tenant.headers, "content-type": "application/yaml"},
    )
    moved: list[tuple[str, str]] = []
    container.connections.moved.append(lambda c: moved.append((c.id, c.status)))
    pending = await api.delete(f"/api/v1/connections/{connection_id}", headers=tenant.headers)
    assert pending.json()["service_revocation_status"] == "pending"
    assert moved == [(connection_id, "revoking")]
    row = (await api.get(f"/api/v1/connections/{connection_id}", headers=tenant.headers)).json()
    assert row["status"] == "revoking"

    await api.put(
        "/api/v1/connectors/peer",
        content=peers.definition(),
        headers={**tenant.headers, "content-type": "application/yaml"},
    )
    assert await container.connection_actions.retry_revocations() == 1
    assert (await api.get(f"/api/v1/connections/{connection_id}", headers=tenant.headers)).status_code == 404


async def _make_due(container: Container, tenant: TenantFixture, connection_id: str) -> None:
    connection = await container.connections.get(tenant.principal, connection_id)
    async with container.db.transaction() as tx:
        await tx.connections.update(replace(connection, expires_at=utcnow()))


async def test_the_upkeep_sweep_refreshes_what_is_due(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    connection_id = await connect_through_peer(api, tenant, peers)
    await _make_due(container, tenant, connection_id)
    before = peers.oauth.token_requests["refresh_token"]
    done = await container.upkeep.run_once()
    assert done["refreshed"] >= 1
    assert peers.oauth.token_requests["refresh_token"] == before + 1
    assert (await container.connections.get(tenant.principal, connection_id)).last_refreshed_at is not None
