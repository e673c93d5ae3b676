"""Every error leaves as RFC 9457 ``application/problem+json`` with a stable ``code`` and the request id.

``assert_problem`` is the one definition of "a clear error" the other API test modules import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI

from switchyard.api.app import create_app
from switchyard.services.container import Container
from tests.conftest import TenantFixture, make_tenant

PROBLEM_JSON = "application/problem+json"
BASE_URL = "http://switchyard.test"


def assert_problem(response: httpx2.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a problem document with this status and code, the request id, and no trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"https://switchyard.dev/problems/{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    """A client over an app the test built itself (to add a route that misbehaves, say)."""
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


async def test_unknown_route_is_a_problem(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    for path in ("/nope", "/api/v1/nope", "/api/v2/secrets"):
        assert_problem(await api.get(path, headers=tenant.headers), 404, "route.not_found")
    # Without credentials too: a route that does not exist is not an auth question.
    assert_problem(await api.get("/api/v1/nope"), 404, "route.not_found")


async def test_method_not_allowed_is_a_problem_and_names_the_allowed_methods(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    response = await api.patch("/api/v1/secrets", json={}, headers=tenant.headers)
    assert_problem(response, 405, "route.method_not_allowed")
    # RFC 9110 section 15.5.6: a 405 response MUST carry Allow.
    allowed = {method.strip() for method in response.headers["allow"].split(",")}
    assert {"GET", "POST"} <= allowed and "PATCH" not in allowed

    response = await api.post("/api/v1/secrets/some-name", json={}, headers=tenant.headers)
    assert_problem(response, 405, "route.method_not_allowed")
    assert {"GET", "PUT", "DELETE"} <= {m.strip() for m in response.headers["allow"].split(",")}


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"name": "a", "value": ', "application/json"),
        (b"{not json at all", "application/json"),
        (b'{"name": "a", "value": "v"}}', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"name=a&value=v", "application/x-www-form-urlencoded"),
        (b"", "application/json"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
    ],
)
async def test_malformed_body_is_a_problem_and_stores_nothing(
    api: httpx2.AsyncClient, tenant: TenantFixture, content: bytes, content_type: str
) -> None:
    response = await api.post(
        "/api/v1/secrets", content=content, headers={**tenant.headers, "content-type": content_type}
    )
    body = assert_problem(response, 422, "request.invalid")
    assert body["errors"] and all(set(error) == {"loc", "msg", "type"} for error in body["errors"])
    listed = await api.get("/api/v1/secrets", headers=tenant.headers)
    assert listed.json()["secrets"] == []


async def test_validation_errors_never_echo_the_submitted_value(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    value = "VERY-SECRET-VALUE-123"
    attempts: list[dict[str, Any]] = [
        {"name": "a", "type": "not-a-type", "value": value},
        {"name": "a", "value": value, "expires_at": "tomorrow"},
        {"name": "a", "value": value, "expires_at": "2999-01-01T00:00:00"},
        {"name": "a", "value": value, "unexpected": value},
        {"name": "a", "value": value, "description": "d" * 1025},
        {"name": value, "value": {"nested": value}},
        {"name": "a", "value": [value]},
    ]
    for attempt in attempts:
        response = await api.post("/api/v1/secrets", json=attempt, headers=tenant.headers)
        assert_problem(response, 422, "request.invalid")
        assert value not in response.text, attempt
    put = await api.put("/api/v1/secrets/a", json={"value": value, "type": "nope"}, headers=tenant.headers)
    assert_problem(put, 422, "request.invalid")
    assert value not in put.text
    assert (await api.get("/api/v1/secrets", headers=tenant.headers)).json()["secrets"] == []


async def test_every_error_carries_the_request_id_of_its_response(
    api: httpx2.AsyncClient, container: Container
) -> None:
    admin = await make_tenant(container, "admin")
    reader = await make_tenant(container, "secrets:read")
    created = await api.post("/api/v1/secrets", json={"name": "dup", "value": "v1v1"}, headers=admin.headers)
    assert created.status_code == 201
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", "/api/v1/secrets", {}, 401, "auth.invalid_api_key"),
        ("POST", "/api/v1/secrets", {"json": {"name": "x", "value": "v"}, "key": reader}, 403, "auth.missing_scope"),
        ("GET", "/api/v1/nothing-here", {"key": admin}, 404, "route.not_found"),
        ("GET", "/api/v1/secrets/missing", {"key": admin}, 404, "secret.not_found"),
        ("DELETE", "/api/v1/secrets", {"key": admin}, 405, "route.method_not_allowed"),
        ("POST", "/api/v1/secrets", {"json": {"name": "dup", "value": "v2v2"}, "key": admin}, 409, "secret.exists"),
        ("POST", "/api/v1/secrets", {"json": {"name": "big", "value": "x" * 65537}, "key": admin}, 413, "secret.value_too_large"),
        ("POST", "/api/v1/secrets", {"json": {"name": "x"}, "key": admin}, 422, "request.invalid"),
        ("POST", "/api/v1/secrets", {"json": {"name": "9x", "value": "v"}, "key": admin}, 422, "secret.invalid_name"),
    ]  # fmt: skip
    seen: set[str] = set()
    for method, path, options, status, code in cases:
        key = options.get("key")
        headers = key.headers if key else {}
        response = await api.request(method, path, json=options.get("json"), headers=headers)
        body = assert_problem(response, status, code)
        seen.add(body["request_id"])
    assert len(seen) == len(cases), "each request gets its own id"


async def test_a_valid_incoming_request_id_is_echoed(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    rid = "client-trace.42:abc_DEF-9"
    response = await api.get("/api/v1/secrets/missing", headers={**tenant.headers, "X-Request-Id": rid})
    body = assert_problem(response, 404, "secret.not_found")
    assert response.headers["x-request-id"] == rid and body["request_id"] == rid
    ok = await api.get("/api/v1/secrets", headers={**tenant.headers, "X-Request-Id": rid})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == rid


@pytest.mark.parametrize("incoming", ["has space", "x" * 65, "semi;colon", 'quote"d', "", "ünïcode"])
async def test_an_invalid_incoming_request_id_is_replaced(
    api: httpx2.AsyncClient, tenant: TenantFixture, incoming: str
) -> None:
    headers = {**tenant.headers, "X-Request-Id": incoming.encode("utf-8")}
    response = await api.get("/api/v1/secrets/missing", headers=headers)
    body = assert_problem(response, 404, "secret.not_found")
    assert body["request_id"].startswith("req_") and body["request_id"] != incoming
    assert len(response.headers.get_list("x-request-id")) == 1


async def test_an_unexpected_error_is_a_500_problem_without_trace(container: Container) -> None:
    leaked = "internal-detail-s3cr3t-do-not-show"

    async def explode() -> None:
        raise RuntimeError(f"database password is {leaked}")

    app = create_app(container=container)
    app.add_api_route("/test/explode", explode)
    async with client_for(app) as client:
        response = await client.get("/test/explode", headers={"X-Request-Id": "boom-1"})
    body = assert_problem(response, 500, "internal.error")
    assert body["request_id"] == "boom-1"
    assert leaked not in response.text and "RuntimeError" not in response.text


async def test_an_oversized_body_is_refused_before_it_is_read(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    huge = b'{"name": "huge", "value": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    declared = await api.post(
        "/api/v1/secrets", content=huge, headers={**tenant.headers, "content-type": "application/json"}
    )
    assert_problem(declared, 413, "request.too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(huge), 64 * 1024):
            yield huge[start : start + 64 * 1024]

    streamed = await api.post(
        "/api/v1/secrets", content=chunks(), headers={**tenant.headers, "content-type": "application/json"}
    )
    assert_problem(streamed, 413, "request.too_large")
    missing = await api.get("/api/v1/secrets/huge", headers=tenant.headers)
    assert missing.status_code == 404
