"""Connector packages over HTTP: seed 000's lifecycle, the hook code run in the sandbox, and bad uploads
that store nothing."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import httpx2
import pytest

from switchyard.core.packages import build_package
from switchyard.services.container import Container
from tests.api.test_problem_json import assert_problem
from tests.conftest import KEYED_API_KEY, TenantFixture, make_tenant
from tests.peers.provider_api import ProviderApiPeer
from tests.seed_packages import package, seed_000_manifest, seed_package

pytestmark = pytest.mark.usefixtures("bubblewrap")


def unix_member(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix: the mode sits in the high bits of external_attr
    info.external_attr = mode << 16
    return info


def with_seed_manifest(*members: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    """Seed 000's package plus members that ``build_package`` would never write (zipfile allows them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(seed_000_manifest()))
        archive.writestr("connector.py", "async def describe(ctx, input):\n    return {}\n")
        for info, content in members:
            archive.writestr(info, content)
    return buffer.getvalue()


def keyed_package(url: str, version: str, answer: str) -> bytes:
    """A package reached with an API key whose hook calls the provider through ``ctx.http``."""
    manifest = {
        "name": "keyed-pkg",
        "version": version,
        "displayName": "Keyed package",
        "authenticationMethods": [
            {
                "type": "api_key",
                "credentials": {"api_key": {"title": "API key", "secret": True}},
                "inject": {"in": "header", "name": "X-Api-Key", "format": "{{api_key}}"},
            }
        ],
        "proxy": {"baseUrl": url},
        "actions": [
            {
                "name": "elsewhere",
                "description": "Tries to send the request, and so the key, to another origin.",
                "hook": "elsewhere",
                "inputSchema": {"type": "object", "properties": {"url": {"type": "string"}}},
            },
            {
                "name": "whoami",
                "description": "Who the key belongs to, through the hook.",
                "hook": "whoami",
                "inputSchema": {"type": "object", "properties": {"note": {"type": "string"}}},
            },
        ],
    }
    code = f"""
async def whoami(ctx, input):
    answer = await ctx.http.request("GET", "/user")
    return {{"status": answer.status, "user": answer.json(), "note": input.get("note"), "answer": "{answer}"}}


async def elsewhere(ctx, input):
    return (await ctx.http.request("GET", input["url"])).status
"""
    return package(manifest, code)


async def upload(
    api: httpx2.AsyncClient, tenant: TenantFixture, data: bytes, *, force: bool = False, path: str = ""
) -> httpx2.Response:
    return await api.post(
        path or "/api/v1/packages",
        files={"file": ("connector.zip", data, "application/zip")},
        data={"force": "true"} if force else {},
        headers=tenant.headers,
    )


async def stored_keys(container: Container, tenant: TenantFixture) -> list[str]:
    return await container.packages.store.keys(tenant.id + "/")


async def test_seed_000_lifecycle(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container
) -> None:
    first = await upload(api, tenant, seed_package("1.0.0"))
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["package"]["name"] == "my-custom-connector"
    assert made["package"]["current_version"] == "1.0.0"
    assert made["version"]["object_key"] == f"{tenant.id}/my-custom-connector-v1.0.0.zip"
    assert made["version"]["actions"] == ["describe"] and made["version"]["has_code"] is True

    listed = (await api.get("/api/v1/packages", headers=tenant.headers)).json()["packages"]
    assert [p["name"] for p in listed] == ["my-custom-connector"]
    catalog = await api.get("/api/v1/connectors/my-custom-connector", headers=tenant.headers)
    assert catalog.status_code == 200 and catalog.json()["source"] == "package"

    assert (await upload(api, tenant, seed_package("1.0.1"))).status_code == 201
    versions = (await api.get("/api/v1/packages/my-custom-connector/versions", headers=tenant.headers)).json()
    assert [(v["version"], v["current"]) for v in versions["versions"]] == [("1.0.1", True), ("1.0.0", False)]

    rolled = await api.post(
        "/api/v1/packages/my-custom-connector/rollback", json={"version": "1.0.0"}, headers=tenant.headers
    )
    assert rolled.status_code == 200 and rolled.json()["current_version"] == "1.0.0"
    assert rolled.json()["latest_version"] == "1.0.1"
    catalog = await api.get("/api/v1/connectors/my-custom-connector", headers=tenant.headers)
    assert catalog.json()["version"] == "1.0.0"

    downloaded = await api.get("/api/v1/packages/my-custom-connector/download", headers=tenant.headers)
    assert downloaded.status_code == 200
    assert downloaded.content == seed_package("1.0.0")
    assert downloaded.headers["x-package-sha256"] == hashlib.sha256(downloaded.content).hexdigest()
    assert 'filename="my-custom-connector-v1.0.0.zip"' in downloaded.headers["content-disposition"]
    newer = await api.get(
        "/api/v1/packages/my-custom-connector/download", params={"version": "1.0.1"}, headers=tenant.headers
    )
    assert newer.content == seed_package("1.0.1")

    assert len(await stored_keys(container, tenant)) == 2
    gone = await api.delete("/api/v1/packages/my-custom-connector", headers=tenant.headers)
    assert gone.status_code == 204
    assert (await api.get("/api/v1/packages", headers=tenant.headers)).json()["packages"] == []
    assert await stored_keys(container, tenant) == []
    missing = await api.get("/api/v1/connectors/my-custom-connector", headers=tenant.headers)
    assert_problem(missing, 404, "connector.not_found")


