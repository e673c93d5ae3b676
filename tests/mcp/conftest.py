"""The app on a real uvicorn on a free loopback port, for the official MCP client's streamable HTTP transport."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
import uvicorn

from switchyard.api.app import create_app
from switchyard.services.container import Container
from tests.conftest import TenantFixture
from tests.flows.test_proxy import connect_keyed
from tests.peers.provider_api import ProviderApiPeer

ACTIONS = """
actions:
  - name: whoami
    description: The account the key belongs to.
    request: {path: /user}
  - name: send
    description: Echo a message.
    inputSchema:
      type: object
      required: [text, count]
      properties:
        text: {type: string, description: The text}
        count: {type: integer, description: How many}
      additionalProperties: false
    request:
      method: POST
      path: /echo
      body: {message: {text: "{{text}}", n: "{{count}}"}}
    response: {select: body.json}
  - name: broken
    description: Always 503.
    request: {path: /status/503}
"""


@asynccontextmanager
async def serve(container: Container) -> AsyncIterator[str]:
    """The container's app on uvicorn (lifespan on, so ``/mcp`` runs); yields the base URL."""
    app = create_app(container=container)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@pytest.fixture
async def served(container: Container) -> AsyncIterator[str]:
    async with serve(container) as url:
        yield url


async def two_connections(api: httpx2.AsyncClient, tenant: TenantFixture, peer: ProviderApiPeer) -> list[str]:
    """End user ``u1`` with two connections of the integration ``keyed`` to the provider peer."""
    first = await connect_keyed(api, tenant, peer.url, extra=ACTIONS)
    made = await api.post(
        "/api/v1/connections",
        json={
            "integration": "keyed",
            "end_user_id": "u1",
            "credentials": {"api_key": "pk_live_0123456789abcdef"},
        },
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    return [first, str(made.json()["id"])]
