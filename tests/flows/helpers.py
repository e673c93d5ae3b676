"""Steps shared by the flow tests: connect an end user through the peer, and read what the vault holds."""

from __future__ import annotations

from typing import Any

import httpx2

from switchyard.services.container import Container
from switchyard.services.vault import Accessor
from tests.conftest import TenantFixture
from tests.flows.conftest import REDIRECT, Peers, add_integration, approve_at_provider


async def connect_through_peer(
    api: httpx2.AsyncClient, tenant: TenantFixture, peers: Peers, *, end_user: str = "u1", **definition: bool
) -> str:
    """An active connection made through the full redirect flow; returns its id."""
    existing = await api.get("/api/v1/integrations/peer", headers=tenant.headers)
    if existing.status_code == 404:
        await add_integration(api, tenant, peers, **definition)
        await api.patch("/api/v1/integrations/peer", json={"redirect_url": REDIRECT}, headers=tenant.headers)
    await api.post("/api/v1/end-users", json={"external_id": end_user}, headers=tenant.headers)
    started = await api.post(
        "/api/v1/oauth/authorize",
        json={"integration": "peer", "end_user_id": end_user},
        headers=tenant.headers,
    )
    assert started.status_code == 200, started.text
    back = await approve_at_provider(started.json()["authorization_url"])
    done = await api.get("/oauth/callback", params=back)
    assert done.status_code == 200, done.text
    listed = await api.get("/api/v1/connections", params={"end_user_id": end_user}, headers=tenant.headers)
    return str(listed.json()["connections"][-1]["id"])


async def stored_tokens(container: Container, tenant: TenantFixture, connection_id: str) -> dict[str, Any]:
    connection = await container.connections.get(tenant.principal, connection_id)
    return await container.connections.open_credentials(connection, Accessor("test", "inspect"))
