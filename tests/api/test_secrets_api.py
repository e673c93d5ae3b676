"""The secrets API end to end over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx2

from switchyard.services.container import Container
from tests.conftest import TenantFixture, make_tenant

VALUE = "sk-live-0123456789abcdefkey123"


async def test_create_reads_back_masked(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    created = await api.post(
        "/api/v1/secrets",
        json={"name": "openai_api_key", "type": "api_key", "value": VALUE},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["value"] == "***key123"
    assert VALUE not in created.text

    read = await api.get("/api/v1/secrets/openai_api_key", headers=tenant.headers)
    assert read.status_code == 200
    body = read.json()
    assert body["value"] == "***key123" and body["masked"] is True and body["version"] == 1
    assert VALUE not in read.text


async def test_reveal_needs_the_reveal_scope(api: httpx2.AsyncClient, container: Container) -> None:
    admin = await make_tenant(container, "admin")
    await api.post("/api/v1/secrets", json={"name": "s1", "value": VALUE}, headers=admin.headers)
    denied = await api.get("/api/v1/secrets/s1?reveal=true", headers=admin.headers)
    assert denied.status_code == 403
    assert denied.headers["content-type"] == "application/problem+json"
    assert denied.json()["code"] == "auth.missing_scope"

    issued = await container.api_keys.issue(
        admin.id, name="revealer", scopes=["secrets:read", "secrets:reveal"]
    )
    revealed = await api.get(
        "/api/v1/secrets/s1?reveal=true", headers={"Authorization": f"Bearer {issued.plaintext}"}
    )
    assert revealed.status_code == 200
    assert revealed.json()["value"] == VALUE and revealed.json()["masked"] is False

    log = await api.get("/api/v1/secrets/s1/access-log", headers=admin.headers)
    assert log.status_code == 200
    entries = log.json()["entries"]
    assert log.json()["access_count"] == 1
    assert entries[0]["actor"] == f"api_key:{issued.key.id}"
    assert entries[0]["purpose"] == "secrets.reveal" and entries[0]["outcome"] == "ok"
    assert entries[0]["request_id"] == revealed.headers["x-request-id"]
