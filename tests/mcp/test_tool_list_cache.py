"""The kept tool lists: reused within their lifetime, dropped at once when this process sees a connection
move, and never the reason a call on a connection made elsewhere answers "not found"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from switchyard.services.container import Container, build
from switchyard.services.tools import ToolsService
from tests.conftest import TenantFixture, make_settings
from tests.flows.test_proxy import connect_keyed
from tests.mcp.conftest import ACTIONS
from tests.peers.provider_api import ProviderApiPeer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def elsewhere(shared_database: str, tmp_path: Path) -> AsyncIterator[Container]:
    """Another process on the same database: its changes reach this one's listeners only through rows."""
    other = build(make_settings(tmp_path / "other", shared_database))
    await other.start(upgrade=False)
    yield other
    await other.close()


async def _connect_elsewhere(other: Container, tenant: TenantFixture) -> str:
    integration = await other.integrations.get(tenant.principal, "keyed")
    user = await other.tenancy.get_end_user(tenant.principal, "u1")
    made = await other.connection_actions.connect(
        tenant.principal,
        integration.key,
        user.external_id,
        credentials={"api_key": "pk_live_0123456789abcdef"},
    )
    return made.id


async def test_a_kept_list_is_reused_until_it_lapses(
    api: httpx2.AsyncClient,
    container: Container,
    elsewhere: Container,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    clock = Clock()
    tools = ToolsService(container.db, container.actions, cache_ttl=5.0, clock=clock)
    await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    first = {t.name for t in await tools.list(tenant.principal, "u1")}
    assert "keyed_send" in first
    second = await _connect_elsewhere(elsewhere, tenant)
    clock.now += 4.9
    assert {t.name for t in await tools.list(tenant.principal, "u1")} == first  # kept: no read
    clock.now += 0.2
    later = {t.name for t in await tools.list(tenant.principal, "u1")}
    assert f"keyed_send_{second[-6:].lower()}" in later


async def test_a_connection_moved_in_this_process_drops_the_kept_lists_at_once(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    container.tools.cache_ttl = 3600.0
    first = await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    assert "keyed_send" in {t.name for t in await container.tools.list(tenant.principal, "u1")}
    gone = await api.delete(f"/api/v1/connections/{first}", headers=tenant.headers)
    assert gone.status_code in (200, 204), gone.text
    assert await container.tools.list(tenant.principal, "u1") == []


async def test_a_call_on_a_connection_made_elsewhere_lists_afresh(
    api: httpx2.AsyncClient,
    container: Container,
    elsewhere: Container,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    tools = ToolsService(container.db, container.actions, cache_ttl=3600.0)
    await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    await tools.list(tenant.principal, "u1")
    second = await _connect_elsewhere(elsewhere, tenant)
    name = f"keyed_send_{second[-6:].lower()}"
    result = await tools.call(tenant.principal, "u1", name, {"text": "hi", "count": 1}, via="mcp")
    assert result.ok, result
    missing = await tools.call(tenant.principal, "u1", "keyed_nothing", {}, via="mcp")
    assert missing.code == "tool.not_found"
