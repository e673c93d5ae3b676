"""Seed 002's connector authentication API, initiation then completion, against the Authlib peer."""

from __future__ import annotations

import httpx2

from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture, make_tenant
from tests.flows.conftest import REDIRECT, Peers, add_integration, approve_at_provider


async def test_initiate_then_complete_in_seed_002_shapes(
    api: httpx2.AsyncClient, tenant: TenantFixture, peers: Peers
) -> None:
    await add_integration(api, tenant, peers)
    await api.patch("/api/v1/integrations/peer", json={"redirect_url": REDIRECT}, headers=tenant.headers)
    started = await api.post(
        "/api/v1/connectors/peer/auth",
        json={"auth_method": "oauth2", "redirect_uri": REDIRECT, "scope": ["read", "write"]},
        headers=tenant.headers,
    )
    assert started.status_code == 200, started.text
    assert set(started.json()) == {"auth_url", "state", "expiry"}
    back = await approve_at_provider(started.json()["auth_url"])
    assert back["state"] == started.json()["state"]

    completed = await api.post(
        "/api/v1/connectors/peer/auth",
        json={
            "auth_method": "oauth2",
            "state": back["state"],
            "code": back["code"],
            "encryption_key_reference": "k1",
        },
        headers=tenant.headers,
    )
    assert completed.status_code == 200, completed.text
    body = completed.json()
    assert set(body) == {"credential_id", "status", "expiry", "service_user_id", "capabilities"}
    assert body["status"] == "active"
    assert body["capabilities"] == ["read", "write"]
    listed = (await api.get("/api/v1/connector-credentials", headers=tenant.headers)).json()["credentials"]
    assert [c["credential_id"] for c in listed] == [body["credential_id"]]
    assert listed[0]["connector_id"] == "peer"

    replay = await api.post(
        "/api/v1/connectors/peer/auth",
        json={"auth_method": "oauth2", "state": back["state"], "code": back["code"]},
        headers=tenant.headers,
    )
    assert_problem(replay, 400, "oauth.state_replayed")


async def test_a_redirect_uri_not_registered_is_refused(
    api: httpx2.AsyncClient, tenant: TenantFixture, peers: Peers
) -> None:
    await add_integration(api, tenant, peers)
    refused = await api.post(
        "/api/v1/connectors/peer/auth",
        json={"auth_method": "oauth2", "redirect_uri": "https://evil.example.com/steal"},
        headers=tenant.headers,
    )
    assert_problem(refused, 422, "oauth.redirect_uri_not_allowed")
    unknown = await api.post(
        "/api/v1/connectors/nope/auth", json={"auth_method": "oauth2"}, headers=tenant.headers
    )
    assert_problem(unknown, 404, "connector.not_found")


async def test_a_state_from_another_tenant_is_unknown_here(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    await add_integration(api, tenant, peers)
    await api.patch("/api/v1/integrations/peer", json={"redirect_url": REDIRECT}, headers=tenant.headers)
    started = (
        await api.post("/api/v1/connectors/peer/auth", json={"auth_method": "oauth2"}, headers=tenant.headers)
    ).json()
    back = await approve_at_provider(started["auth_url"])
    other = await make_tenant(container, "admin")
    await add_integration(api, other, peers)
    stolen = await api.post(
        "/api/v1/connectors/peer/auth",
        json={"auth_method": "oauth2", "state": back["state"], "code": back["code"]},
        headers=other.headers,
    )
    assert_problem(stolen, 400, "oauth.state_invalid")
    assert (await api.get("/api/v1/connections", headers=other.headers)).json()["connections"] == []
