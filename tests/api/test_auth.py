"""API key authentication over HTTP: every bad key gets the same 401, a missing scope a 403.

Unknown, wrong, revoked and expired keys must be indistinguishable (same status, body, header) so that the
API is no oracle for which keys exist; and unknown and wrong keys must cost the same time.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.core import apikeys
from switchyard.core.clock import utcnow
from switchyard.core.ids import new_id
from switchyard.core.models import ApiKey
from switchyard.services.container import Container, build
from tests.api.test_problem_json import assert_problem, client_for
from tests.conftest import DatabaseFactory, TenantFixture, make_settings, make_tenant

INVALID_KEY = "auth.invalid_api_key"
PROBE = "/api/v1/tenants/me"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_unauthenticated(response: httpx2.Response) -> dict[str, Any]:
    body = assert_problem(response, 401, INVALID_KEY)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'realm="switchyard"' in challenge
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


def wrong_secret_part(key: str) -> str:
    """The same lookup prefix with another (well-formed) secret part."""
    prefix, _, secret = key.rpartition("_")
    other = apikeys.issue().plaintext.rpartition("_")[2]
    assert other != secret
    return f"{prefix}_{other}"


async def add_key_directly(container: Container, tenant_id: str, **fields: Any) -> str:
    """Store a key through the repository, bypassing the service's rules (e.g. a past expiry)."""
    issued = apikeys.issue()
    key = ApiKey(
        id=new_id("key"),
        tenant_id=tenant_id,
        name="direct",
        lookup=issued.lookup,
        digest=issued.digest,
        scopes=frozenset({"admin"}),
        created_at=utcnow() - timedelta(days=2),
        **fields,
    )
    async with container.db.transaction() as tx:
        await tx.api_keys.add(key)
    return issued.plaintext


async def secret_names(api: httpx2.AsyncClient, owner: TenantFixture) -> list[str]:
    response = await api.get("/api/v1/secrets", params={"limit": 200}, headers=owner.headers)
    assert response.status_code == 200, response.text
    return [secret["name"] for secret in response.json()["secrets"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Token syk_aaaaaaaaaaaaa_" + "A" * 43},
        {"X-Api-Key": "syk_aaaaaaaaaaaaa_" + "A" * 43},
    ],
    ids=["none", "empty", "bearer-only", "bearer-blank", "basic", "other-scheme", "other-header"],
)
async def test_missing_credentials_are_rejected(
    api: httpx2.AsyncClient, tenant: TenantFixture, headers: dict[str, str]
) -> None:
    assert_unauthenticated(await api.get(PROBE, headers=headers))


@pytest.mark.parametrize(
    "presented",
    [
        "not-a-key",
        "syk_",
        "syk_short_short",
        "syk_AAAAAAAAAAAAA_" + "A" * 43,  # upper-case lookup
        "syk_aaaaaaaaaaaaa_" + "A" * 42,  # one character short
        "syk_aaaaaaaaaaaaa_" + "A" * 44,  # one character long
        "syk_aaaaaaaaaaaaa_" + "A" * 42 + "!",
        "sk_live_aaaaaaaaaaaaa_" + "A" * 43,
        "x" * 5000,
    ],
)
async def test_malformed_keys_are_rejected(
    api: httpx2.AsyncClient, tenant: TenantFixture, presented: str
) -> None:
    assert_unauthenticated(await api.get(PROBE, headers=bearer(presented)))


