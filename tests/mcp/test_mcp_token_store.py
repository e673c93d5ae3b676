"""MCP tokens live in the database: any container on it accepts them, and an expired one is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
import sqlalchemy as sa

from switchyard.adapters.db.tables import mcp_tokens
from switchyard.services.container import Container, build
from switchyard.services.mcp_tokens import digest
from tests.conftest import TenantFixture, make_settings
from tests.mcp.conftest import serve, two_connections
from tests.mcp.test_mcp_http import session
from tests.peers.provider_api import ProviderApiPeer

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
async def second(container: Container, tmp_path: Path) -> AsyncIterator[Container]:
    """Another replica: its own process state, the same database."""
    other = build(make_settings(tmp_path / "second", container.settings.resolved_database_url))
    await other.start(upgrade=False)
    yield other
    await other.close()


async def mint(api: httpx2.AsyncClient, tenant: TenantFixture, ttl: int, **more: str) -> str:
    minted = await api.post(
        "/api/v1/mcp-tokens", json={"end_user_id": "u1", "ttl_seconds": ttl, **more}, headers=tenant.headers
    )
    assert minted.status_code == 201, minted.text
    return str(minted.json()["token"])


async def test_a_token_minted_by_one_container_works_in_another(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    container: Container,
    second: Container,
    keyed_api: ProviderApiPeer,
) -> None:
    await two_connections(api, tenant, keyed_api)
    token = await mint(api, tenant, 120)
    async with container.db.connection() as conn:
        stored = (await conn.execute(mcp_tokens.select().where(mcp_tokens.c.digest == digest(token)))).one()
        everything = " ".join(str(v) for row in (await conn.execute(mcp_tokens.select())).all() for v in row)
    assert stored.tenant_id == tenant.id and stored.end_user_id == "u1" and stored.integration is None
    assert stored.api_key_id == tenant.principal.api_key_id
    assert token not in everything  # only the digest is kept

    grant = await second.mcp_tokens.check(token)
    assert (grant.tenant_id, grant.end_user_id) == (tenant.id, "u1")
    async with serve(second) as url, session(url, {"Authorization": f"Bearer {token}"}) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"keyed_whoami", "keyed_send"} <= names
        result = await client.call_tool("keyed_whoami", {})
        assert not result.is_error, result


async def test_an_expired_token_is_refused_everywhere_and_pruned(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    container: Container,
    second: Container,
    keyed_api: ProviderApiPeer,
) -> None:
    await two_connections(api, tenant, keyed_api)
    token = await mint(api, tenant, 1)
    live = await mint(api, tenant, 600)
    await asyncio.sleep(1.2)
    async with serve(second) as url, httpx2.AsyncClient(base_url=url) as http:
        for bearer in (token, token[:-1] + ("A" if token[-1] != "A" else "B")):
            answer = await http.post(
                "/mcp", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {bearer}"}
            )
            assert answer.status_code == 401, answer.text
            assert answer.json()["code"] == "auth.invalid_mcp_token"
            assert "resource_metadata=" in answer.headers["www-authenticate"]
        fine = await http.post("/mcp", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {live}"})
        assert fine.status_code == 200, fine.text

    done = await second.upkeep.run_once()
    assert done["expired_mcp_tokens"] >= 1
    async with container.db.transaction(write=False) as tx:
        assert await tx.mcp_tokens.find(digest(token)) is None
        assert await tx.mcp_tokens.find(digest(live)) is not None


async def test_tokens_are_validated_before_anything_is_stored(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container
) -> None:
    async with container.db.connection() as conn:
        before = (await conn.execute(sa.select(sa.func.count()).select_from(mcp_tokens))).scalar_one()
    for body in (
        {"end_user_id": "u1", "ttl_seconds": 0},
        {"end_user_id": "u1", "ttl_seconds": 3601},
        {"end_user_id": "", "ttl_seconds": 60},
        {"end_user_id": "u1", "ttl_seconds": 60, "integration": "x" * 64},
    ):
        refused = await api.post("/api/v1/mcp-tokens", json=body, headers=tenant.headers)
        assert refused.status_code == 422, (body, refused.text)
    async with container.db.connection() as conn:
        after = (await conn.execute(sa.select(sa.func.count()).select_from(mcp_tokens))).scalar_one()
    assert after == before