async def test_the_apps_aliases_of_seed_000(api: httpx2.AsyncClient, tenant: TenantFixture) -> None:
    made = await upload(api, tenant, seed_package(), path="/apps")
    assert made.status_code == 201, made.text
    package_id = made.json()["package"]["id"]
    apps = await api.get("/apps", headers=tenant.headers)
    assert [a["id"] for a in apps.json()["packages"]] == [package_id]
    assert (await api.get(f"/apps/{package_id}", headers=tenant.headers)).json()[
        "name"
    ] == "my-custom-connector"
    assert (await api.delete(f"/apps/{package_id}", headers=tenant.headers)).status_code == 204
    assert_problem(await api.get(f"/apps/{package_id}", headers=tenant.headers), 404, "package.not_found")


async def test_a_package_hook_reaches_the_provider_without_seeing_the_key(
    api: httpx2.AsyncClient, tenant: TenantFixture, keyed_api: ProviderApiPeer
) -> None:
    first_upload = await upload(api, tenant, keyed_package(keyed_api.url, "1.0.0", "one"))
    assert first_upload.status_code == 201, first_upload.text
    body = {
        "key": "keyed-pkg",
        "connector_id": "keyed-pkg",
        "auth_provider": "direct",
        "auth_type": "api_key",
    }
    assert (await api.post("/api/v1/integrations", json=body, headers=tenant.headers)).status_code == 201
    await api.post("/api/v1/end-users", json={"external_id": "u1"}, headers=tenant.headers)
    made = await api.post(
        "/api/v1/connections",
        json={"integration": "keyed-pkg", "end_user_id": "u1", "credentials": {"api_key": KEYED_API_KEY}},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    connection_id = made.json()["id"]

    async def whoami() -> dict[str, Any]:
        ran = await api.post(
            f"/api/v1/connections/{connection_id}/actions/whoami",
            json={"input": {"note": "hi"}},
            headers=tenant.headers,
        )
        assert ran.status_code == 200, ran.text
        assert KEYED_API_KEY not in ran.text
        output: dict[str, Any] = ran.json()["output"]
        return output

    first = await whoami()
    assert first["status"] == 200 and first["note"] == "hi" and first["answer"] == "one"
    assert keyed_api.request_log[-1].credential == KEYED_API_KEY  # the host injected it, not the hook

    elsewhere = await api.post(
        f"/api/v1/connections/{connection_id}/actions/elsewhere",
        json={"input": {"url": keyed_api.url.replace("127.0.0.1", "localhost") + "/user"}},
        headers=tenant.headers,
    )
    assert_problem(elsewhere, 403, "egress.blocked")  # the proxy's own refusal, through the sandbox
    assert keyed_api.request_log[-1].path == "/user" and len(keyed_api.request_log) == 1

    assert (await upload(api, tenant, keyed_package(keyed_api.url, "1.1.0", "two"))).status_code == 201
    assert (await whoami())["answer"] == "two"  # the swap restarts what uses the connector
    rolled = await api.post(
        "/api/v1/packages/keyed-pkg/rollback", json={"version": "1.0.0"}, headers=tenant.headers
    )
    assert rolled.status_code == 200
    assert (await whoami())["answer"] == "one"


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"", 422, "package.empty"),
        (b"just some text, not a zip", 422, "package.not_zip"),
        (build_package({"README.md": b"no manifest"}), 422, "package.manifest_missing"),
        (build_package({"manifest.json": b"{not json"}), 422, "package.manifest_invalid"),
        (build_package({"manifest.json": b'{"name": "x"}'}), 422, "package.manifest_invalid"),
        (with_seed_manifest(("../../evil.py", b"x = 1")), 422, "package.unsafe_path"),
        (with_seed_manifest((unix_member("passwd", 0o120777), b"/etc/passwd")), 422, "package.symlink"),
        (with_seed_manifest(("zeros.bin", b"\0" * (20 * 1024 * 1024))), 422, "package.zip_bomb"),
    ],
    ids=[
        "empty",
        "not-zip",
        "no-manifest",
        "manifest-not-json",
        "manifest-invalid",
        "zip-slip",
        "symlink",
        "bomb",
    ],
)
async def test_bad_uploads_store_nothing(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container, data: bytes, status: int, code: str
) -> None:
    assert_problem(await upload(api, tenant, data), status, code)
    assert (await api.get("/api/v1/packages", headers=tenant.headers)).json()["packages"] == []
    assert await stored_keys(container, tenant) == []


