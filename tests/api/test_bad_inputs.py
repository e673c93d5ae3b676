"""Bad input to the secrets API: a clear problem+json with a stable code, nothing stored, nothing lost.

Each test starts from a tenant holding one secret (``existing``) and checks, after every rejected request,
that the tenant's secrets are exactly what they were, the existing value is intact, and the rejected value
does not appear in the response.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from switchyard.core.secrets import MAX_VALUE_BYTES
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture

EXISTING = "existing"
ORIGINAL = "original-value-of-existing-0001"
FUTURE = (datetime.now(UTC) + timedelta(days=30)).isoformat()
PAST = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()


async def all_secrets(api: httpx2.AsyncClient, owner: TenantFixture) -> list[dict[str, Any]]:
    """Every secret of the tenant, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await api.get("/api/v1/secrets", params=params, headers=owner.headers)
        assert page.status_code == 200, page.text
        found.extend(page.json()["secrets"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


async def revealed(api: httpx2.AsyncClient, owner: TenantFixture, name: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/secrets/{name}?reveal=true", headers=owner.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class Unchanged:
    """Remembers the tenant's secrets; ``check`` asserts that a rejected request changed none of them."""

    def __init__(self, api: httpx2.AsyncClient, owner: TenantFixture) -> None:
        self.api = api
        self.owner = owner
        self.before: list[dict[str, Any]] = []

    async def remember(self) -> Unchanged:
        self.before = await all_secrets(self.api, self.owner)
        return self

    async def check(self) -> None:
        assert await all_secrets(self.api, self.owner) == self.before
        existing = await revealed(self.api, self.owner, EXISTING)
        assert existing["value"] == ORIGINAL and existing["current_version"] == 1
        versions = await self.api.get(f"/api/v1/secrets/{EXISTING}/versions", headers=self.owner.headers)
        assert [v["version"] for v in versions.json()["versions"]] == [1]


@pytest.fixture
async def unchanged(api: httpx2.AsyncClient, tenant: TenantFixture) -> Unchanged:
    created = await api.post(
        "/api/v1/secrets", json={"name": EXISTING, "value": ORIGINAL}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    return await Unchanged(api, tenant).remember()


def rejected_value() -> str:
    return f"REJECTED-{uuid.uuid4().hex}"


async def post_secret(api: httpx2.AsyncClient, owner: TenantFixture, **body: Any) -> httpx2.Response:
    return await api.post("/api/v1/secrets", json=body, headers=owner.headers)


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        " leading",
        "trailing ",
        "1starts_with_digit",
        "_underscore_first",
        "-dash-first",
        "has/slash",
        "has space",
        "tab\there",
        "new\nline",
        "trailing_newline\n",
        "a" * 129,
        "a" * 200,
        "sécret",
        "名前",
        "emoji_🔑",
        "null\x00byte",
        "semi;colon",
    ],
)
async def test_invalid_names_are_rejected(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged, name: str
) -> None:
    value = rejected_value()
    response = await post_secret(api, tenant, name=name, value=value)
    assert_problem(response, 422, "secret.invalid_name")
    assert value not in response.text
    await unchanged.check()


async def test_the_longest_valid_name_is_accepted(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    name = "a" + "b" * 127
    assert (await post_secret(api, tenant, name=name, value="v-128")).status_code == 201
    assert (await api.get(f"/api/v1/secrets/{name}", headers=tenant.headers)).json()["name"] == name


@pytest.mark.parametrize(
    "value",
    ["x" * (MAX_VALUE_BYTES + 1), "é" * (MAX_VALUE_BYTES // 2 + 1), "x" * (4 * MAX_VALUE_BYTES)],
    ids=["one-byte-over", "two-byte-chars-over", "four-times"],
)
async def test_a_value_over_64_kib_is_413(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged, value: str
) -> None:
    response = await post_secret(api, tenant, name="too_big", value=value)
    assert_problem(response, 413, "secret.value_too_large")
    assert len(response.content) < 1024, "the value is not echoed"
    put = await api.put(f"/api/v1/secrets/{EXISTING}", json={"value": value}, headers=tenant.headers)
    assert_problem(put, 413, "secret.value_too_large")
    await unchanged.check()


@pytest.mark.parametrize(
    "value", ["x" * MAX_VALUE_BYTES, "é" * (MAX_VALUE_BYTES // 2)], ids=["ascii", "two-byte"]
)
async def test_a_value_of_exactly_64_kib_is_accepted_and_read_back_whole(
    api: httpx2.AsyncClient, tenant: TenantFixture, value: str
) -> None:
    assert len(value.encode("utf-8")) == MAX_VALUE_BYTES
    response = await post_secret(api, tenant, name="just_fits", value=value)
    assert response.status_code == 201, response.text[:300]
    assert value not in response.text
    assert (await revealed(api, tenant, "just_fits"))["value"] == value


async def test_an_empty_value_is_rejected(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged
) -> None:
    assert_problem(await post_secret(api, tenant, name="empty", value=""), 422, "secret.empty_value")
    put = await api.put(f"/api/v1/secrets/{EXISTING}", json={"value": ""}, headers=tenant.headers)
    assert_problem(put, 422, "secret.empty_value")
    await unchanged.check()


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-type", {"type": "ssh_key"}, "request.invalid"),
    ("type-wrong-case", {"type": "API_KEY"}, "request.invalid"),
    ("expiry-in-the-past", {"expires_at": PAST}, "secret.invalid_expiry"),
    ("expiry-naive", {"expires_at": "2999-01-01T00:00:00"}, "request.invalid"),
    ("expiry-not-a-date", {"expires_at": "next tuesday"}, "request.invalid"),
    ("rotation-after-expiry", {"expires_at": FUTURE, "rotation_due_at": "2999-01-01T00:00:00Z"}, "secret.invalid_expiry"),
    ("rotation-naive", {"rotation_due_at": "2999-01-01T00:00:00"}, "request.invalid"),
    ("unknown-field", {"owner": "someone"}, "request.invalid"),
    ("unknown-field-value-like", {"secret": "x"}, "request.invalid"),
    ("description-too-long", {"description": "d" * 1025}, "request.invalid"),
    ("value-not-a-string", {"value": 12345678}, "request.invalid"),
    ("value-null", {"value": None}, "request.invalid"),
    ("value-missing", {"value": ...}, "request.invalid"),
    ("name-missing", {"name": ...}, "request.invalid"),
    ("name-not-a-string", {"name": ["a"]}, "request.invalid"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "code"), [(b, c) for _, b, c in BAD_BODIES], ids=[i for i, _, _ in BAD_BODIES]
)
async def test_bad_create_bodies_are_rejected(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged, changes: dict[str, Any], code: str
) -> None:
    value = rejected_value()
    body = {"name": "new_secret", "value": value, **changes}
    body = {key: item for key, item in body.items() if item is not ...}
    response = await api.post("/api/v1/secrets", json=body, headers=tenant.headers)
    assert_problem(response, 422, code)
    assert value not in response.text
    await unchanged.check()


BAD_UPDATES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-type", {"type": "ssh_key", "value": "new-value-1"}, "request.invalid"),
    ("expiry-in-the-past", {"expires_at": PAST, "value": "new-value-1"}, "secret.invalid_expiry"),
    ("expiry-naive", {"expires_at": "2999-01-01T00:00:00"}, "request.invalid"),
    ("rotation-after-expiry", {"expires_at": FUTURE, "rotation_due_at": "2999-01-01T00:00:00Z"}, "secret.invalid_expiry"),
    ("unknown-field", {"name": "renamed"}, "request.invalid"),
    ("value-not-a-string", {"value": {"a": 1}}, "request.invalid"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code"), [(b, c) for _, b, c in BAD_UPDATES], ids=[i for i, _, _ in BAD_UPDATES]
)
async def test_bad_updates_are_rejected_and_add_no_version(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged, body: dict[str, Any], code: str
) -> None:
    response = await api.put(f"/api/v1/secrets/{EXISTING}", json=body, headers=tenant.headers)
    assert_problem(response, 422, code)
    assert "new-value-1" not in response.text
    await unchanged.check()


async def test_an_update_cannot_move_rotation_past_the_stored_expiry(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    created = await post_secret(api, tenant, name="expiring", value="value-exp", expires_at=FUTURE)
    assert created.status_code == 201
    response = await api.put(
        "/api/v1/secrets/expiring", json={"rotation_due_at": "2999-01-01T00:00:00Z"}, headers=tenant.headers
    )
    assert_problem(response, 422, "secret.invalid_expiry")
    assert (await api.get("/api/v1/secrets/expiring", headers=tenant.headers)).json()[
        "rotation_due_at"
    ] is None


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_a_value_that_is_not_valid_unicode_is_rejected(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged, method: str
) -> None:
    path = "/api/v1/secrets" if method == "POST" else f"/api/v1/secrets/{EXISTING}"
    name = '"name": "surrogate", ' if method == "POST" else ""
    response = await api.request(
        method,
        path,
        content=("{" + name + '"value": "abc\\ud800def"}').encode(),
        headers={**tenant.headers, "content-type": "application/json"},
    )
    assert_problem(response, 422, "secret.invalid_value")
    await unchanged.check()


async def test_a_duplicate_create_is_409_and_keeps_the_original(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged
) -> None:
    value = rejected_value()
    for body in (
        {"name": EXISTING, "value": value},
        {"name": EXISTING, "value": value, "type": "password", "description": "replaced?"},
    ):
        response = await api.post("/api/v1/secrets", json=body, headers=tenant.headers)
        assert_problem(response, 409, "secret.exists")
        assert value not in response.text
    await unchanged.check()
    assert (await revealed(api, tenant, EXISTING))["type"] == "generic"


async def test_an_unknown_secret_is_404_and_is_not_created_by_put(
    api: httpx2.AsyncClient, tenant: TenantFixture, unchanged: Unchanged
) -> None:
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "?reveal=true", None),
        ("PUT", "", {"value": "would-create"}),
        ("DELETE", "", None),
        ("GET", "/versions", None),
        ("GET", "/access-log", None),
    ]:
        response = await api.request(
            method, f"/api/v1/secrets/unknown{suffix}", json=body, headers=tenant.headers
        )
        assert_problem(response, 404, "secret.not_found")
    missing_version = await api.get(f"/api/v1/secrets/{EXISTING}?version=2", headers=tenant.headers)
    assert_problem(missing_version, 404, "secret.version_not_found")
    await unchanged.check()


async def test_a_secret_deleted_twice_is_404_the_second_time(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    assert (await post_secret(api, tenant, name="short_lived", value="value-sl")).status_code == 201
    assert (await api.delete("/api/v1/secrets/short_lived", headers=tenant.headers)).status_code == 204
    assert_problem(
        await api.delete("/api/v1/secrets/short_lived", headers=tenant.headers), 404, "secret.not_found"
    )
    assert [s["name"] for s in await all_secrets(api, tenant)] == []
