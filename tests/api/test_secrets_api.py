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


async def test_update_adds_versions_and_old_versions_stay_readable(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    await api.post(
        "/api/v1/secrets", json={"name": "rotated", "value": "first-value-aaaa"}, headers=tenant.headers
    )
    second = await api.put(
        "/api/v1/secrets/rotated", json={"value": "second-value-bbbb"}, headers=tenant.headers
    )
    assert second.status_code == 200
    assert (second.json()["version"], second.json()["value"]) == (2, "***bbbb")

    described = await api.put(
        "/api/v1/secrets/rotated", json={"description": "prod key"}, headers=tenant.headers
    )
    assert described.json()["current_version"] == 2
    assert described.json()["description"] == "prod key"

    versions = (await api.get("/api/v1/secrets/rotated/versions", headers=tenant.headers)).json()["versions"]
    assert [(v["version"], v["masked_value"], v["current"]) for v in versions] == [
        (1, "***aaaa", False),
        (2, "***bbbb", True),
    ]
    old = await api.get("/api/v1/secrets/rotated?reveal=true&version=1", headers=tenant.headers)
    assert old.json()["value"] == "first-value-aaaa"
    current = await api.get("/api/v1/secrets/rotated?reveal=true", headers=tenant.headers)
    assert current.json()["value"] == "second-value-bbbb"
    missing = await api.get("/api/v1/secrets/rotated?version=7", headers=tenant.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "secret.version_not_found")


async def test_expiry_and_rotation_dates(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    body = {
        "name": "dated",
        "value": "dated-value-123",
        "expires_at": "2099-01-01T00:00:00Z",
        "rotation_due_at": "2000-01-01T00:00:00Z",
    }
    created = await api.post("/api/v1/secrets", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "rotation_due"
    late = await api.put(
        "/api/v1/secrets/dated", json={"rotation_due_at": "2100-01-01T00:00:00Z"}, headers=tenant.headers
    )
    assert (late.status_code, late.json()["code"]) == (422, "secret.invalid_expiry")
    assert (
        (await api.get("/api/v1/secrets/dated", headers=tenant.headers))
        .json()["rotation_due_at"]
        .startswith("2000-01-01")
    )


async def test_listing_pages_through_every_secret(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    for i in range(5):
        await api.post(
            "/api/v1/secrets", json={"name": f"page_{i}", "value": f"value-{i}-xyz"}, headers=tenant.headers
        )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.get("/api/v1/secrets", params=params, headers=tenant.headers)).json()
        seen += [s["name"] for s in page["secrets"]]
        assert all(s["masked"] for s in page["secrets"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"page_{i}" for i in range(5)]
