"""The database goes away while the API runs: clear 503 problems, liveness stays up, and it recovers.

PostgreSQL is taken down for real by a TCP proxy (``tests/peers/tcp_proxy.py``) in front of the test server:
stopping it refuses new connections and cuts every open one, as a crashed or restarted server does.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from sqlalchemy.engine import make_url

from switchyard.api.app import create_app
from switchyard.services.container import Container, build
from tests.api.test_problem_json import assert_problem, client_for
from tests.conftest import DatabaseFactory, TenantFixture, make_settings, make_tenant
from tests.peers.tcp_proxy import TcpProxy

UNAVAILABLE = "database.unavailable"
BOUND = 20  # seconds: every test here must finish well within this, whatever the database does


@dataclass
class Outage:
    container: Container
    api: httpx2.AsyncClient
    tenant: TenantFixture
    proxy: TcpProxy


@pytest.fixture
async def postgres_behind_proxy(new_database: DatabaseFactory, tmp_path: Path) -> AsyncIterator[Outage]:
    url = make_url(await new_database("postgresql"))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    container = build(make_settings(tmp_path, proxied))
    try:
        await container.start(upgrade=True)
        owner = await make_tenant(container, "admin", "secrets:reveal")
        async with client_for(create_app(container=container)) as api:
            yield Outage(container, api, owner, proxy)
    finally:
        await proxy.start()  # let the engine close its connections cleanly
        await container.close()
        await proxy.stop()


def assert_unavailable(response: httpx2.Response) -> None:
    body = assert_problem(response, 503, UNAVAILABLE)
    assert body["remediation"]
    for leak in ("asyncpg", "sqlalchemy", "Errno", "127.0.0.1", "postgres"):
        assert leak.lower() not in response.text.lower(), leak


@pytest.mark.postgres
async def test_postgres_down_gives_503_and_recovers(postgres_behind_proxy: Outage) -> None:
    outage = postgres_behind_proxy
    api, headers = outage.api, outage.tenant.headers
    async with asyncio.timeout(BOUND):
        created = await api.post(
            "/api/v1/secrets", json={"name": "kept", "value": "kept-value-1"}, headers=headers
        )
        assert created.status_code == 201, created.text
        assert (await api.get("/readyz")).status_code == 200

        await outage.proxy.stop()
        assert_unavailable(await api.get("/api/v1/tenants/me", headers=headers))
        assert_unavailable(await api.get("/api/v1/secrets/kept?reveal=true", headers=headers))
        lost = await api.post(
            "/api/v1/secrets", json={"name": "during", "value": "during-outage"}, headers=headers
        )
        assert_unavailable(lost)
        assert "during-outage" not in lost.text
        ready = await api.get("/readyz")
        body = assert_problem(ready, 503, UNAVAILABLE)
        assert body["checks"] == {"database": "down"}
        live = await api.get("/healthz")
        assert live.status_code == 200 and live.json()["status"] == "ok"
        # Without a key the answer is the same 503: the key cannot be checked, so it is not called invalid.
        assert_unavailable(await api.get("/api/v1/tenants/me", headers={"Authorization": "Bearer syk_x"}))

        await outage.proxy.start()
        me = await api.get("/api/v1/tenants/me", headers=headers)
        assert me.status_code == 200 and me.json()["id"] == outage.tenant.id
        assert (await api.get("/readyz")).status_code == 200
        # Nothing lost, nothing half-stored: the earlier secret is intact, the failed create left no trace.
        listed = await api.get("/api/v1/secrets", headers=headers)
        assert [s["name"] for s in listed.json()["secrets"]] == ["kept"]
        kept = await api.get("/api/v1/secrets/kept?reveal=true", headers=headers)
        assert kept.json()["value"] == "kept-value-1"
        again = await api.post(
            "/api/v1/secrets", json={"name": "during", "value": "during-outage"}, headers=headers
        )
        assert again.status_code == 201, again.text


@pytest.mark.postgres
async def test_postgres_bouncing_repeatedly_never_gives_a_500(postgres_behind_proxy: Outage) -> None:
    outage = postgres_behind_proxy
    async with asyncio.timeout(BOUND):
        for round_ in range(3):
            await outage.proxy.stop()
            statuses = [(await outage.api.get("/api/v1/secrets", headers=outage.tenant.headers)).status_code]
            await outage.proxy.start()
            statuses.append(
                (await outage.api.get("/api/v1/secrets", headers=outage.tenant.headers)).status_code
            )
            assert statuses == [503, 200], f"round {round_}: {statuses}"


@pytest.mark.postgres
async def test_postgres_going_down_mid_burst_gives_only_201s_and_503s(postgres_behind_proxy: Outage) -> None:
    """Requests in flight when the server goes away end as 503 problems, never as 500 traces."""
    outage = postgres_behind_proxy

    async def one(i: int) -> httpx2.Response:
        return await outage.api.post(
            "/api/v1/end-users", json={"external_id": f"burst-{i}"}, headers=outage.tenant.headers
        )

    async with asyncio.timeout(BOUND):
        tasks = [asyncio.create_task(one(i)) for i in range(40)]
        pending = set(tasks)
        while len(pending) > len(tasks) - 5:  # cut the server once a few requests have gone through
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        await outage.proxy.stop()
        responses = await asyncio.gather(*tasks)
        statuses = {response.status_code for response in responses}
        assert statuses == {201, 503}, statuses
        for response in responses:
            if response.status_code == 503:
                assert_unavailable(response)
        await outage.proxy.start()
        stored = await outage.api.get("/api/v1/end-users", headers=outage.tenant.headers)
        created = {r.json()["external_id"] for r in responses if r.status_code == 201}
        # Every acknowledged create is there after recovery.
        assert created <= {u["external_id"] for u in stored.json()["end_users"]}


# -- SQLite ------------------------------------------------------------------------------------------------
#
# An SQLite database is "down" when its file is gone: here the whole directory holding it (database, WAL and
# shared-memory files) is removed while the API runs. Connections already open keep a descriptor on the
# unlinked file, so unless the engine notices, it would acknowledge writes into a file no one can ever open
# again. The API must answer 503 instead, and recover once the operator puts the database back.


@pytest.fixture
async def sqlite_in_directory(tmp_path: Path) -> AsyncIterator[tuple[Path, Container, httpx2.AsyncClient]]:
    directory = tmp_path / "data"
    container = build(make_settings(tmp_path, f"sqlite+aiosqlite:///{directory / 'switchyard.db'}"))
    await container.start(upgrade=True)
    try:
        async with client_for(create_app(container=container)) as api:
            yield directory, container, api
    finally:
        await container.close()


def _remove(directory: Path, what: str) -> None:
    if what == "directory":
        shutil.rmtree(directory)
    else:
        for path in directory.iterdir():
            path.unlink()


@pytest.mark.parametrize(
    ("what", "readiness"),
    [
        ("directory", UNAVAILABLE),
        # SQLite opens a new, empty file at the path: readiness names what is wrong with it.
        ("files", "database.schema_outdated"),
    ],
)
async def test_sqlite_database_removed_gives_503_not_a_silent_write(
    sqlite_in_directory: tuple[Path, Container, httpx2.AsyncClient], what: str, readiness: str
) -> None:
    directory, container, api = sqlite_in_directory
    async with asyncio.timeout(BOUND):
        owner = await make_tenant(container, "admin")
        created = await api.post(
            "/api/v1/secrets", json={"name": "s", "value": "value-1"}, headers=owner.headers
        )
        assert created.status_code == 201
        _remove(directory, what)

        assert_unavailable(await api.get("/api/v1/tenants/me", headers=owner.headers))
        write = await api.post(
            "/api/v1/secrets", json={"name": "t", "value": "value-2"}, headers=owner.headers
        )
        assert_unavailable(write)
        assert_problem(await api.get("/readyz"), 503, readiness)
        assert (await api.get("/healthz")).status_code == 200


async def test_sqlite_database_moved_away_and_back_recovers_with_its_data(
    sqlite_in_directory: tuple[Path, Container, httpx2.AsyncClient],
) -> None:
    directory, container, api = sqlite_in_directory
    async with asyncio.timeout(BOUND):
        owner = await make_tenant(container, "admin")
        created = await api.post(
            "/api/v1/secrets", json={"name": "s", "value": "value-1"}, headers=owner.headers
        )
        assert created.status_code == 201
        moved = directory.with_name("data-moved-away")
        shutil.move(directory, moved)

        assert_unavailable(await api.get("/api/v1/tenants/me", headers=owner.headers))
        write = await api.post(
            "/api/v1/secrets", json={"name": "t", "value": "value-2"}, headers=owner.headers
        )
        assert_unavailable(write)
        assert_problem(await api.get("/readyz"), 503, UNAVAILABLE)

        # The operator puts the directory back: service resumes with exactly the acknowledged data.
        shutil.move(moved, directory)
        listed = await api.get("/api/v1/secrets", headers=owner.headers)
        assert listed.status_code == 200, listed.text
        assert [s["name"] for s in listed.json()["secrets"]] == ["s"]
        assert (await api.get("/readyz")).status_code == 200
