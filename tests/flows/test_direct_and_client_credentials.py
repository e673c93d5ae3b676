"""Connections without a redirect: API keys checked live (seed 003's direct provider), client credentials,
and seed 001's test connection."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture
from tests.flows.conftest import CLIENT_ID, CLIENT_SECRET, Peers
from tests.flows.helpers import connect_through_peer
from tests.peers.oauth_server import running_oauth_server
from tests.peers.provider_api import ProviderApiPeer, running_provider_api

API_KEY = "pk_live_0123456789abcdef"


def _api_key_definition(api_url: str) -> str:
    return f"""
name: keyed
version: 1.0.0
displayName: Keyed API
authenticationMethods:
  - type: api_key
    credentials:
      api_key: {{title: API key, secret: true, pattern: "pk_[a-z]+_[0-9a-f]+"}}
    inject: {{in: header, name: X-Api-Key, format: "{{{{api_key}}}}"}}
proxy: {{baseUrl: "{api_url}"}}
verification: {{path: /user, accountIdPath: login}}
"""


@pytest.fixture
async def keyed_api() -> AsyncIterator[ProviderApiPeer]:
    async with running_oauth_server() as oauth, running_provider_api(oauth=oauth, api_key=API_KEY) as api:
        yield api


async def _keyed_integration(api: httpx2.AsyncClient, tenant: TenantFixture, url: str) -> None:
    headers = {**tenant.headers, "content-type": "application/yaml"}
    assert (
        await api.put("/api/v1/connectors/keyed", content=_api_key_definition(url), headers=headers)
    ).status_code == 200
    body = {"key": "keyed", "connector_id": "keyed", "auth_provider": "direct", "auth_type": "api_key"}
    assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)


async def test_an_api_key_is_checked_live_before_it_is_stored(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    await _keyed_integration(api, tenant, keyed_api.url)
    wrong = await api.post(
        "/api/v1/connections",
        json={
            "integration": "keyed",
            "end_user_id": "u1",
            "credentials": {"api_key": "pk_live_ffffffffffff"},
        },
        headers=tenant.headers,
    )
    assert_problem(wrong, 422, "connection.verification_failed")
    assert wrong.json()["provider_status"] == 401
    assert "Keyed API answered 401" in wrong.json()["detail"]
    assert "pk_live_ffffffffffff" not in wrong.text
    malformed = await api.post(
        "/api/v1/connections",
        json={"integration": "keyed", "end_user_id": "u1", "credentials": {"api_key": "nope"}},
        headers=tenant.headers,
    )
    assert_problem(malformed, 422, "connection.invalid_credentials")
    assert (await api.get("/api/v1/connections", headers=tenant.headers)).json()["connections"] == []

    made = await api.post(
        "/api/v1/connections",
        json={"integration": "keyed", "end_user_id": "u1", "credentials": {"api_key": API_KEY}},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    connection = made.json()
    assert connection["status"] == "active"
    assert connection["account_id"] == "octocat"
    masked = (
        await api.get(f"/api/v1/connections/{connection['id']}/credentials", headers=tenant.headers)
    ).json()
    assert masked["credentials"] == {"api_key": "***abcdef"}

    tested = await api.post(f"/api/v1/connections/{connection['id']}/test", headers=tenant.headers)
    assert tested.json() == {
        "success": True,
        "error": None,
        "code": None,
        "status": 200,
        "account_id": "octocat",
    }
    assert keyed_api.request_log[-1].auth_kind == "api_key"


async def test_test_connection_reports_a_revoked_token(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, peers: Peers
) -> None:
    connection_id = await connect_through_peer(api, tenant, peers)
    ok = (await api.post(f"/api/v1/connections/{connection_id}/test", headers=tenant.headers)).json()
    assert ok["success"] is True
    assert ok["account_id"] == peers.oauth.user.id
    peers.oauth.expire_access_tokens()
    peers.oauth.token_failure = "invalid_grant"
    failed = (await api.post(f"/api/v1/connections/{connection_id}/test", headers=tenant.headers)).json()
    assert failed["success"] is False
    assert failed["status"] == 401


async def test_client_credentials_connect_at_once(
    api: httpx2.AsyncClient, tenant: TenantFixture, peers: Peers
) -> None:
    definition = f"""
name: machine
version: 1.0.0
displayName: Machine API
authenticationMethods:
  - type: oauth2_client_credentials
    tokenUrl: {peers.oauth.token_url}
    defaultScopes: [read]
proxy: {{baseUrl: "{peers.api.url}"}}
verification: {{path: /user}}
"""
    headers = {**tenant.headers, "content-type": "application/yaml"}
    assert (
        await api.put("/api/v1/connectors/machine", content=definition, headers=headers)
    ).status_code == 200
    body = {
        "key": "machine",
        "connector_id": "machine",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    await api.post("/api/v1/end-users", json={"external_id": "svc"}, headers=tenant.headers)
    made = await api.post(
        "/api/v1/connections", json={"integration": "machine", "end_user_id": "svc"}, headers=tenant.headers
    )
    assert made.status_code == 201, made.text
    assert peers.oauth.token_requests["client_credentials"] == 1
    tested = (await api.post(f"/api/v1/connections/{made.json()['id']}/test", headers=tenant.headers)).json()
    assert tested["success"] is True
