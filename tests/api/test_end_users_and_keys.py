"""End users and API keys over HTTP: the happy paths, every bad input, and nothing stored by a rejection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from switchyard.services.container import Container
from tests.api.test_auth import assert_unauthenticated, bearer
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture, make_tenant

# -- end users ---------------------------------------------------------------------------------------------


async def all_end_users(
    api: httpx2.AsyncClient, owner: TenantFixture, *, limit: int = 200, tag: str | None = None
) -> list[list[dict[str, Any]]]:
    """Every page of the tenant's end users, following the cursor."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if tag is not None:
            params["tag"] = tag
        response = await api.get("/api/v1/end-users", params=params, headers=owner.headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()["end_users"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor does not advance"


async def end_user_rows(api: httpx2.AsyncClient, owner: TenantFixture) -> list[dict[str, Any]]:
    return [user for page in await all_end_users(api, owner) for user in page]


async def create_end_user(api: httpx2.AsyncClient, owner: TenantFixture, **body: Any) -> dict[str, Any]:
    response = await api.post("/api/v1/end-users", json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_end_user_lifecycle(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    created = await create_end_user(
        api, tenant, external_id="u42", email="u42@example.com", display_name="Ada", tags=["beta", "vip"]
    )
    assert created["external_id"] == "u42" and created["id"].startswith("eus")
    assert created["tags"] == ["beta", "vip"] and created["email"] == "u42@example.com"

    fetched = await api.get("/api/v1/end-users/u42", headers=tenant.headers)
    assert fetched.status_code == 200 and fetched.json() == created

    patched = await api.patch(
        "/api/v1/end-users/u42", json={"display_name": "Ada L."}, headers=tenant.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["display_name"] == "Ada L."
    assert patched.json()["email"] == "u42@example.com" and patched.json()["tags"] == ["beta", "vip"]
    assert patched.json()["updated_at"] >= created["updated_at"]

    patched = await api.patch(
        "/api/v1/end-users/u42", json={"email": None, "tags": [" vip ", "vip", "new"]}, headers=tenant.headers
    )
    assert patched.json()["email"] is None and patched.json()["tags"] == ["vip", "new"]
    assert (await api.get("/api/v1/end-users/u42", headers=tenant.headers)).json() == patched.json()

    assert (await api.delete("/api/v1/end-users/u42", headers=tenant.headers)).status_code == 204
    assert_problem(await api.get("/api/v1/end-users/u42", headers=tenant.headers), 404, "end_user.not_found")
    assert_problem(
        await api.delete("/api/v1/end-users/u42", headers=tenant.headers), 404, "end_user.not_found"
    )
    patch = await api.patch("/api/v1/end-users/u42", json={"email": "x@example.com"}, headers=tenant.headers)
    assert_problem(patch, 404, "end_user.not_found")
    assert await end_user_rows(api, tenant) == []


async def test_end_users_page_with_cursor_and_limit(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    ids = [(await create_end_user(api, tenant, external_id=f"user-{i}"))["id"] for i in range(5)]
    pages = await all_end_users(api, tenant, limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [user["id"] for page in pages for user in page]
    assert listed == sorted(ids) and len(set(listed)) == 5

    exact = await all_end_users(api, tenant, limit=5)
    assert [len(page) for page in exact] == [5], "a full last page has no next cursor"
    after_last = await api.get("/api/v1/end-users", params={"cursor": listed[-1]}, headers=tenant.headers)
    assert after_last.json() == {"end_users": [], "next_cursor": None}


@pytest.mark.parametrize("limit", ["0", "-1", "201", "ten", "1.5"])
async def test_a_bad_page_limit_is_rejected(
    api: httpx2.AsyncClient, tenant: TenantFixture, limit: str
) -> None:
    response = await api.get("/api/v1/end-users", params={"limit": limit}, headers=tenant.headers)
    body = assert_problem(response, 422, "request.invalid")
    assert body["errors"][0]["loc"] == ["query", "limit"]


async def test_end_users_filter_by_tag(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    for i in range(6):
        tags = ["vip"] if i % 2 == 0 else ["free"]
        await create_end_user(api, tenant, external_id=f"tagged-{i}", tags=[*tags, "all"])
    vip = [u["external_id"] for page in await all_end_users(api, tenant, tag="vip", limit=2) for u in page]
    assert sorted(vip) == ["tagged-0", "tagged-2", "tagged-4"]
    everyone = [u for page in await all_end_users(api, tenant, tag="all", limit=4) for u in page]
    assert len(everyone) == 6
    assert await all_end_users(api, tenant, tag="unknown") == [[]]
    assert await all_end_users(api, tenant, tag="vi") == [[]], "a tag matches whole, not as a prefix"


async def test_a_duplicate_external_id_is_409_and_keeps_the_original(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    original = await create_end_user(api, tenant, external_id="dup", email="first@example.com")
    again = await api.post(
        "/api/v1/end-users",
        json={"external_id": "dup", "email": "second@example.com"},
        headers=tenant.headers,
    )
    assert_problem(again, 409, "end_user.exists")
    assert await end_user_rows(api, tenant) == [original]


BAD_END_USERS: list[tuple[str, dict[str, Any], str]] = [
    ("empty-id", {"external_id": ""}, "request.invalid"),
    ("space-in-id", {"external_id": "has space"}, "end_user.invalid_external_id"),
    ("newline-in-id", {"external_id": "u1\n"}, "end_user.invalid_external_id"),
    ("non-ascii-id", {"external_id": "üser"}, "end_user.invalid_external_id"),
    ("control-char-id", {"external_id": "u\x001"}, "end_user.invalid_external_id"),
    ("id-too-long", {"external_id": "u" * 256}, "request.invalid"),
    ("id-missing", {"email": "x@example.com"}, "request.invalid"),
    ("id-not-a-string", {"external_id": 42}, "request.invalid"),
    ("too-many-tags", {"external_id": "u1", "tags": [f"t{i}" for i in range(51)]}, "end_user.invalid_tags"),
    ("tag-too-long", {"external_id": "u1", "tags": ["t" * 65]}, "end_user.invalid_tags"),
    ("tags-not-a-list", {"external_id": "u1", "tags": "vip"}, "request.invalid"),
    ("email-too-long", {"external_id": "u1", "email": "e" * 321}, "request.invalid"),
    ("unknown-field", {"external_id": "u1", "password": "hunter2"}, "request.invalid"),
]


@pytest.mark.parametrize(
    ("body", "code"), [(b, c) for _, b, c in BAD_END_USERS], ids=[i for i, _, _ in BAD_END_USERS]
)
async def test_bad_end_users_are_rejected_and_not_stored(
    api: httpx2.AsyncClient, tenant: TenantFixture, body: dict[str, Any], code: str
) -> None:
    existing = await create_end_user(api, tenant, external_id="keeper", tags=["a"])
    response = await api.post("/api/v1/end-users", json=body, headers=tenant.headers)
    assert_problem(response, 422, code)
    assert "hunter2" not in response.text
    assert await end_user_rows(api, tenant) == [existing]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"tags": [f"t{i}" for i in range(51)]}, "end_user.invalid_tags"),
        ({"tags": ["t" * 65]}, "end_user.invalid_tags"),
        ({"external_id": "renamed"}, "request.invalid"),
        ({"display_name": "d" * 256}, "request.invalid"),
    ],
)
async def test_bad_end_user_patches_change_nothing(
    api: httpx2.AsyncClient, tenant: TenantFixture, body: dict[str, Any], code: str
) -> None:
    existing = await create_end_user(api, tenant, external_id="keeper", email="k@example.com", tags=["a"])
    response = await api.patch("/api/v1/end-users/keeper", json=body, headers=tenant.headers)
    assert_problem(response, 422, code)
    assert await end_user_rows(api, tenant) == [existing]


# -- API keys ----------------------------------------------------------------------------------------------


async def key_rows(api: httpx2.AsyncClient, owner: TenantFixture) -> list[dict[str, Any]]:
    response = await api.get("/api/v1/api-keys", headers=owner.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["api_keys"]
    return rows


async def test_a_new_key_is_shown_once_and_never_listed(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    response = await api.post(
        "/api/v1/api-keys",
        json={"name": "deploy", "scopes": ["secrets:read", "end_users:read"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    plaintext = created["key"]
    assert plaintext.startswith(created["prefix"] + "_") and created["prefix"].startswith("syk_")
    assert created["scopes"] == ["end_users:read", "secrets:read"]
    async with container.db.transaction(write=False) as tx:
        stored = await tx.api_keys.get(tenant.id, created["id"])
    assert stored is not None and plaintext not in stored.digest
    assert stored.digest not in response.text and "digest" not in created

    listing = await api.get("/api/v1/api-keys", headers=tenant.headers)
    assert plaintext not in listing.text and stored.digest not in listing.text
    rows = {row["id"]: row for row in listing.json()["api_keys"]}
    assert set(rows[created["id"]]) == set(created) - {"key"}
    assert all("key" not in row and "digest" not in row for row in rows.values())

    # It works, with exactly its scopes.
    assert (await api.get("/api/v1/secrets", headers=bearer(plaintext))).status_code == 200
    denied = await api.post("/api/v1/secrets", json={"name": "x", "value": "vvvv"}, headers=bearer(plaintext))
    assert_problem(denied, 403, "auth.missing_scope")


async def test_a_non_admin_key_cannot_manage_keys(api: httpx2.AsyncClient, container: Container) -> None:
    owner = await make_tenant(container, "admin")
    before = await key_rows(api, owner)
    narrow = await container.api_keys.issue(owner.id, name="narrow", scopes=["secrets:read", "secrets:write"])
    headers = bearer(narrow.plaintext)
    create = await api.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["secrets:read"]}, headers=headers
    )
    assert_problem(create, 403, "auth.missing_scope")
    assert_problem(await api.get("/api/v1/api-keys", headers=headers), 403, "auth.missing_scope")
    revoke = await api.delete(f"/api/v1/api-keys/{before[0]['id']}", headers=headers)
    assert_problem(revoke, 403, "auth.missing_scope")
    after = await key_rows(api, owner)
    assert [row["id"] for row in after] == sorted([row["id"] for row in before] + [narrow.key.id])
    assert all(row["revoked_at"] is None for row in after)


async def test_an_admin_key_cannot_grant_reveal_it_does_not_hold(
    api: httpx2.AsyncClient, container: Container
) -> None:
    admin = await make_tenant(container, "admin")
    before = await key_rows(api, admin)
    for scopes in (["secrets:reveal"], ["secrets:read", "secrets:reveal"], ["admin", "secrets:reveal"]):
        response = await api.post(
            "/api/v1/api-keys", json={"name": "escalate", "scopes": scopes}, headers=admin.headers
        )
        body = assert_problem(response, 403, "api_key.scope_escalation")
        assert "secrets:reveal" in body["detail"]
        assert "key" not in body
    assert await key_rows(api, admin) == before

    revealer = await container.api_keys.issue(admin.id, name="root", scopes=["admin", "secrets:reveal"])
    granted = await api.post(
        "/api/v1/api-keys",
        json={"name": "reveal-ok", "scopes": ["secrets:reveal", "secrets:read"]},
        headers=bearer(revealer.plaintext),
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["scopes"] == ["secrets:read", "secrets:reveal"]


PAST = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
BAD_KEYS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-scope", {"scopes": ["secrets:read", "root"]}, "api_key.invalid_scope"),
    ("scope-wrong-case", {"scopes": ["ADMIN"]}, "api_key.invalid_scope"),
    ("blank-scope", {"scopes": ["  "]}, "api_key.invalid_scope"),
    ("no-scopes", {"scopes": []}, "request.invalid"),
    ("scopes-not-a-list", {"scopes": "admin"}, "request.invalid"),
    ("blank-name", {"name": "   "}, "api_key.invalid_name"),
    ("empty-name", {"name": ""}, "request.invalid"),
    ("name-too-long", {"name": "n" * 129}, "request.invalid"),
    ("expiry-in-the-past", {"expires_at": PAST}, "api_key.invalid_expiry"),
    ("expiry-naive", {"expires_at": "2999-01-01T00:00:00"}, "request.invalid"),
    ("unknown-field", {"key": "syk_choose_my_own"}, "request.invalid"),
]


@pytest.mark.parametrize(
    ("changes", "code"), [(b, c) for _, b, c in BAD_KEYS], ids=[i for i, _, _ in BAD_KEYS]
)
async def test_bad_key_requests_are_rejected_and_issue_nothing(
    api: httpx2.AsyncClient, tenant: TenantFixture, changes: dict[str, Any], code: str
) -> None:
    before = await key_rows(api, tenant)
    body = {"name": "new-key", "scopes": ["secrets:read"], **changes}
    response = await api.post("/api/v1/api-keys", json=body, headers=tenant.headers)
    assert_problem(response, 422, code)
    assert "syk_" not in response.text
    assert await key_rows(api, tenant) == before


async def test_revoke_then_use_is_401_and_revoking_unknown_is_404(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    created = await api.post(
        "/api/v1/api-keys", json={"name": "temp", "scopes": ["end_users:read"]}, headers=tenant.headers
    )
    key, key_id = created.json()["key"], created.json()["id"]
    assert (await api.get("/api/v1/end-users", headers=bearer(key))).status_code == 200
    assert (await api.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers)).status_code == 204
    assert_unauthenticated(await api.get("/api/v1/end-users", headers=bearer(key)))
    # Revoking again changes nothing; the revocation time stays the first one.
    first = {row["id"]: row for row in await key_rows(api, tenant)}[key_id]["revoked_at"]
    assert (await api.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers)).status_code == 204
    assert {row["id"]: row for row in await key_rows(api, tenant)}[key_id]["revoked_at"] == first
    missing = await api.delete("/api/v1/api-keys/key_doesnotexist", headers=tenant.headers)
    assert_problem(missing, 404, "api_key.not_found")
