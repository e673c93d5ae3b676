"""Tenant isolation over HTTP: another tenant's resources look exactly like missing ones, and stay unchanged.

A 403 would tell the caller the resource exists; the API answers 404 with the body a truly missing resource
gets, and the owner's data (value, versions, audit, keys) is the same afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture, make_tenant

SECRET = "shared_name"
SECRET_VALUE = "b-tenant-plaintext-value-0042"
END_USER = "user-42"
MISSING = "never_created_anywhere"


@dataclass
class Tenants:
    a: TenantFixture
    b: TenantFixture
    b_key_id: str


@pytest.fixture
async def tenants(api: httpx2.AsyncClient, container: Container) -> Tenants:
    """Tenant B owns a secret, an end user and a second API key; tenant A owns nothing."""
    a = await make_tenant(container, "admin", "secrets:reveal")
    b = await make_tenant(container, "admin", "secrets:reveal")
    created = await api.post(
        "/api/v1/secrets",
        json={"name": SECRET, "type": "api_key", "value": SECRET_VALUE, "description": "B's"},
        headers=b.headers,
    )
    assert created.status_code == 201, created.text
    user = await api.post(
        "/api/v1/end-users",
        json={"external_id": END_USER, "email": "b@example.com", "tags": ["b"]},
        headers=b.headers,
    )
    assert user.status_code == 201, user.text
    key = await api.post(
        "/api/v1/api-keys", json={"name": "b-ci", "scopes": ["secrets:read"]}, headers=b.headers
    )
    assert key.status_code == 201, key.text
    return Tenants(a, b, key.json()["id"])


def same_shape(foreign: dict[str, Any], missing: dict[str, Any], foreign_id: str, missing_id: str) -> None:
    """Both bodies are equal once the identifier each names is set aside (and each has its request id)."""
    assert set(foreign) == set(missing)
    strip = {"request_id"}
    left = {k: v for k, v in foreign.items() if k not in strip}
    right = {k: (v.replace(missing_id, foreign_id) if isinstance(v, str) else v) for k, v in missing.items()}
    assert left == {k: v for k, v in right.items() if k not in strip}


async def snapshot(api: httpx2.AsyncClient, owner: TenantFixture) -> dict[str, Any]:
    """What B can see of its own data; reading it masked does not touch the access audit."""
    secret = (await api.get(f"/api/v1/secrets/{SECRET}", headers=owner.headers)).json()
    versions = (await api.get(f"/api/v1/secrets/{SECRET}/versions", headers=owner.headers)).json()
    audit = (await api.get(f"/api/v1/secrets/{SECRET}/access-log", headers=owner.headers)).json()
    user = (await api.get(f"/api/v1/end-users/{END_USER}", headers=owner.headers)).json()
    keys = (await api.get("/api/v1/api-keys", headers=owner.headers)).json()
    return {"secret": secret, "versions": versions, "audit": audit, "user": user, "keys": keys}


SECRET_REQUESTS = [
    ("GET", "", None),
    ("GET", "?reveal=true", None),
    ("GET", "?version=1", None),
    ("PUT", "", {"value": "overwritten-by-tenant-a"}),
    ("PUT", "", {"description": "changed by A"}),
    ("DELETE", "", None),
    ("GET", "/versions", None),
    ("GET", "/access-log", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), SECRET_REQUESTS)
async def test_another_tenants_secret_is_not_found(
    api: httpx2.AsyncClient, tenants: Tenants, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    before = await snapshot(api, tenants.b)
    foreign = await api.request(
        method, f"/api/v1/secrets/{SECRET}{suffix}", json=body, headers=tenants.a.headers
    )
    missing = await api.request(
        method, f"/api/v1/secrets/{MISSING}{suffix}", json=body, headers=tenants.a.headers
    )
    same_shape(
        assert_problem(foreign, 404, "secret.not_found"),
        assert_problem(missing, 404, "secret.not_found"),
        SECRET,
        MISSING,
    )
    assert SECRET_VALUE not in foreign.text
    assert await snapshot(api, tenants.b) == before
    assert before["audit"]["access_count"] == 0  # A's reveal attempt was not audited as a read of B's item
    revealed = await api.get(f"/api/v1/secrets/{SECRET}?reveal=true", headers=tenants.b.headers)
    assert revealed.json()["value"] == SECRET_VALUE and revealed.json()["current_version"] == 1


async def test_another_tenants_secret_is_not_listed_and_its_name_is_free(
    api: httpx2.AsyncClient, tenants: Tenants
) -> None:
    assert (await api.get("/api/v1/secrets", headers=tenants.a.headers)).json()["secrets"] == []
    own = await api.post(
        "/api/v1/secrets", json={"name": SECRET, "value": "a-own-value"}, headers=tenants.a.headers
    )
    assert own.status_code == 201, own.text
    a_reveal = await api.get(f"/api/v1/secrets/{SECRET}?reveal=true", headers=tenants.a.headers)
    b_reveal = await api.get(f"/api/v1/secrets/{SECRET}?reveal=true", headers=tenants.b.headers)
    assert a_reveal.json()["value"] == "a-own-value"
    assert b_reveal.json()["value"] == SECRET_VALUE


@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PATCH", {"email": "a@example.com", "tags": []}), ("DELETE", None)]
)
async def test_another_tenants_end_user_is_not_found(
    api: httpx2.AsyncClient, tenants: Tenants, method: str, body: dict[str, Any] | None
) -> None:
    before = await snapshot(api, tenants.b)
    foreign = await api.request(method, f"/api/v1/end-users/{END_USER}", json=body, headers=tenants.a.headers)
    missing = await api.request(method, f"/api/v1/end-users/{MISSING}", json=body, headers=tenants.a.headers)
    same_shape(
        assert_problem(foreign, 404, "end_user.not_found"),
        assert_problem(missing, 404, "end_user.not_found"),
        END_USER,
        MISSING,
    )
    assert "b@example.com" not in foreign.text
    assert await snapshot(api, tenants.b) == before


async def test_another_tenants_end_users_are_not_listed_and_the_id_is_free(
    api: httpx2.AsyncClient, tenants: Tenants
) -> None:
    for query in ("", "?tag=b", f"?cursor={MISSING}"):
        listed = await api.get(f"/api/v1/end-users{query}", headers=tenants.a.headers)
        assert listed.status_code == 200 and listed.json()["end_users"] == []
    own = await api.post("/api/v1/end-users", json={"external_id": END_USER}, headers=tenants.a.headers)
    assert own.status_code == 201, own.text
    b_user = (await api.get(f"/api/v1/end-users/{END_USER}", headers=tenants.b.headers)).json()
    assert b_user["email"] == "b@example.com" and b_user["id"] != own.json()["id"]


async def test_another_tenants_api_key_cannot_be_revoked_or_listed(
    api: httpx2.AsyncClient, tenants: Tenants
) -> None:
    before = await snapshot(api, tenants.b)
    foreign = await api.delete(f"/api/v1/api-keys/{tenants.b_key_id}", headers=tenants.a.headers)
    missing = await api.delete("/api/v1/api-keys/key_0000000000000000000000000", headers=tenants.a.headers)
    same_shape(
        assert_problem(foreign, 404, "api_key.not_found"),
        assert_problem(missing, 404, "api_key.not_found"),
        tenants.b_key_id,
        "key_0000000000000000000000000",
    )
    assert await snapshot(api, tenants.b) == before
    a_keys = (await api.get("/api/v1/api-keys", headers=tenants.a.headers)).json()["api_keys"]
    assert tenants.b_key_id not in {key["id"] for key in a_keys}
    b_keys = {key["id"]: key for key in before["keys"]["api_keys"]}
    assert b_keys[tenants.b_key_id]["revoked_at"] is None


async def test_each_key_sees_its_own_tenant(api: httpx2.AsyncClient, tenants: Tenants) -> None:
    for owner in (tenants.a, tenants.b):
        me = await api.get("/api/v1/tenants/me", headers=owner.headers)
        assert me.json()["id"] == owner.id and me.json()["name"] == owner.name
