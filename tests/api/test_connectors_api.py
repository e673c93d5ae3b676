"""The catalog over HTTP: seed 002's listing, filters, the whole definition, tenant definitions."""

from __future__ import annotations

import httpx2

from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture, make_tenant

CUSTOM = """
name: acme-crm
version: 0.3.0
displayName: Acme CRM
description: The in-house CRM of Acme, reached with an API key.
categories: [crm]
serviceType: crm
authenticationMethods:
  - type: api_key
proxy:
  baseUrl: https://{{subdomain}}.acme.example
connectionConfig:
  subdomain: {title: Subdomain, pattern: "^[a-z0-9-]+$", example: demo}
verification: {path: /me}
"""


async def test_listing_in_seed_002_shape(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    response = await api.get("/api/v1/connectors", headers=tenant.headers)
    assert response.status_code == 200
    connectors = {c["connector_id"]: c for c in response.json()["connectors"]}
    github = connectors["github"]
    assert github["service_type"] == "development"
    assert github["authentication_methods"] == ["oauth2", "api_key"]
    assert github["version"] == "1.0.0"
    assert isinstance(github["capabilities"], list)
    assert github["source"] == "builtin"


async def test_filters(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    async def ids(**params: str) -> set[str]:
        response = await api.get("/api/v1/connectors", params=params, headers=tenant.headers)
        assert response.status_code == 200, response.text
        return {c["connector_id"] for c in response.json()["connectors"]}

    everything = await ids()
    development = await ids(category="development")
    assert "github" in development
    assert development < everything
    assert "github" in await ids(q="pull requests")
    assert "github" not in await ids(q="no-such-words-anywhere")
    assert "github" in await ids(auth="api_key")
    assert "github" not in await ids(auth="oauth1")
    bad = await api.get("/api/v1/connectors", params={"category": "toys"}, headers=tenant.headers)
    assert_problem(bad, 422, "request.invalid")


async def test_whole_definition_and_schema(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    detail = (await api.get("/api/v1/connectors/github", headers=tenant.headers)).json()
    assert detail["definition"]["displayName"] == "GitHub"
    assert detail["definition"]["authenticationMethods"][0]["tokenUrl"].startswith("https://")
    schema = (await api.get("/api/v1/connectors/schema", headers=tenant.headers)).json()
    assert schema["$schema"].endswith("2020-12/schema")
    missing = await api.get("/api/v1/connectors/no-such-thing", headers=tenant.headers)
    assert_problem(missing, 404, "connector.not_found")


async def test_a_tenant_adds_overrides_and_removes_definitions(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    yaml_headers = {**tenant.headers, "content-type": "application/yaml"}
    added = await api.put("/api/v1/connectors/acme-crm", content=CUSTOM, headers=yaml_headers)
    assert added.status_code == 200, added.text
    assert added.json()["source"] == "tenant"
    assert added.json()["overrides_builtin"] is False

    override = (await api.get("/api/v1/connectors/github", headers=tenant.headers)).json()["definition"]
    override["displayName"] = "GitHub Enterprise"
    override["proxy"]["baseUrl"] = "https://github.acme.example/api/v3"
    replaced = await api.put("/api/v1/connectors/github", json=override, headers=tenant.headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["overrides_builtin"] is True

    listed = {
        c["connector_id"]: c
        for c in (await api.get("/api/v1/connectors", headers=tenant.headers)).json()["connectors"]
    }
    assert listed["acme-crm"]["source"] == "tenant"
    assert listed["github"]["display_name"] == "GitHub Enterprise"

    other = await make_tenant(container, "admin")
    theirs = {
        c["connector_id"]: c
        for c in (await api.get("/api/v1/connectors", headers=other.headers)).json()["connectors"]
    }
    assert "acme-crm" not in theirs
    assert theirs["github"]["display_name"] == "GitHub"

    assert (await api.delete("/api/v1/connectors/github", headers=tenant.headers)).status_code == 204
    restored = (await api.get("/api/v1/connectors/github", headers=tenant.headers)).json()
    assert (restored["display_name"], restored["source"]) == ("GitHub", "builtin")
    builtin = await api.delete("/api/v1/connectors/github", headers=tenant.headers)
    assert_problem(builtin, 404, "connector.not_overridden")


async def test_bad_definitions_are_refused_with_field_and_line(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    yaml_headers = {**tenant.headers, "content-type": "application/yaml"}
    broken = CUSTOM.replace("  - type: api_key\n", "  - type: oauth2\n")
    response = await api.put("/api/v1/connectors/acme-crm", content=broken, headers=yaml_headers)
    assert_problem(response, 422, "connector.invalid_definition")
    problems = response.json()["problems"]
    assert {
        "path": "authenticationMethods.0.authorizationUrl",
        "line": 9,
        "message": "Field required",
    } in problems

    mismatch = await api.put("/api/v1/connectors/other-name", content=CUSTOM, headers=yaml_headers)
    assert_problem(mismatch, 422, "connector.name_mismatch")
    wrong_type = await api.put(
        "/api/v1/connectors/acme-crm",
        content=CUSTOM,
        headers={**tenant.headers, "content-type": "text/plain"},
    )
    assert_problem(wrong_type, 422, "connector.unsupported_media_type")
    assert_problem(
        await api.get("/api/v1/connectors/acme-crm", headers=tenant.headers), 404, "connector.not_found"
    )

    reader = await container.api_keys.issue(tenant.id, name="reader", scopes=["secrets:read"])
    denied = await api.put(
        "/api/v1/connectors/acme-crm",
        content=CUSTOM,
        headers={"Authorization": f"Bearer {reader.plaintext}", "content-type": "application/yaml"},
    )
    assert_problem(denied, 403, "auth.missing_scope")