async def test_code_that_lacks_a_declared_hook_or_does_not_import_is_refused(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container
) -> None:
    no_hook = package(seed_000_manifest(), "async def something_else(ctx, input):\n    return {}\n")
    refused = await upload(api, tenant, no_hook)
    assert_problem(refused, 422, "package.hook_missing")
    assert refused.json()["missing"] == ["describe"]
    broken = package(seed_000_manifest(), "import a_module_nobody_ships\n")
    refused = await upload(api, tenant, broken)
    assert_problem(refused, 422, "package.import_failed")
    assert "a_module_nobody_ships" in refused.json()["detail"]
    assert await stored_keys(container, tenant) == []


async def test_versions_must_move_forward_unless_forced(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container
) -> None:
    assert (await upload(api, tenant, seed_package("1.2.0"))).status_code == 201
    assert_problem(await upload(api, tenant, seed_package("1.2.0")), 409, "package.version_exists")
    assert_problem(await upload(api, tenant, seed_package("1.1.9")), 409, "package.version_not_newer")
    assert await stored_keys(container, tenant) == [f"{tenant.id}/my-custom-connector-v1.2.0.zip"]
    forced = await upload(api, tenant, seed_package("1.1.9"), force=True)
    assert forced.status_code == 201 and forced.json()["package"]["current_version"] == "1.1.9"
    assert forced.json()["package"]["latest_version"] == "1.2.0"


async def test_names_and_tenants_stay_apart(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container
) -> None:
    own = {**seed_000_manifest(), "actions": []}
    headers = {**tenant.headers, "content-type": "application/json"}
    put = await api.put("/api/v1/connectors/my-custom-connector", content=json.dumps(own), headers=headers)
    assert put.status_code == 200, put.text
    assert_problem(await upload(api, tenant, seed_package()), 409, "package.name_taken")
    await api.delete("/api/v1/connectors/my-custom-connector", headers=tenant.headers)

    assert (await upload(api, tenant, seed_package())).status_code == 201
    overwrite = await api.put(
        "/api/v1/connectors/my-custom-connector", content=json.dumps(own), headers=headers
    )
    assert_problem(overwrite, 409, "connector.package_owned")
    remove = await api.delete("/api/v1/connectors/my-custom-connector", headers=tenant.headers)
    assert_problem(remove, 409, "connector.package_owned")

    other = await make_tenant(container, "admin")
    assert (await api.get("/api/v1/packages", headers=other.headers)).json()["packages"] == []
    for path in ("/api/v1/packages/my-custom-connector", "/api/v1/packages/my-custom-connector/download"):
        assert_problem(await api.get(path, headers=other.headers), 404, "package.not_found")
    assert_problem(
        await api.delete("/api/v1/packages/my-custom-connector", headers=other.headers),
        404,
        "package.not_found",
    )


async def test_uploading_needs_the_connectors_write_scope(
    api: httpx2.AsyncClient, container: Container
) -> None:
    reader = await make_tenant(container, "connections:read")
    assert_problem(await upload(api, reader, seed_package()), 403, "auth.missing_scope")
    assert (await api.get("/api/v1/packages", headers=reader.headers)).status_code == 200


async def test_an_oversized_upload_is_refused_before_it_is_read(
    api: httpx2.AsyncClient, tenant: TenantFixture, container: Container
) -> None:
    too_big = b"PK" + b"\0" * (container.settings.package_max_bytes + 128 * 1024)
    assert_problem(await upload(api, tenant, too_big), 413, "request.too_large")
    assert await stored_keys(container, tenant) == []
