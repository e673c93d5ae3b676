"""Flows against real peers: the Authlib authorization server and a provider API on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from tests.conftest import TenantFixture
from tests.peers.oauth_server import OAuthServerPeer, running_oauth_server
from tests.peers.provider_api import ProviderApiPeer, running_provider_api

CLIENT_ID, CLIENT_SECRET = "switchyard-client", "peer-client-secret-123456"
REDIRECT = "http://switchyard.test/oauth/callback"


@dataclass
class Peers:
    oauth: OAuthServerPeer
    api: ProviderApiPeer

    def definition(self, name: str = "peer", *, pkce: bool = True, revocation: bool = True) -> str:
        revoke = f"    revocationUrl: {self.oauth.revocation_url}\n" if revocation else ""
        return f"""
name: {name}
version: 1.0.0
displayName: Peer provider
authenticationMethods:
  - type: oauth2
    authorizationUrl: {self.oauth.authorization_url}
    tokenUrl: {self.oauth.token_url}
{revoke}    defaultScopes: [read]
    pkce: {str(pkce).lower()}
    expiryBufferSeconds: 1
proxy: {{baseUrl: "{self.api.url}"}}
verification: {{path: /user, accountIdPath: id}}
"""


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    async with running_oauth_server() as oauth, running_provider_api(oauth=oauth) as api:
        oauth.register_client(
            CLIENT_ID, CLIENT_SECRET, redirect_uris=[REDIRECT], scopes=["read", "write"],
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
        )  # fmt: skip
        yield Peers(oauth, api)


async def add_integration(
    api: httpx2.AsyncClient, tenant: TenantFixture, peers: Peers, *, key: str = "peer", **definition: bool
) -> None:
    headers = {**tenant.headers, "content-type": "application/yaml"}
    put = await api.put("/api/v1/connectors/peer", content=peers.definition(**definition), headers=headers)
    assert put.status_code == 200, put.text
    body = {"key": key, "connector_id": "peer", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    created = await api.post("/api/v1/integrations", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text


async def approve_at_provider(authorization_url: str) -> dict[str, str]:
    """The end user's browser at the provider: it approves and is redirected back with code and state."""
    async with httpx2.AsyncClient() as browser:
        answer = await browser.get(authorization_url)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