async def test_every_bad_key_gets_the_same_answer(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    revoked = await api.post(
        "/api/v1/api-keys", json={"name": "to-revoke", "scopes": ["secrets:read"]}, headers=tenant.headers
    )
    assert revoked.status_code == 201, revoked.text
    assert (await api.get(PROBE, headers=bearer(revoked.json()["key"]))).status_code == 200
    deleted = await api.delete(f"/api/v1/api-keys/{revoked.json()['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    expired = await add_key_directly(container, tenant.id, expires_at=utcnow() - timedelta(seconds=1))

    presented = {
        "missing": {},
        "malformed": bearer("syk_definitely-not-a-key"),
        "unknown": bearer(apikeys.issue().plaintext),
        "wrong-secret": bearer(wrong_secret_part(tenant.key)),
        "revoked": bearer(revoked.json()["key"]),
        "expired": bearer(expired),
    }
    answers = {}
    for case, headers in presented.items():
        response = await api.get(PROBE, headers=headers)
        answers[case] = (
            without_request_id(assert_unauthenticated(response)),
            response.headers["www-authenticate"],
        )
    assert len({repr(answer) for answer in answers.values()}) == 1, answers
    # The tenant's own key is untouched by all of that.
    assert (await api.get(PROBE, headers=tenant.headers)).json()["id"] == tenant.id


async def test_a_bad_key_stores_nothing(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    for key in (wrong_secret_part(tenant.key), apikeys.issue().plaintext):
        response = await api.post(
            "/api/v1/secrets", json={"name": "sneaky", "value": "v" * 8}, headers=bearer(key)
        )
        assert_unauthenticated(response)
        response = await api.post("/api/v1/end-users", json={"external_id": "sneaky"}, headers=bearer(key))
        assert_unauthenticated(response)
    assert await secret_names(api, tenant) == []
    users = await api.get("/api/v1/end-users", headers=tenant.headers)
    assert users.json()["end_users"] == []


async def test_a_revoked_key_stops_working_and_others_keep_working(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    created = await api.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["secrets:read"]}, headers=tenant.headers
    )
    key, key_id = created.json()["key"], created.json()["id"]
    assert (await api.get("/api/v1/secrets", headers=bearer(key))).status_code == 200

    assert (await api.delete(f"/api/v1/api-keys/{key_id}", headers=tenant.headers)).status_code == 204
    assert_unauthenticated(await api.get("/api/v1/secrets", headers=bearer(key)))
    assert_unauthenticated(await api.get(PROBE, headers=bearer(key)))
    listed = {
        k["id"]: k for k in (await api.get("/api/v1/api-keys", headers=tenant.headers)).json()["api_keys"]
    }
    assert listed[key_id]["revoked_at"] is not None
    assert (await api.get(PROBE, headers=tenant.headers)).status_code == 200


async def test_an_expired_key_stops_working(api: httpx2.AsyncClient, container: Container) -> None:
    owner = await make_tenant(container, "admin")
    lifetime = timedelta(seconds=1)
    issued = await container.api_keys.issue(
        owner.id, name="short", scopes=["admin"], expires_at=utcnow() + lifetime
    )
    assert (await api.get(PROBE, headers=bearer(issued.plaintext))).status_code == 200
    assert issued.key.expires_at is not None
    remaining = (issued.key.expires_at - utcnow()).total_seconds()
    assert remaining <= lifetime.total_seconds()
    await asyncio.sleep(max(0.0, remaining) + 0.05)  # bounded by the one-second lifetime
    assert_unauthenticated(await api.get(PROBE, headers=bearer(issued.plaintext)))

    # A key that expired long ago (stored directly: the service refuses a past expiry) fails the same way.
    old = await add_key_directly(container, owner.id, expires_at=utcnow() - timedelta(days=1))
    assert_unauthenticated(await api.get(PROBE, headers=bearer(old)))


async def test_the_bearer_scheme_is_case_insensitive(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    for scheme in ("bearer", "BEARER", "Bearer"):
        response = await api.get(PROBE, headers={"Authorization": f"{scheme} {tenant.key}"})
        assert response.status_code == 200 and response.json()["id"] == tenant.id


async def test_a_key_without_the_scope_gets_403_and_changes_nothing(
    api: httpx2.AsyncClient, container: Container
) -> None:
    owner = await make_tenant(container, "admin")
    narrow = await container.api_keys.issue(owner.id, name="narrow", scopes=["end_users:read"])
    headers = bearer(narrow.plaintext)

    response = await api.post("/api/v1/secrets", json={"name": "nope", "value": "value-1"}, headers=headers)
    body = assert_problem(response, 403, "auth.missing_scope")
    assert body["required_scope"] == "secrets:write"
    assert "www-authenticate" not in response.headers  # the key is fine; it is not allowed this

    body = assert_problem(await api.get("/api/v1/secrets", headers=headers), 403, "auth.missing_scope")
    assert body["required_scope"] == "secrets:read"
    response = await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=headers)
    assert_problem(response, 403, "auth.missing_scope")
    response = await api.get("/api/v1/api-keys", headers=headers)
    assert_problem(response, 403, "auth.missing_scope")

    assert await secret_names(api, owner) == []
    assert (await api.get("/api/v1/end-users", headers=headers)).json()["end_users"] == []


# -- timing -----------------------------------------------------------------------------------------------


@pytest.fixture
async def sqlite_client(
    new_database: DatabaseFactory, tmp_path: Path
) -> AsyncIterator[tuple[Container, httpx2.AsyncClient]]:
    built = build(make_settings(tmp_path, await new_database("sqlite")))
    await built.start(upgrade=True)
    try:
        async with client_for(create_app(container=built)) as client:
            yield built, client
    finally:
        await built.close()


async def _timed(client: httpx2.AsyncClient, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await client.get(PROBE, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 401
    return elapsed


async def test_unknown_and_wrong_keys_cost_the_same(
    sqlite_client: tuple[Container, httpx2.AsyncClient],
) -> None:
    """Bounded statistical check (SQLite only, to keep the network out of it): interleaved, warmed, medians."""
    container, client = sqlite_client
    owner = await make_tenant(container, "admin")
    wrong = bearer(wrong_secret_part(owner.key))
    unknown = bearer(apikeys.issue().plaintext)
    samples: dict[str, list[float]] = {"wrong": [], "unknown": []}
    order = random.Random(20240601)
    warmup, rounds = 20, 150
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for i in range(warmup + rounds):
            pair = [("wrong", wrong), ("unknown", unknown)]
            order.shuffle(pair)
            for kind, headers in pair:
                elapsed = await _timed(client, headers)
                if i >= warmup:
                    samples[kind].append(elapsed)
    finally:
        if gc_was_enabled:
            gc.enable()
    ratio = statistics.median(samples["unknown"]) / statistics.median(samples["wrong"])
    assert 0.67 <= ratio <= 1.5, f"median(unknown) / median(wrong) = {ratio:.2f}"
