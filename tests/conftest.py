"""Shared fixtures: real databases (SQLite and PostgreSQL), a started container, an HTTP client.

PostgreSQL tests use the server at ``SWITCHYARD_TEST_POSTGRES_URL`` (default: the local one on 5432). Each
test session creates its own databases there and drops them at the end. Where PostgreSQL is absent, those
tests skip with a reason, unless ``SWITCHYARD_TEST_REQUIRE_SERVICES=1`` (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import base64
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.core.models import Principal
from switchyard.services.container import Container, build
from switchyard.settings import Settings
from tests.peers.provider_api import ProviderApiPeer, running_provider_api

POSTGRES_URL = os.environ.get("SWITCHYARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SWITCHYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MYSQL_URL = os.environ.get("SWITCHYARD_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
KEYED_API_KEY = "pk_live_0123456789abcdef"
LOOPBACK_HOSTS = "127.0.0.1,localhost"
LOOPBACK_NETWORKS = "127.0.0.0/8"
REQUIRE_SERVICES = os.environ.get("SWITCHYARD_TEST_REQUIRE_SERVICES") == "1"
TEST_MASTER_KEY = "test-k1:" + base64.b64encode(b"\x01" * 32).decode()
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


async def _postgres_reachable() -> str | None:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
    await conn.close()
    return None


def _skip_or_fail(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; SWITCHYARD_TEST_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


@pytest.fixture
def bubblewrap() -> None:
    """Custom connector code runs under bubblewrap; without it those tests skip (CI installs it)."""
    if shutil.which("bwrap") is None:
        _skip_or_fail("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")


@pytest.fixture
async def redis_url() -> str:
    """The Redis server's URL. Tests share the server, so each names its keys with ``unique_prefix``."""
    import redis.asyncio as aioredis  # only tests that need Redis import it

    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        _skip_or_fail(f"Redis not reachable at {REDIS_URL} ({type(exc).__name__})")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def keyed_api() -> AsyncIterator[ProviderApiPeer]:
    """A provider API peer on loopback that accepts ``KEYED_API_KEY`` in ``X-Api-Key``."""
    async with running_provider_api(api_key=KEYED_API_KEY) as peer:
        peer.retry_after = "0"
        yield peer


@pytest.fixture
def unique_prefix() -> str:
    """A key prefix no other test (or test run) uses, for state in a shared Redis."""
    return f"sytest-{uuid.uuid4().hex[:12]}"


class PostgresDatabases:
    """Creates throw-away databases on the test server and drops them at the end of the session."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def create(self) -> str:
        name = f"switchyard_test_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.created.append(name)
        base = POSTGRES_URL.rsplit("/", 1)[0]
        return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"

    async def drop_all(self) -> None:
        if not self.created:
            return
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
async def postgres_databases() -> AsyncIterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    await databases.drop_all()


DatabaseFactory = Callable[[str], Awaitable[str]]


@pytest.fixture(scope="session")
async def new_database(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> DatabaseFactory:
    """``await new_database("sqlite" | "postgresql")`` -> the URL of a fresh, empty database."""

    async def factory(engine: str) -> str:
        if engine == "sqlite":
            path = tmp_path_factory.mktemp("db") / "switchyard.db"
            return f"sqlite+aiosqlite:///{path}"
        reason = await _postgres_reachable()
        if reason:
            _skip_or_fail(reason)
        return await postgres_databases.create()

    return factory


def make_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "master_key": TEST_MASTER_KEY,
        "log_format": "json",
        "upkeep_interval_seconds": 0,
        # The test peers serve plain http on loopback, which the egress guard refuses by default.
        "egress_allow_http_hosts": LOOPBACK_HOSTS,
        "egress_allow_networks": LOOPBACK_NETWORKS,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session", params=ENGINES)
async def shared_database(request: pytest.FixtureRequest, new_database: DatabaseFactory) -> str:
    """One migrated database per engine, shared by the tests that isolate themselves by tenant."""
    return await new_database(request.param)


@pytest.fixture
async def container(shared_database: str, tmp_path: Path) -> AsyncIterator[Container]:
    built = build(make_settings(tmp_path, shared_database))
    await built.start(upgrade=True)
    yield built
    await built.close()


@dataclass
class TenantFixture:
    id: str
    name: str
    key: str
    principal: Principal

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_tenant(container: Container, *scopes: str) -> TenantFixture:
    tenant = await container.tenancy.create_tenant(f"t-{uuid.uuid4().hex[:10]}")
    issued = await container.api_keys.issue(tenant.id, name="test", scopes=scopes or ("admin",))
    principal = await container.api_keys.authenticate(issued.plaintext)
    return TenantFixture(tenant.id, tenant.name, issued.plaintext, principal)


@pytest.fixture
async def tenant(container: Container) -> TenantFixture:
    return await make_tenant(container, "admin", "secrets:reveal")


@pytest.fixture
async def api(container: Container) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(container=container)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://switchyard.test") as client:
        yield client
