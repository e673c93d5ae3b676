"""Integrations over HTTP: OAuth clients with sealed or referenced secrets, several per connector."""

from __future__ import annotations

import httpx2
import pytest

from switchyard.core.scopes import Scope
from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture, make_tenant

SECRET = "gh-client-secret-0123456789abcdef"


async def _create(api: httpx2.AsyncClient, tenant: TenantFixture, **body: object) -> httpx2.Response:
    return await api.post("/api/v1/integrations", json=body, headers=tenant.headers)


async def test_create_with_a_sealed_secret_shows_it_masked_and_opens_it_audited(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    created = await _create(
        api, tenant, key="github-prod", connector_id="github", client_id="Iv1.abc", client_secret=SECRET
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["auth_provider"], body["auth_type"]) == ("builtin", "oauth2")
    assert body["client_secret"] == "***abcdef"
    assert body["scopes"] == ["repo", "read:user"]  # the definition's defaults
    assert SECRET not in created.text
    assert SECRET not in (await api.get("/api/v1/integrations/github-prod", headers=tenant.headers)).text

    integration = await container.integrations.get(tenant.principal, "github-prod")
    assert await container.integrations.client_secret(integration, "oauth.token") == SECRET


async def test_a_secret_reference_and_two_integrations_of_one_connector(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    await api.post(
        "/api/v1/secrets",
        json={"name": "gh_staging_secret", "value": "staging-secret-value"},
        headers=tenant.headers,
    )
    ref = {"secret_name": "gh_staging_secret"}
    staging = await _create(
        api,
        tenant,
        key="github-staging",
        connector_id="github",
        client_id="Iv1.stg",
        client_secret=ref,
        scopes=["repo"],
    )
    assert staging.status_code == 201, staging.text
    assert staging.json()["client_secret_ref"] == ref
    assert staging.json()["client_secret"] is None
    pat = await _create(
        api, tenant, key="github-pat", connector_id="github", auth_provider="direct", auth_type="api_key"
    )
    assert pat.status_code == 201, pat.text

    listed = await api.get("/api/v1/integrations", params={"connector_id": "github"}, headers=tenant.headers)
    assert [i["key"] for i in listed.json()["integrations"]] == ["github-pat", "github-staging"]
    integration = await container.integrations.get(tenant.principal, "github-staging")
    assert await container.integrations.client_secret(integration, "oauth.token") == "staging-secret-value"
    log = await container.secrets.access_log(tenant.principal, "gh_staging_secret", before=None, limit=5)
    assert [e.actor for e in log.entries.items] == [f"integration:{integration.id}"]


async def test_update_replaces_the_secret_and_delete_removes_it(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    await _create(api, tenant, key="gh", connector_id="github", client_id="Iv1.abc", client_secret=SECRET)
    before = await container.integrations.get(tenant.principal, "gh")
    patched = await api.patch(
        "/api/v1/integrations/gh",
        json={"client_secret": "rotated-secret-zyxwvu", "scopes": ["repo"]},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["client_secret"], patched.json()["scopes"]) == ("***yxwvu", ["repo"])
    after = await container.integrations.get(tenant.principal, "gh")
    assert await container.integrations.client_secret(after, "t") == "rotated-secret-zyxwvu"
    async with container.db.transaction(write=False) as tx:
        assert await tx.vault_items.get_many(tenant.id, [before.client_secret_item_id or ""]) == []

    assert (await api.delete("/api/v1/integrations/gh", headers=tenant.headers)).status_code == 204
    assert_problem(
        await api.get("/api/v1/integrations/gh", headers=tenant.headers), 404, "integration.not_found"
    )
    async with container.db.transaction(write=False) as tx:
        assert await tx.vault_items.get_many(tenant.id, [after.client_secret_item_id or ""]) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"key": "Bad Key", "connector_id": "github"}, "integration.invalid_key"),
        ({"key": "x", "connector_id": "no-such-connector"}, "connector.not_found"),
        ({"key": "x", "connector_id": "github", "auth_type": "oauth1"}, "integration.unsupported_auth_type"),
        ({"key": "x", "connector_id": "github"}, "integration.missing_client"),
        ({"key": "x", "connector_id": "github", "client_id": "id"}, "integration.missing_client"),
        ({"key": "x", "connector_id": "github", "auth_provider": "direct"}, "integration.invalid_provider"),
        ({"key": "x", "connector_id": "github", "auth_provider": "nango"}, "integration.nango_not_configured"),
        ({"key": "x", "connector_id": "github", "client_id": "i", "client_secret": {"secret_name": "9bad"}}, "secret.invalid_name"),
        ({"key": "x", "connector_id": "github", "client_id": "i", "client_secret": {"secret_name": "absent"}}, "integration.secret_not_found"),
    ],
)  # fmt: skip
async def test_bad_integrations_store_nothing(
    api: httpx2.AsyncClient, tenant: TenantFixture, body: dict[str, object], code: str
) -> None:
    response = await _create(api, tenant, **body)
    assert response.status_code in (404, 422), response.text
    assert response.json()["code"] == code
    assert (await api.get("/api/v1/integrations", headers=tenant.headers)).json()["integrations"] == []


async def test_duplicates_immutables_isolation_and_scopes(
    api: httpx2.AsyncClient, container: Container, tenant: TenantFixture
) -> None:
    assert (
        await _create(api, tenant, key="pat", connector_id="github", auth_type="api_key")
    ).status_code == 201
    assert_problem(
        await _create(api, tenant, key="pat", connector_id="github", auth_type="api_key"),
        409,
        "integration.exists",
    )
    immutable = await api.patch(
        "/api/v1/integrations/pat", json={"auth_type": "oauth1"}, headers=tenant.headers
    )
    assert_problem(immutable, 422, "integration.unsupported_auth_type")

    other = await make_tenant(container, "admin")
    assert_problem(
        await api.get("/api/v1/integrations/pat", headers=other.headers), 404, "integration.not_found"
    )
    assert_problem(
        await api.delete("/api/v1/integrations/pat", headers=other.headers), 404, "integration.not_found"
    )

    reader = await container.api_keys.issue(tenant.id, name="r", scopes=[Scope.INTEGRATIONS_READ])
    reader_headers = {"Authorization": f"Bearer {reader.plaintext}"}
    assert (await api.get("/api/v1/integrations/pat", headers=reader_headers)).status_code == 200
    denied = await api.delete("/api/v1/integrations/pat", headers=reader_headers)
    assert_problem(denied, 403, "auth.missing_scope")
