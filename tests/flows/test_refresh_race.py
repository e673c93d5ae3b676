"""The refresh race: 50 concurrent uses of one expired connection from two processes on PostgreSQL;
exactly one token request reaches the authorization server."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.core.clock import utcnow
from switchyard.services.container import Container, build
from switchyard.services.vault import Accessor
from tests.conftest import (
    LOOPBACK_HOSTS,
    LOOPBACK_NETWORKS,
    TEST_MASTER_KEY,
    DatabaseFactory,
    make_settings,
    make_tenant,
)
from tests.flows.conftest import Peers
from tests.flows.helpers import connect_through_peer

USES_PER_PROCESS = 25


@pytest.fixture
async def postgres_container(new_database: DatabaseFactory, tmp_path: Path) -> AsyncIterator[Container]:
    built = build(make_settings(tmp_path, await new_database("postgresql")))
    await built.start(upgrade=True)
    yield built
    await built.close()


@pytest.mark.postgres
async def test_fifty_uses_from_two_processes_refresh_once(
    postgres_container: Container, peers: Peers
) -> None:
    container = postgres_container
    tenant = await make_tenant(container, "admin")
    transport = httpx2.ASGITransport(app=create_app(container=container))
    async with httpx2.AsyncClient(transport=transport, base_url="http://switchyard.test") as api:
        connection_id = await connect_through_peer(api, tenant, peers)
    connection = await container.connections.get(tenant.principal, connection_id)
    async with container.db.transaction() as tx:
        await tx.connections.update(replace(connection, expires_at=utcnow()))
    connection = await container.connections.get(tenant.principal, connection_id)
    peers.oauth.expire_access_tokens()
    peers.oauth.token_failure = (
        "stall",
        0.5,
    )  # widen the window: every use arrives while the first is pending
    before = peers.oauth.token_requests["refresh_token"]

    start_at = time.time() + 3.0
    spec = {
        "settings": {"database_url": container.settings.resolved_database_url, "master_key": TEST_MASTER_KEY,
                     "data_dir": str(container.settings.data_dir / "worker"), "log_level": "WARNING",
                     "egress_allow_http_hosts": LOOPBACK_HOSTS, "egress_allow_networks": LOOPBACK_NETWORKS},
        "tenant_id": tenant.id, "connection_id": connection_id, "start_at": start_at, "uses": USES_PER_PROCESS,
    }  # fmt: skip
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.flows.race_worker", json.dumps(spec),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(max(0.0, start_at - time.time()))
    accessor = Accessor("race:main", "race")
    local = await asyncio.gather(
        *(container.refresher.credentials(connection, accessor) for _ in range(USES_PER_PROCESS))
    )
    out, err = await asyncio.wait_for(worker.communicate(), timeout=60)
    assert worker.returncode == 0, err.decode()
    remote_tokens = set(json.loads(out))
    local_tokens = {values["access_token"] for _, values in local}

    assert peers.oauth.token_requests["refresh_token"] - before == 1
    assert local_tokens == remote_tokens
    assert len(local_tokens) == 1
