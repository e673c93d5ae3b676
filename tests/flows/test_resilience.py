"""Limits and breakers end to end: a definition's 10/s under 100 concurrent callers, and a circuit breaker
shared by two replicas through Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
from aiohttp import web

from switchyard.api.app import create_app
from switchyard.services.container import Container, build
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture, make_settings, make_tenant
from tests.flows.test_proxy import connect_keyed, via
from tests.peers.loopback import serving
from tests.peers.provider_api import ProviderApiPeer, running_provider_api


class StrictProvider:
    """Answers 429 whenever more than ``limit`` calls arrived within the last second."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.arrivals: list[float] = []
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        self.arrivals.append(now)
        if sum(1 for t in self.arrivals if now - t < 1.0) > self.limit:
            self.refused += 1
            return web.json_response({"error": "rate_limited"}, status=429, headers={"Retry-After": "1"})
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/limited", self.handle)
        return app


async def test_a_definition_limit_of_10_per_second_holds_under_100_concurrent_callers(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    provider = StrictProvider(limit=10)
    async with serving(provider.app()) as url:
        connection = await connect_keyed(api, tenant, url, extra="rateLimits: {requestsPerSecond: 10}\n")
        answers = await asyncio.gather(
            *(api.get("/api/v1/proxy/limited", headers=via(tenant, connection)) for _ in range(100))
        )
        statuses = [answer.status_code for answer in answers]
        assert provider.refused == 0  # not one 429 from the provider
        assert statuses.count(200) == len(provider.arrivals) == 10
        refused = [answer for answer in answers if answer.status_code == 429]
        assert len(refused) == 90
        body = assert_problem(refused[0], 429, "rate_limit.exceeded")
        assert body["limit_scope"] == "provider" and 0 < body["retry_after"] <= 1.0
        assert refused[0].headers["retry-after"] == "1"
        # Switchyard counts a call when it admits it, the provider when it arrives a little later: wait out
        # both windows before showing that calls flow again.
        settle = provider.arrivals[-1] + 1.1 - time.monotonic()
        await asyncio.sleep(max(float(body["retry_after"]) + 0.05, settle))
        later = await api.get("/api/v1/proxy/limited", headers=via(tenant, connection))
        assert later.status_code == 200 and provider.refused == 0


@pytest.fixture
async def replicas(
    shared_database: str, tmp_path: Path, redis_url: str
) -> AsyncIterator[tuple[Container, Container]]:
    """Two processes' worth of services over one database, sharing breakers and limits through Redis."""
    built = [
        build(
            make_settings(
                tmp_path / name,
                shared_database,
                redis_url=redis_url,
                breaker_failure_threshold=3,
                breaker_cooldown_seconds=0.5,
                proxy_retries=0,
            )
        )
        for name in ("a", "b")
    ]
    for container in built:
        await container.start(upgrade=True)
    yield built[0], built[1]
    for container in built:
        await container.close()


def _client(container: Container) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=create_app(container=container))
    return httpx2.AsyncClient(transport=transport, base_url="http://switchyard.test")


async def test_an_open_breaker_stops_calls_from_every_replica_until_the_cooldown(
    replicas: tuple[Container, Container],
) -> None:
    first, second = replicas
    tenant = await make_tenant(first, "admin")
    async with (
        running_provider_api(api_key="pk_live_0123456789abcdef") as provider,
        _client(first) as a,
        _client(second) as b,
    ):
        connection = await connect_keyed(a, tenant, provider.url)
        for _ in range(3):
            failed = await a.get("/api/v1/proxy/status/500", headers=via(tenant, connection))
            assert failed.status_code == 500  # the provider's own answer, passed on
        reached = len(provider.request_log)
        for replica in (b, a):
            stopped = await replica.get("/api/v1/proxy/status/500", headers=via(tenant, connection))
            body = assert_problem(stopped, 503, "circuit.open")
            assert 0 < body["retry_after"] <= 0.5 and stopped.headers["retry-after"] == "1"
        assert len(provider.request_log) == reached  # the provider got no call while open

        await asyncio.sleep(0.6)
        trial = await b.get("/api/v1/proxy/status/500", headers=via(tenant, connection))
        assert trial.status_code == 500 and len(provider.request_log) == reached + 1
        assert_problem(
            await a.get("/api/v1/proxy/user", headers=via(tenant, connection)), 503, "circuit.open"
        )

        await asyncio.sleep(0.6)
        recovered = await a.get("/api/v1/proxy/user", headers=via(tenant, connection))
        assert recovered.status_code == 200
        assert (await b.get("/api/v1/proxy/user", headers=via(tenant, connection))).status_code == 200


async def test_a_provider_429_is_passed_on_after_retries_with_its_wait(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed: ProviderApiPeer
) -> None:
    keyed.rate_limit_times = 10
    connection = await connect_keyed(api, tenant, keyed.url)
    answer = await api.get("/api/v1/proxy/rate-limited", headers=via(tenant, connection, Retries="1"))
    assert answer.status_code == 429 and answer.headers["retry-after"] == "0"
    assert keyed.calls["/rate-limited"] == 2


@pytest.fixture
async def keyed() -> AsyncIterator[ProviderApiPeer]:
    async with running_provider_api(api_key="pk_live_0123456789abcdef") as peer:
        peer.retry_after = "0"
        yield peer
