"""The public HTTP surface is pinned: a route added, removed or opened up without auth fails here."""

from __future__ import annotations

import httpx2

from switchyard.services.container import Container

PINNED = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/tenants/me"),
    ("POST", "/api/v1/end-users"),
    ("GET", "/api/v1/end-users"),
    ("GET", "/api/v1/end-users/{external_id}"),
    ("PATCH", "/api/v1/end-users/{external_id}"),
    ("DELETE", "/api/v1/end-users/{external_id}"),
    ("GET", "/api/v1/api-keys"),
    ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/{key_id}"),
    ("POST", "/api/v1/secrets"),
    ("GET", "/api/v1/secrets"),
    ("GET", "/api/v1/secrets/{name}"),
    ("PUT", "/api/v1/secrets/{name}"),
    ("DELETE", "/api/v1/secrets/{name}"),
    ("GET", "/api/v1/secrets/{name}/versions"),
    ("GET", "/api/v1/secrets/{name}/access-log"),
    ("GET", "/api/v1/connectors"),
    ("GET", "/api/v1/connectors/schema"),
    ("GET", "/api/v1/connectors/{connector_id}"),
    ("PUT", "/api/v1/connectors/{connector_id}"),
    ("DELETE", "/api/v1/connectors/{connector_id}"),
    ("POST", "/api/v1/integrations"),
    ("GET", "/api/v1/integrations"),
    ("GET", "/api/v1/integrations/{key}"),
    ("PATCH", "/api/v1/integrations/{key}"),
    ("DELETE", "/api/v1/integrations/{key}"),
    ("POST", "/api/v1/connect-sessions"),
    ("POST", "/api/v1/oauth/authorize"),
    ("GET", "/api/v1/connections"),
    ("GET", "/api/v1/connections/{connection_id}"),
    ("GET", "/api/v1/connections/{connection_id}/credentials"),
    ("POST", "/api/v1/connections"),
    ("POST", "/api/v1/mcp-tokens"),
    ("GET", "/.well-known/oauth-protected-resource/mcp"),
    ("GET", "/api/v1/mcp/config"),
    ("POST", "/api/v1/agent/run"),
    ("PATCH", "/api/v1/connections/{connection_id}"),
    ("DELETE", "/api/v1/connections/{connection_id}"),
    ("POST", "/api/v1/connections/{connection_id}/test"),
    ("POST", "/api/v1/connections/{connection_id}/refresh"),
    ("GET", "/api/v1/connector-credentials"),
    ("DELETE", "/api/v1/connector-credentials/{credential_id}"),
    ("POST", "/api/v1/connectors/{connector_id}/auth"),
    ("POST", "/api/v1/connections/sync"),
    ("POST", "/api/v1/connections/{connection_id}/test-connection"),
    *((method, "/api/v1/proxy/{path}") for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")),
    ("GET", "/api/v1/connectors/{connector_id}/actions"),
    ("POST", "/api/v1/connections/{connection_id}/actions/{action}"),
    ("POST", "/api/v1/connectors/{connector_id}/operate"),
    ("GET", "/.well-known/jwks.json"),
    ("POST", "/api/v1/caller-keys"),
    ("GET", "/api/v1/caller-keys"),
    ("DELETE", "/api/v1/caller-keys/{kid}"),
    ("POST", "/api/v1/packages"),
    ("GET", "/api/v1/packages"),
    ("GET", "/api/v1/packages/{name}"),
    ("DELETE", "/api/v1/packages/{name}"),
    ("GET", "/api/v1/packages/{name}/versions"),
    ("GET", "/api/v1/packages/{name}/download"),
    ("POST", "/api/v1/packages/{name}/rollback"),
    ("POST", "/apps"),
    ("GET", "/apps"),
    ("GET", "/apps/{name}"),
    ("DELETE", "/apps/{name}"),
}
PUBLIC = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/connectors/schema",
    "/.well-known/jwks.json",
    "/.well-known/oauth-protected-resource/mcp",  # RFC 9728: public by design
}


async def _operations(api: httpx2.AsyncClient) -> set[tuple[str, str]]:
    document = (await api.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


async def test_the_route_table_is_pinned(api: httpx2.AsyncClient, container: Container) -> None:
    assert await _operations(api) == PINNED


async def test_every_api_route_requires_a_key(api: httpx2.AsyncClient, container: Container) -> None:
    for method, path in sorted(PINNED):
        if path in PUBLIC:
            continue
        concrete = path
        for placeholder, value in {
            "external_id": "u1",
            "key_id": "key_x",
            "name": "s1",
            "connector_id": "github",
            "key": "k",
        }.items():
            concrete = concrete.replace("{" + placeholder + "}", value)
        response = await api.request(
            method, concrete, json={} if method in {"POST", "PUT", "PATCH"} else None
        )
        assert response.status_code == 401, (method, path, response.status_code)
        if method != "HEAD":  # a HEAD answer has no body
            assert response.json()["code"] == "auth.invalid_api_key"
