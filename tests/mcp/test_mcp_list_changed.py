"""``notifications/tools/list_changed`` reaches the open sessions of the end user whose connections change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp.client.streamable_http import streamable_http_client

from mcp import ClientSession, types
from switchyard.services.container import Container
from tests.conftest import TenantFixture, make_tenant
from tests.flows.test_proxy import connect_keyed
from tests.mcp.conftest import ACTIONS
from tests.mcp.test_mcp_http import mcp_headers
from tests.peers.provider_api import ProviderApiPeer


@dataclass
class Listener:
    client: ClientSession | None = None
    changes: asyncio.Queue[None] = field(default_factory=asyncio.Queue)
    stream_open: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.changes.put_nowait(None)

    async def on_response(self, response: httpx2.Response) -> None:
        if response.request.method == "GET" and response.status_code == 200:
            self.stream_open.set()  # the standalone stream that carries server-initiated notifications

    async def next_change(self) -> None:
        await asyncio.wait_for(self.changes.get(), 10)

    async def tool_names(self) -> set[str]:
        assert self.client is not None
        return {tool.name for tool in (await self.client.list_tools()).tools}


@asynccontextmanager
async def listening(url: str, headers: dict[str, str]) -> AsyncIterator[Listener]:
    listener = Listener()
    async with (
        httpx2.AsyncClient(
            headers=headers, timeout=30, event_hooks={"response": [listener.on_response]}
        ) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (read, write),
        ClientSession(read, write, message_handler=listener.handle) as client,
    ):
        listener.client = client
        await client.initialize()
        await asyncio.wait_for(listener.stream_open.wait(), 10)
        await client.send_ping()  # one more round trip: the server side of the stream is registered
        yield listener


async def add_connection(api: httpx2.AsyncClient, tenant: TenantFixture, end_user: str = "u1") -> str:
    made = await api.post(
        "/api/v1/connections",
        json={
            "integration": "keyed",
            "end_user_id": end_user,
            "credentials": {"api_key": "pk_live_0123456789abcdef"},
        },
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_a_new_and_a_deleted_connection_are_announced_to_the_end_users_sessions(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    container: Container,
    keyed_api: ProviderApiPeer,
    served: str,
) -> None:
    await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    await api.post("/api/v1/end-users", json={"external_id": "u2"}, headers=tenant.headers)
    async with (
        listening(served, mcp_headers(tenant, "u1")) as u1,
        listening(served, mcp_headers(tenant, "u2")) as u2,
    ):
        assert await u1.tool_names() == {"keyed_whoami", "keyed_send", "keyed_broken"}
        assert await u2.tool_names() == set()

        second = await add_connection(api, tenant)
        await u1.next_change()
        suffix = second[-6:].lower()
        names = await u1.tool_names()
        assert {f"keyed_whoami_{suffix}", f"keyed_send_{suffix}", f"keyed_broken_{suffix}"} <= names
        assert len(names) == 6
        result = await u1.client.call_tool(f"keyed_whoami_{suffix}", {})  # type: ignore[union-attr]
        assert not result.is_error, result

        gone = await api.delete(f"/api/v1/connections/{second}", headers=tenant.headers)
        assert gone.status_code < 300, gone.text
        await u1.next_change()
        assert await u1.tool_names() == {"keyed_whoami", "keyed_send", "keyed_broken"}

        await asyncio.sleep(0.2)
        assert u2.changes.empty()  # another end user's session hears nothing
        assert u1.changes.empty()  # one notification per change


async def test_the_notification_follows_the_tenant_not_just_the_end_user_id(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    container: Container,
    keyed_api: ProviderApiPeer,
    served: str,
) -> None:
    await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    other = await make_tenant(container, "mcp")
    async with listening(served, mcp_headers(other, "u1")) as stranger:
        await add_connection(api, tenant)
        await asyncio.sleep(0.3)
        assert stranger.changes.empty()
        assert await stranger.tool_names() == set()


async def test_creation_tells_the_connection_listeners(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container, keyed_api: ProviderApiPeer
) -> None:
    ids: list[str] = []
    moved: list[tuple[str, str]] = []
    container.connections.changed.append(ids.append)
    container.connections.moved.append(lambda c: moved.append((c.id, c.status)))
    made = await connect_keyed(api, tenant, keyed_api.url)
    assert ids == [made] and moved == [(made, "active")]
    gone = await api.delete(f"/api/v1/connections/{made}", headers=tenant.headers)
    assert gone.status_code < 300, gone.text
    assert ids == [made, made] and moved == [(made, "active"), (made, "active")]
