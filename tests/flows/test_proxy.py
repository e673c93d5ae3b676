"""The proxy against a real provider peer on loopback: injection, bodies both ways, retries, limits, errors."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from switchyard.api.app import create_app
from switchyard.services.container import build
from tests.api.test_problem_json import assert_problem
from tests.conftest import KEYED_API_KEY, TenantFixture, make_settings, make_tenant
from tests.flows.conftest import Peers
from tests.flows.helpers import connect_through_peer
from tests.peers.provider_api import ProviderApiPeer

API_KEY = KEYED_API_KEY


def keyed_definition(api_url: str, *, extra: str = "") -> str:
    return f"""
name: keyed
version: 1.0.0
displayName: Keyed API
authenticationMethods:
  - type: api_key
    credentials:
      api_key: {{title: API key, secret: true}}
    inject: {{in: header, name: X-Api-Key, format: "{{{{api_key}}}}"}}
proxy: {{baseUrl: "{api_url}", headers: {{X-Fixed: fixed-value}}}}
retry: {{retryableStatuses: [429, 503]}}
{extra}"""


async def connect_keyed(
    api: httpx2.AsyncClient, tenant: TenantFixture, url: str, *, extra: str = "", key: str = API_KEY
) -> str:
    headers = {**tenant.headers, "content-type": "application/yaml"}
    put = await api.put(
        "/api/v1/connectors/keyed", content=keyed_definition(url, extra=extra), headers=headers
    )
    assert put.status_code == 200, put.text
    body = {"key": "keyed", "connector_id": "keyed", "auth_provider": "direct", "auth_type": "api_key"}
    assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)
    made = await api.post(
        "/api/v1/connections",
        json={"integration": "keyed", "end_user_id": "u1", "credentials": {"api_key": key}},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


@pytest.fixture
async def connection(api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer) -> str:
    return await connect_keyed(api, tenant, keyed_api.url)


def via(tenant: TenantFixture, connection_id: str, **more: str) -> dict[str, str]:
    return {**tenant.headers, "Connection-Id": connection_id, **more}


async def test_a_get_carries_the_credential_and_not_the_callers_key(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, keyed_api: ProviderApiPeer
) -> None:
    answer = await api.get("/api/v1/proxy/echo?b=2&a=1&a=3", headers=via(tenant, connection, Cookie="c=1"))
    assert answer.status_code == 200, answer.text
    echoed = answer.json()
    assert echoed["method"] == "GET" and echoed["path"] == "/echo"
    assert echoed["query"] == [["b", "2"], ["a", "1"], ["a", "3"]]
    sent = {name.lower(): value for name, value in echoed["headers"].items()}
    assert sent["x-fixed"] == "fixed-value"
    assert "cookie" not in sent and "connection-id" not in sent
    assert tenant.key not in answer.text
    assert keyed_api.request_log[-1].credential == API_KEY  # the peer saw the connection's key
    by_query = await api.get(f"/api/v1/proxy/user?connection_id={connection}", headers=tenant.headers)
    assert by_query.status_code == 200 and keyed_api.request_log[-1].query == []


async def test_bodies_pass_through_byte_for_byte(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str
) -> None:
    as_json = await api.post("/api/v1/proxy/echo", json={"n": 1, "s": "ü"}, headers=via(tenant, connection))
    assert as_json.json()["body"]["json"] == {"n": 1, "s": "ü"}
    form = await api.put("/api/v1/proxy/echo", data={"a": "1", "b": "x y"}, headers=via(tenant, connection))
    assert form.json()["method"] == "PUT" and form.json()["body"]["form"] == [["a", "1"], ["b", "x y"]]
    files = {"file": ("report.bin", bytes(range(256)) * 40, "application/octet-stream")}
    multipart = await api.post("/api/v1/proxy/echo", files=files, headers=via(tenant, connection))
    assert multipart.json()["body"]["content_type"] == "multipart/form-data"
    blob = bytes(range(256)) * 12_000  # ~3 MB: streamed, not buffered
    sent = await api.patch(
        "/api/v1/proxy/echo",
        content=blob,
        headers=via(tenant, connection, **{"Content-Type": "application/octet-stream"}),
    )
    assert sent.json()["body"]["sha256"] == hashlib.sha256(blob).hexdigest()
    download = await api.get("/api/v1/proxy/bytes?size=5000000", headers=via(tenant, connection))
    assert download.status_code == 200 and len(download.content) == 5_000_000
    assert download.content[:256] == bytes(range(256))


async def test_answer_headers_lose_cookies_and_keep_the_providers_own(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str
) -> None:
    answer = await api.get("/api/v1/proxy/cookie", headers=via(tenant, connection))
    assert answer.headers["x-provider"] == "peer"
    assert "set-cookie" not in answer.headers
    refused = await api.get("/api/v1/proxy/status/401", headers=via(tenant, connection))
    assert refused.status_code == 401 and "www-authenticate" not in refused.headers


async def test_idempotent_calls_are_retried_and_others_only_on_request(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, keyed_api: ProviderApiPeer
) -> None:
    answer = await api.get("/api/v1/proxy/flaky", headers=via(tenant, connection))
    assert answer.status_code == 200 and keyed_api.calls["/flaky"] == 3
    keyed_api.reset_counters()
    post = await api.post("/api/v1/proxy/flaky", headers=via(tenant, connection))
    assert post.status_code == 503 and keyed_api.calls["/flaky"] == 1
    keyed_api.reset_counters()
    opted = await api.post("/api/v1/proxy/flaky", headers=via(tenant, connection, Retries="3"))
    assert opted.status_code == 200 and keyed_api.calls["/flaky"] == 3
    keyed_api.reset_counters()
    limited = await api.get("/api/v1/proxy/rate-limited", headers=via(tenant, connection))
    assert limited.status_code == 200 and keyed_api.calls["/rate-limited"] == 3
    keyed_api.reset_counters()
    none = await api.get("/api/v1/proxy/flaky", headers=via(tenant, connection, Retries="0"))
    assert none.status_code == 503 and keyed_api.calls["/flaky"] == 1


async def test_unknown_and_foreign_connections_are_not_found(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, container: object
) -> None:
    missing = await api.get("/api/v1/proxy/user", headers=via(tenant, "con_missing"))
    assert_problem(missing, 404, "connection.not_found")
    other = await make_tenant(container, "admin")  # type: ignore[arg-type]
    foreign = await api.get("/api/v1/proxy/user", headers=via(other, connection))
    assert_problem(foreign, 404, "connection.not_found")
    unnamed = await api.get("/api/v1/proxy/user", headers=tenant.headers)
    assert_problem(unnamed, 422, "proxy.connection_missing")


@pytest.mark.parametrize(
    "override",
    [
        "http://169.254.169.254",
        "http://10.0.0.1",
        "http://127.0.0.1:9",
        "http://localhost:9",
        "https://[::1]:9",
    ],
)
async def test_a_base_url_override_to_an_internal_address_is_blocked(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, override: str, keyed_api: ProviderApiPeer
) -> None:
    before = len(keyed_api.request_log)
    answer = await api.get(
        "/api/v1/proxy/user", headers=via(tenant, connection, **{"Base-Url-Override": override})
    )
    if override.startswith(("http://127.0.0.1", "http://localhost")):
        # loopback is allowlisted in the test settings: a closed port there is unreachable, not blocked
        assert_problem(answer, 502, "provider.unavailable")
    else:
        assert_problem(answer, 403, "egress.blocked")
    assert len(keyed_api.request_log) == before


async def test_a_body_over_the_limit_is_refused_and_nothing_is_sent(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    connection: str,
    keyed_api: ProviderApiPeer,
    container: object,
) -> None:
    limit = container.settings.proxy_max_request_bytes  # type: ignore[attr-defined]
    container.settings.proxy_max_request_bytes = 4096  # type: ignore[attr-defined]
    try:
        before = len(keyed_api.request_log)
        answer = await api.post("/api/v1/proxy/echo", content=b"x" * 10_000, headers=via(tenant, connection))
        assert_problem(answer, 413, "request.too_large")
        assert len(keyed_api.request_log) == before
    finally:
        container.settings.proxy_max_request_bytes = limit  # type: ignore[attr-defined]


async def test_a_stalled_provider_times_out(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str, container: object
) -> None:
    proxy = container.proxy  # type: ignore[attr-defined]
    timeout = proxy.timeout
    proxy.timeout = 0.5
    try:
        started = asyncio.get_running_loop().time()
        answer = await api.get("/api/v1/proxy/slow?seconds=5", headers=via(tenant, connection, Retries="0"))
        assert_problem(answer, 504, "provider.timeout")
        assert asyncio.get_running_loop().time() - started < 3
    finally:
        proxy.timeout = timeout


@pytest.fixture
async def guarded_api(shared_database: str, tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    """A server whose egress guard lets http reach loopback names but no loopback address through."""
    built = build(make_settings(tmp_path, shared_database, egress_allow_networks=""))
    await built.start(upgrade=True)
    transport = httpx2.ASGITransport(app=create_app(container=built))
    async with httpx2.AsyncClient(transport=transport, base_url="http://switchyard.test") as client:
        client.container = built  # type: ignore[attr-defined]
        yield client
    await built.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"])
async def test_loopback_is_blocked_when_not_allowlisted(
    guarded_api: httpx2.AsyncClient, keyed_api: ProviderApiPeer, host: str
) -> None:
    tenant = await make_tenant(guarded_api.container, "admin")  # type: ignore[attr-defined]
    connection = await connect_keyed(guarded_api, tenant, keyed_api.url)
    port = keyed_api.url.rsplit(":", 1)[1]
    before = len(keyed_api.request_log)
    for headers in ({}, {"Base-Url-Override": f"http://{host}:{port}"}):
        answer = await guarded_api.get("/api/v1/proxy/user", headers=via(tenant, connection, **headers))
        assert_problem(answer, 403, "egress.blocked")
    assert len(keyed_api.request_log) == before


async def test_calls_are_counted_per_provider(
    api: httpx2.AsyncClient, tenant: TenantFixture, connection: str
) -> None:
    answer = await api.get("/api/v1/proxy/user", headers=via(tenant, connection))
    assert answer.status_code == 200
    metrics = (await api.get("/metrics")).text
    assert 'switchyard_provider_calls_total{outcome="200",provider="keyed"}' in metrics


async def test_an_expiring_oauth_token_is_refreshed_before_the_call(
    api: httpx2.AsyncClient, tenant: TenantFixture, peers: Peers
) -> None:
    peers.oauth.access_token_ttl = 2  # the definition refreshes 1 s before expiry
    connection = await connect_through_peer(api, tenant, peers)
    first = await api.get("/api/v1/proxy/user", headers=via(tenant, connection))
    assert first.status_code == 200, first.text
    await asyncio.sleep(1.2)  # now within the refresh margin
    second = await api.get("/api/v1/proxy/user", headers=via(tenant, connection))
    assert second.status_code == 200, second.text
    assert peers.oauth.token_requests["refresh_token"] == 1
    assert peers.api.request_log[-1].credential != peers.api.request_log[-2].credential
