"""A connection's ``last_used_at``: stamped by proxied calls, throttled per connection, written in the background."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from structlog.testing import capture_logs

from switchyard.core.errors import Unavailable
from switchyard.ports import Transaction
from switchyard.services.container import Container
from switchyard.services.usage import USAGE_WRITE_INTERVAL, UsageStamps
from tests.conftest import KEYED_API_KEY, TenantFixture
from tests.flows.test_proxy import connect_keyed, via
from tests.peers.provider_api import ProviderApiPeer


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingDatabase:
    """The container's database, counting the transactions the stamps open."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.transactions = 0

    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        self.transactions += 1
        return self.db.transaction(write=write)  # type: ignore[no-any-return]


class BrokenDatabase:
    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Transaction]:
        raise Unavailable("the database is gone", code="database.unavailable")
        yield  # pragma: no cover


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def stamps(container: Container, clock: Clock) -> AsyncIterator[UsageStamps]:
    """The proxy's stamps on the fake clock, flushed only when a test asks (or at close)."""
    usage = UsageStamps(CountingDatabase(container.db), clock=clock, delay=3600)  # type: ignore[arg-type]
    saved, container.proxy.usage = container.proxy.usage, usage
    yield usage
    container.proxy.usage = saved
    await usage.close()


@pytest.fixture
async def connection(api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer) -> str:
    return await connect_keyed(api, tenant, keyed_api.url)


async def another_connection(api: httpx2.AsyncClient, tenant: TenantFixture, key: str = KEYED_API_KEY) -> str:
    """A second connection of the ``keyed`` integration (``connect_keyed`` has made the first)."""
    body = {"integration": "keyed", "end_user_id": "u1", "credentials": {"api_key": key}}
    made = await api.post("/api/v1/connections", json=body, headers=tenant.headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def last_used(container: Container, tenant: TenantFixture, connection_id: str) -> datetime | None:
    async with container.db.transaction(write=False) as tx:
        found = await tx.connections.get(tenant.id, connection_id)
    assert found is not None
    return found.last_used_at


async def call(api: httpx2.AsyncClient, tenant: TenantFixture, connection_id: str, status: int = 200) -> None:
    answer = await api.get("/api/v1/proxy/echo", headers=via(tenant, connection_id))
    assert answer.status_code == status, answer.text


def transactions(usage: UsageStamps) -> int:
    assert isinstance(usage.db, CountingDatabase)
    return usage.db.transactions


async def test_a_proxied_call_stamps_the_connection_once_flushed(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    connection: str,
    container: Container,
    stamps: UsageStamps,
    clock: Clock,
) -> None:
    assert await last_used(container, tenant, connection) is None
    await call(api, tenant, connection)
    assert stamps.pending == 1
    assert await last_used(container, tenant, connection) is None  # nothing awaited a write on the call
    await stamps.flush()
    assert await last_used(container, tenant, connection) == clock.now
    assert transactions(stamps) == 1


async def test_a_failed_upstream_answer_is_a_use_too(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    connection: str,
    container: Container,
    stamps: UsageStamps,
    clock: Clock,
) -> None:
    wrong = await another_connection(api, tenant, key="pk_live_wrong")
    answer = await api.get("/api/v1/proxy/json", headers=via(tenant, wrong))
    assert answer.status_code == 401
    await stamps.flush()
    assert await last_used(container, tenant, wrong) == clock.now


async def test_calls_within_the_interval_write_once_and_a_later_call_moves_it_forward(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    connection: str,
    container: Container,
    stamps: UsageStamps,
    clock: Clock,
) -> None:
    await call(api, tenant, connection)
    first = clock.now
    await stamps.flush()
    clock.advance(USAGE_WRITE_INTERVAL - 1)
    await asyncio.gather(*(call(api, tenant, connection) for _ in range(10)))
    assert stamps.pending == 0  # throttled: no write is queued
    await stamps.flush()
    assert transactions(stamps) == 1
    assert await last_used(container, tenant, connection) == first

    clock.advance(2)  # past the interval since the first stamp
    await call(api, tenant, connection)
    await call(api, tenant, connection)
    assert stamps.pending == 1
    await stamps.flush()
    assert transactions(stamps) == 2
    assert await last_used(container, tenant, connection) == clock.now > first


async def test_the_background_flusher_writes_a_burst_in_one_transaction(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, container: Container
) -> None:
    first, second = connection, await another_connection(api, tenant)
    usage = UsageStamps(CountingDatabase(container.db), delay=0.05)  # type: ignore[arg-type]
    saved, container.proxy.usage = container.proxy.usage, usage
    try:
        await asyncio.gather(*(call(api, tenant, c) for _ in range(10) for c in (first, second)))
        for _ in range(200):
            if usage.pending == 0 and await last_used(container, tenant, second) is not None:
                break
            await asyncio.sleep(0.02)
        assert await last_used(container, tenant, first) is not None
        assert await last_used(container, tenant, second) is not None
        assert transactions(usage) == 1
    finally:
        container.proxy.usage = saved
        await usage.close()


async def test_a_stamp_never_moves_last_used_backwards_and_stays_in_its_tenant(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, container: Container, clock: Clock
) -> None:
    later, earlier = clock.now, clock.now - timedelta(minutes=5)
    async with container.db.transaction() as tx:
        await tx.connections.touch_used(tenant.id, {connection: later})
    async with container.db.transaction() as tx:
        await tx.connections.touch_used(tenant.id, {connection: earlier})
        await tx.connections.touch_used("another-tenant", {connection: later + timedelta(days=1)})
    assert await last_used(container, tenant, connection) == later


async def test_close_writes_what_is_pending_and_stops_stamping(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    connection: str,
    container: Container,
    stamps: UsageStamps,
    clock: Clock,
) -> None:
    await call(api, tenant, connection)
    await container.proxy.close()
    assert await last_used(container, tenant, connection) == clock.now
    clock.advance(USAGE_WRITE_INTERVAL * 2)
    await call(api, tenant, connection)
    assert stamps.pending == 0


async def test_a_failing_write_does_not_fail_the_call(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, container: Container, clock: Clock
) -> None:
    usage = UsageStamps(BrokenDatabase(), clock=clock, delay=0.01)  # type: ignore[arg-type]
    saved, container.proxy.usage = container.proxy.usage, usage
    try:
        with capture_logs() as logs:
            await call(api, tenant, connection)
            for _ in range(250):  # the background flush runs, and fails
                if any(entry["event"] == "usage.write_failed" for entry in logs):
                    break
                await asyncio.sleep(0.02)
            clock.advance(USAGE_WRITE_INTERVAL)
            await call(api, tenant, connection)
            await usage.close()
    finally:
        container.proxy.usage = saved
    failed = [entry for entry in logs if entry["event"] == "usage.write_failed"]
    assert len(failed) == 2
    assert failed[0]["code"] == "database.unavailable" and failed[0]["connections"] == 1
    assert KEYED_API_KEY not in repr(logs)
    assert await last_used(container, tenant, connection) is None


async def test_a_connection_deleted_before_the_flush_is_skipped(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    connection: str,
    container: Container,
    stamps: UsageStamps,
) -> None:
    gone = await another_connection(api, tenant)
    await call(api, tenant, gone)
    await call(api, tenant, connection)
    async with container.db.transaction() as tx:
        assert await tx.connections.delete(tenant.id, gone)
    await stamps.flush()
    assert await last_used(container, tenant, connection) is not None
