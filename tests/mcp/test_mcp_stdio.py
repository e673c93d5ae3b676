"""The official MCP client over stdio: ``switchyard mcp`` spawned on a local data dir (SQLite)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp import ClientSession
from switchyard.api.app import create_app
from switchyard.services.container import build
from tests.conftest import (
    LOOPBACK_HOSTS,
    LOOPBACK_NETWORKS,
    TEST_MASTER_KEY,
    TenantFixture,
    make_settings,
    make_tenant,
)
from tests.mcp.conftest import two_connections
from tests.peers.provider_api import ProviderApiPeer


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, TenantFixture, dict[str, str]]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'switchyard.db'}"
    container = build(make_settings(tmp_path, url))
    await container.start(upgrade=True)
    env = {
        "SWITCHYARD_DATA_DIR": str(tmp_path),
        "SWITCHYARD_DATABASE_URL": url,
        "SWITCHYARD_MASTER_KEY": TEST_MASTER_KEY,
        "SWITCHYARD_EGRESS_ALLOW_HTTP_HOSTS": LOOPBACK_HOSTS,
        "SWITCHYARD_EGRESS_ALLOW_NETWORKS": LOOPBACK_NETWORKS,
        "SWITCHYARD_UPKEEP_INTERVAL_SECONDS": "0",
    }
    try:
        tenant = await make_tenant(container)
        transport = httpx2.ASGITransport(app=create_app(container=container))
        async with httpx2.AsyncClient(transport=transport, base_url="http://switchyard.test") as api:
            yield api, tenant, env
    finally:
        await container.close()


async def test_stdio_lists_and_calls_the_tools(
    local: tuple[httpx2.AsyncClient, TenantFixture, dict[str, str]], keyed_api: ProviderApiPeer
) -> None:
    api, tenant, env = local
    _first, second = await two_connections(api, tenant, keyed_api)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "switchyard.cli.main", "mcp", "--tenant", tenant.name, "--end-user", "u1"],
        env=env,
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"keyed_send", f"keyed_send_{second[-6:].lower()}", "keyed_whoami"} <= names
        before = len(keyed_api.request_log)
        result = await client.call_tool("keyed_send", {"text": "stdio", "count": 1})
        assert not result.is_error, result
        assert result.structured_content == {"message": {"text": "stdio", "n": 1}}
        assert len(keyed_api.request_log) == before + 1
        bad = await client.call_tool("keyed_send", {"text": 5})
        assert bad.is_error and (bad.structured_content or {})["error"]["code"] == "action.invalid_input"
