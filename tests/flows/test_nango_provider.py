"""Seed 003's nango provider against a peer speaking Nango's API: import, use, disconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.services.container import Container, build
from switchyard.services.vault import Accessor
from tests.api.test_problem_json import assert_problem
from tests.conftest import DatabaseFactory, make_settings, make_tenant
from tests.peers.nango_server import NangoPeer, running_nango


@pytest.fixture
async def nango() -> AsyncIterator[NangoPeer]:
    async with running_nango() as peer:
        yield peer


@pytest.fixture
async def with_nango(
    nango: NangoPeer, new_database: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[Container]:
    settings = make_settings(
        tmp_path, await new_database("sqlite"), nango_url=nango.url, nango_secret_key=nango.secret_key
    )
    built = build(settings)
    await built.start(upgrade=True)
    yield built
    await built.close()


async def test_a_nango_connection_is_imported_used_and_deleted(
    with_nango: Container, nango: NangoPeer
) -> None:
    tenant = await make_tenant(with_nango, "admin")
    nango.add_integration("github-nango")
    nango.add_connection(
        "nc-1", "github-nango", "github", {"type": "OAUTH2", "access_token": "gho_first", "expires_at": None}
    )
    transport = httpx2.ASGITransport(app=create_app(container=with_nango))
    async with httpx2.AsyncClient(transport=transport, base_url="http://switchyard.test") as api:
        body = {"key": "github-nango", "connector_id": "github", "auth_provider": "nango"}
        assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
        await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)
        missing = await api.post(
            "/api/v1/connections",
            json={
                "integration": "github-nango",
                "end_user_id": "u1",
                "credentials": {"connection_id": "nope"},
            },
            headers=tenant.headers,
        )
        assert_problem(missing, 404, "nango.connection_not_found")
        made = await api.post(
            "/api/v1/connections",
            json={
                "integration": "github-nango",
                "end_user_id": "u1",
                "credentials": {"connection_id": "nc-1"},
            },
            headers=tenant.headers,
        )
        assert made.status_code == 201, made.text
        connection = await with_nango.connections.get(tenant.principal, made.json()["id"])
        _, values = await with_nango.refresher.credentials(connection, Accessor("test", "use"))
        assert values["access_token"] == "gho_first"
        rotated = nango.rotate_access_token("nc-1", "github-nango")  # Nango refreshed it on its side
        _, values = await with_nango.refresher.credentials(connection, Accessor("test", "use"))
        assert values["access_token"] == rotated

        deleted = await api.delete(f"/api/v1/connections/{connection.id}", headers=tenant.headers)
        assert deleted.json()["service_revocation_status"] == "confirmed"
        assert any(r.method == "DELETE" for r in nango.requests)
        assert (
            await api.get(f"/api/v1/connections/{connection.id}", headers=tenant.headers)
        ).status_code == 404


async def test_connecting_in_nangos_connect_ui_then_syncing(with_nango: Container, nango: NangoPeer) -> None:
    tenant = await make_tenant(with_nango, "admin")
    nango.add_integration("slack-nango")
    transport = httpx2.ASGITransport(app=create_app(container=with_nango))
    async with httpx2.AsyncClient(transport=transport, base_url="http://switchyard.test") as api:
        body = {"key": "slack-nango", "connector_id": "slack", "auth_provider": "nango"}
        assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
        session = (
            await api.post(
                "/api/v1/connect-sessions",
                json={"end_user": {"id": "u7", "email": "u7@example.com"}},
                headers=tenant.headers,
            )
        ).json()
        start = await api.get(
            "/oauth/authorize", params={"session": session["token"], "integration": "slack-nango"}
        )
        assert start.status_code == 302, start.text
        assert start.headers["location"].startswith(f"{nango.url}/connect?session_token=")
        assert nango.sessions[-1]["end_user"]["id"] == "u7"
        assert nango.sessions[-1]["allowed_integrations"] == ["slack-nango"]

        # The end user finishes in Nango's UI; Nango now holds the connection.
        nango.add_connection(
            "nc-7", "slack-nango", "slack", {"type": "OAUTH2", "access_token": "xoxp-1"}, end_user_id="u7"
        )
        synced = await api.post(
            "/api/v1/connections/sync",
            json={"integration": "slack-nango", "end_user_id": "u7"},
            headers=tenant.headers,
        )
        assert synced.status_code == 200, synced.text
        assert [c["connector_id"] for c in synced.json()["connections"]] == ["slack"]
        again = await api.post(
            "/api/v1/connections/sync",
            json={"integration": "slack-nango", "end_user_id": "u7"},
            headers=tenant.headers,
        )
        assert again.json()["connections"] == []
