"""Built-in connectors' actions through the API: a Python hook (GitHub) against a peer speaking GitHub's REST
shapes, and the PostgreSQL and MySQL connectors' query and list_tables against the machine's real servers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncmy
import asyncpg
import httpx2
import pytest
from aiohttp import web

from switchyard.core.manifest.loader import load
from tests.api.test_problem_json import assert_problem
from tests.conftest import MYSQL_URL, POSTGRES_URL, TenantFixture, _skip_or_fail
from tests.peers.loopback import serving

TOKEN = "ghp_peerToken0123456789"
CATALOG = Path(__file__).parents[2] / "src" / "switchyard" / "catalog"


def github_peer() -> web.Application:
    async def guard(request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized(text='{"message": "Bad credentials"}', content_type="application/json")

    async def user(request: web.Request) -> web.Response:
        await guard(request)
        return web.json_response({"login": "octocat", "id": 1})

    async def repository(request: web.Request) -> web.Response:
        await guard(request)
        if request.match_info["repo"] not in ("Hello-World", "odd-languages"):
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(
            {"full_name": "octocat/Hello-World", "description": None, "stargazers_count": 7,
             "open_issues_count": 2, "default_branch": "main"}
        )  # fmt: skip

    async def languages(request: web.Request) -> web.Response:
        await guard(request)
        if request.match_info["repo"] == "odd-languages":
            return web.Response(text="<html>busy</html>", content_type="text/html")
        return web.json_response({"Python": 300, "Shell": 100})

    app = web.Application()
    app.router.add_get("/user", user)
    app.router.add_get("/repos/{owner}/{repo}", repository)
    app.router.add_get("/repos/{owner}/{repo}/languages", languages)
    return app


async def _integration(
    api: httpx2.AsyncClient, tenant: TenantFixture, connector: str, auth_type: str
) -> None:
    body = {"key": connector, "connector_id": connector, "auth_provider": "direct", "auth_type": auth_type}
    created = await api.post("/api/v1/integrations", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)


async def _connect(api: httpx2.AsyncClient, tenant: TenantFixture, connector: str, **body: Any) -> str:
    made = await api.post(
        "/api/v1/connections",
        json={"integration": connector, "end_user_id": "u1", **body},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_a_python_hook_action_calls_the_provider_without_holding_the_token(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    async with serving(github_peer()) as url:
        source = (CATALOG / "github.yaml").read_text().replace("https://api.github.com", url)
        assert load(source, "github").action("repository_overview") is not None
        headers = {**tenant.headers, "content-type": "application/yaml"}
        assert (
            await api.put("/api/v1/connectors/github", content=source, headers=headers)
        ).status_code == 200
        await _integration(api, tenant, "github", "api_key")
        connection = await _connect(api, tenant, "github", credentials={"api_key": TOKEN})
        ran = await api.post(
            f"/api/v1/connections/{connection}/actions/repository_overview",
            json={"input": {"owner": "octocat", "repo": "Hello-World"}},
            headers=tenant.headers,
        )
        assert ran.status_code == 200, ran.text
        assert ran.json()["output"] == {
            "full_name": "octocat/Hello-World", "description": None, "stars": 7, "open_issues": 2,
            "default_branch": "main", "languages": {"Python": 75.0, "Shell": 25.0},
        }  # fmt: skip
        assert ran.json()["attempts"] == 2 and TOKEN not in ran.text
        missing = await api.post(
            f"/api/v1/connections/{connection}/actions/repository_overview",
            json={"input": {"owner": "octocat", "repo": "nope"}},
            headers=tenant.headers,
        )
        assert_problem(missing, 404, "provider.not_found")
        broken = await api.post(
            f"/api/v1/connections/{connection}/actions/repository_overview",
            json={"input": {"owner": "octocat", "repo": "odd-languages"}},
            headers=tenant.headers,
        )
        assert "JSONDecodeError" in assert_problem(broken, 500, "action.hook_failed")["detail"]


@pytest.fixture
async def postgres_table() -> AsyncIterator[str]:
    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        _skip_or_fail(f"PostgreSQL not reachable ({type(exc).__name__})")
    schema = f"sy_act_{uuid.uuid4().hex[:10]}"
    await admin.execute(
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.orders (id int, total numeric(8,2));"
        f"INSERT INTO {schema}.orders VALUES (1, 9.50), (2, 20.00);"
    )
    try:
        yield schema
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def test_postgresql_query_and_list_tables_actions(
    api: httpx2.AsyncClient, tenant: TenantFixture, postgres_table: str
) -> None:
    await _integration(api, tenant, "postgresql", "basic")
    connection = await _connect(
        api, tenant, "postgresql",
        credentials={"username": "postgres", "password": "trusted-anyway"},
        connection_config={"host": "127.0.0.1", "port": 5432, "database": "test", "sslmode": "disable"},
    )  # fmt: skip
    queried = await api.post(
        f"/api/v1/connections/{connection}/actions/query",
        json={
            "input": {"sql": f"SELECT id, total FROM {postgres_table}.orders WHERE id > $1", "params": [0]}
        },
        headers=tenant.headers,
    )
    assert queried.status_code == 200, queried.text
    assert queried.json()["output"]["rows"] == [[1, "9.50"], [2, "20.00"]]
    tables = await api.post(
        f"/api/v1/connections/{connection}/actions/list_tables",
        json={"input": {"schema": postgres_table}},
        headers=tenant.headers,
    )
    assert {"schema": postgres_table, "name": "orders", "type": "table"} in tables.json()["output"]["tables"]
    write = await api.post(
        f"/api/v1/connections/{connection}/actions/query",
        json={"input": {"sql": f"DELETE FROM {postgres_table}.orders"}},
        headers=tenant.headers,
    )
    assert_problem(write, 422, "database.query_failed")


@pytest.fixture
async def mysql_user() -> AsyncIterator[tuple[str, str, str]]:
    try:
        admin = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="", database="test")
    except (OSError, asyncmy.errors.Error) as exc:
        _skip_or_fail(f"MariaDB not reachable at {MYSQL_URL} ({type(exc).__name__})")
    user, password, table = (
        f"sy{uuid.uuid4().hex[:8]}",
        f"pw-{uuid.uuid4().hex}",
        f"sy_orders_{uuid.uuid4().hex[:8]}",
    )
    async with admin.cursor() as cursor:
        await cursor.execute(f"CREATE TABLE test.{table} (id int, label varchar(20))")
        await cursor.execute(f"INSERT INTO test.{table} VALUES (1, 'first'), (2, 'second')")
        await cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        await cursor.execute(f"GRANT SELECT ON test.* TO '{user}'@'%'")
    await admin.commit()
    try:
        yield user, password, table
    finally:
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP USER '{user}'@'%'")
            await cursor.execute(f"DROP TABLE test.{table}")
        await admin.commit()
        admin.close()


async def test_mysql_query_and_list_tables_actions(
    api: httpx2.AsyncClient, tenant: TenantFixture, mysql_user: tuple[str, str, str]
) -> None:
    user, password, table = mysql_user
    await _integration(api, tenant, "mysql", "basic")
    connection = await _connect(
        api, tenant, "mysql",
        credentials={"username": user, "password": password},
        connection_config={"host": "127.0.0.1", "port": 3306, "database": "test", "ssl_mode": "DISABLED"},
    )  # fmt: skip
    queried = await api.post(
        f"/api/v1/connections/{connection}/actions/query",
        json={"input": {"sql": f"SELECT id, label FROM {table} ORDER BY id"}},
        headers=tenant.headers,
    )
    assert queried.status_code == 200, queried.text
    assert queried.json()["output"]["rows"] == [[1, "first"], [2, "second"]]
    assert password not in queried.text
    tables = await api.post(
        f"/api/v1/connections/{connection}/actions/list_tables", json={"input": {}}, headers=tenant.headers
    )
    assert any(t["name"] == table for t in tables.json()["output"]["tables"])
