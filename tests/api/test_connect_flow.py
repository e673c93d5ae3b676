"""Connect sessions and the OAuth state rules, over HTTP (the provider's side is not needed here)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import sqlalchemy as sa

from switchyard.adapters.db.tables import oauth_states
from switchyard.core.clock import utcnow
from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture, make_tenant

PROVIDER = """
name: example-oauth
version: 1.0.0
displayName: Example OAuth
authenticationMethods:
  - type: oauth2
    authorizationUrl: https://auth.example.com/{{region}}/authorize
    tokenUrl: https://auth.example.com/{{region}}/token
    defaultScopes: [read, write]
connectionConfig:
  region: {title: Region, pattern: "^[a-z]{2}$", example: eu}
proxy: {baseUrl: "https://api.example.com"}
"""


async def _integration(api: httpx2.AsyncClient, tenant: TenantFixture, key: str = "example") -> None:
    headers = {**tenant.headers, "content-type": "application/yaml"}
    assert (
        await api.put("/api/v1/connectors/example-oauth", content=PROVIDER, headers=headers)
    ).status_code == 200
    created = await api.post(
        "/api/v1/integrations",
        json={
            "key": key,
            "connector_id": "example-oauth",
            "client_id": "cid",
            "client_secret": "client-secret-1",
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text


async def _session(api: httpx2.AsyncClient, tenant: TenantFixture, **extra: object) -> dict[str, str]:
    body = {"end_user": {"id": "u42", "email": "u42@example.com"}, **extra}
    response = await api.post("/api/v1/connect-sessions", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_connect_session_starts_the_redirect_flow(
    api: httpx2.AsyncClient, tenant: TenantFixture
) -> None:
    await _integration(api, tenant)
    session = await _session(
        api, tenant, allowed_integrations=["example"], return_url="https://app.example.com/done"
    )
    assert session["token"].startswith("cs_")
    assert session["connect_url"].endswith(session["token"])
    user = await api.get("/api/v1/end-users/u42", headers=tenant.headers)
    assert user.json()["email"] == "u42@example.com"

    started = await api.get(
        "/oauth/authorize",
        params={"session": session["token"], "integration": "example", "config.region": "eu"},
    )
    assert started.status_code == 302
    location = urlsplit(started.headers["location"])
    assert (location.netloc, location.path) == ("auth.example.com", "/eu/authorize")
    query = parse_qs(location.query)
    assert query["client_id"] == ["cid"]
    assert query["scope"] == ["read write"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 43
    assert query["redirect_uri"][0].endswith("/oauth/callback")


async def test_bad_starts_show_a_clear_page_and_store_nothing(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    await _integration(api, tenant)
    session = await _session(api, tenant, allowed_integrations=["example"])
    cases = [
        ({"session": "cs_unknown", "integration": "example"}, "connect_session.invalid"),
        ({"session": session["token"], "integration": "other"}, "connect_session.integration_not_allowed"),
        ({"session": session["token"], "integration": "example"}, "connection.invalid_connection_config"),
        ({"session": session["token"], "integration": "example", "config.region": "EUROPE"}, "connection.invalid_connection_config"),
    ]  # fmt: skip
    for params, code in cases:
        response = await api.get("/oauth/authorize", params=params)
        assert response.status_code in (400, 401, 404, 422), (params, response.status_code)
        assert code in response.text
        assert response.headers["content-type"].startswith("text/html")
    async with container.db.transaction(write=False) as tx:
        count = (
            await tx.conn.execute(
                sa.select(sa.func.count())
                .select_from(oauth_states)
                .where(oauth_states.c.tenant_id == tenant.id)
            )
        ).scalar_one()  # type: ignore[attr-defined]
    assert count == 0


async def _state(api: httpx2.AsyncClient, tenant: TenantFixture, **body: object) -> str:
    response = await api.post(
        "/api/v1/oauth/authorize",
        json={"integration": "example", "end_user_id": "u42", "connection_config": {"region": "eu"}, **body},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    return parse_qs(urlsplit(response.json()["authorization_url"]).query)["state"][0]


async def test_state_missing_unknown_denied_replayed_and_expired(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    await _integration(api, tenant)
    await _session(api, tenant)
    assert "oauth.state_missing" in (await api.get("/oauth/callback", params={"code": "c"})).text
    assert (
        "oauth.state_invalid"
        in (await api.get("/oauth/callback", params={"code": "c", "state": "nope"})).text
    )

    state = await _state(api, tenant, return_url="https://app.example.com/back", response_mode="redirect")
    denied = await api.get("/oauth/callback", params={"error": "access_denied", "state": state})
    assert denied.status_code == 302
    back = parse_qs(urlsplit(denied.headers["location"]).query)
    assert back["error"] == ["oauth.access_denied"]
    assert back["status"] == ["error"]
    replay = await api.get("/oauth/callback", params={"code": "c", "state": state})
    assert "oauth.state_replayed" in replay.text

    late = await _state(api, tenant)
    async with container.db.transaction() as tx:
        await tx.conn.execute(
            oauth_states.update()
            .where(oauth_states.c.tenant_id == tenant.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )  # type: ignore[attr-defined]
    assert (
        "oauth.state_expired" in (await api.get("/oauth/callback", params={"code": "c", "state": late})).text
    )
    listed = await api.get("/api/v1/connections", headers=tenant.headers)
    assert listed.json()["connections"] == []


async def test_the_rest_start_needs_a_known_end_user_and_is_tenant_scoped(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    await _integration(api, tenant)
    missing = await api.post(
        "/api/v1/oauth/authorize",
        json={"integration": "example", "end_user_id": "ghost"},
        headers=tenant.headers,
    )
    assert_problem(missing, 404, "end_user.not_found")
    other = await make_tenant(container, "admin")
    theirs = await api.post(
        "/api/v1/oauth/authorize",
        json={"integration": "example", "end_user_id": "u42"},
        headers=other.headers,
    )
    assert_problem(theirs, 404, "integration.not_found")
    bad_return = await api.post(
        "/api/v1/connect-sessions",
        json={"end_user": {"id": "u1"}, "return_url": "http://evil.example.com/"},
        headers=tenant.headers,
    )
    assert_problem(bad_return, 422, "connect_session.invalid_return_url")
    unknown = await api.post(
        "/api/v1/connect-sessions",
        json={"end_user": {"id": "u1"}, "allowed_integrations": ["nope"]},
        headers=tenant.headers,
    )
    assert_problem(unknown, 422, "integration.not_found")


TYPED_PROVIDER = """
name: typed-oauth
version: 1.0.0
displayName: Typed OAuth
authenticationMethods:
  - type: oauth2
    authorizationUrl: https://auth.example.com/authorize
    tokenUrl: https://auth.example.com/token
connectionConfig:
  sandbox: {title: Sandbox, type: boolean, default: false}
  port: {title: Port, type: integer, required: true}
proxy: {baseUrl: "https://api.example.com"}
"""


async def test_the_browser_start_types_the_connection_config_as_the_connector_declares(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    """A form or link can only send strings: ``config.sandbox=true`` is a boolean, ``config.port`` a number."""
    headers = {**tenant.headers, "content-type": "application/yaml"}
    put = await api.put("/api/v1/connectors/typed-oauth", content=TYPED_PROVIDER, headers=headers)
    assert put.status_code == 200, put.text
    body = {"key": "typed", "connector_id": "typed-oauth", "client_id": "cid", "client_secret": "s-123456"}
    assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    session = await _session(api, tenant, allowed_integrations=["typed"])
    params = {
        "session": session["token"],
        "integration": "typed",
        "config.sandbox": "true",
        "config.port": "8443",
    }
    started = await api.get("/oauth/authorize", params=params)
    assert started.status_code == 302, started.text
    async with container.db.transaction(write=False) as tx:
        stored = (
            await tx.conn.execute(  # type: ignore[attr-defined]
                sa.select(oauth_states.c.connection_config).where(oauth_states.c.tenant_id == tenant.id)
            )
        ).scalar_one()
    assert stored == {"sandbox": True, "port": 8443}
    refused = await api.get("/oauth/authorize", params={**params, "config.port": "eighty"})
    assert refused.status_code == 422
    assert "port must be a integer" in refused.text or "port must be an integer" in refused.text
