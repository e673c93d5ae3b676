"""The packages pages: upload (plain form and the script's JSON path), versions, roll back, delete, and
refused uploads that show their problems and store nothing."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx2

from switchyard.core.packages import build_package
from tests.web.conftest import Console, csrf_of

NAME = "console-pkg"
XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'


def manifest(version: str = "1.0.0", **more: Any) -> dict[str, Any]:
    """A declarative connector (no code, so no sandbox is needed)."""
    return {
        "name": NAME,
        "version": version,
        "displayName": "Console Package",
        "description": "Uploaded from the console",
        "authenticationMethods": [
            {
                "type": "api_key",
                "credentials": {"api_key": {"title": "API key", "secret": True}},
                "inject": {"in": "header", "name": "X-Api-Key", "format": "{{api_key}}"},
            }
        ],
        "proxy": {"baseUrl": "https://api.example.com"},
        **more,
    }


def archive(document: dict[str, Any]) -> bytes:
    return build_package({"manifest.json": json.dumps(document).encode()})


async def upload(
    console: Console, data: bytes, *, force: bool = False, js: bool = False, token: str | None = None
) -> httpx2.Response:
    if token is None:
        token = csrf_of((await console.client.get("/console/packages")).text)
    fields = {"force": "on"} if force else {}
    headers = {"Accept": "application/json", "X-CSRF-Token": token} if js else {}
    if not js:
        fields["csrf_token"] = token
    return await console.client.post(
        "/console/packages",
        files={"file": ("connector.zip", data, "application/zip")},
        data=fields,
        headers=headers,
    )


async def nothing_stored(console: Console) -> None:
    assert await console.container.packages.list(console.tenant.id) == []
    assert await console.container.packages.store.keys(console.tenant.id + "/") == []


async def test_the_page_needs_a_signed_in_user(signed_out: Console) -> None:
    answer = await signed_out.client.get("/console/packages")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
    assert (await signed_out.client.get(f"/console/packages/{NAME}")).status_code == 303


async def test_the_upload_form(console: Console) -> None:
    page = await console.client.get("/console/packages")
    assert page.status_code == 200 and "No packages yet" in page.text
    html = page.text
    assert 'enctype="multipart/form-data" data-upload="upload-errors"' in html
    assert '<label for="package-file">' in html and 'accept=".zip' in html
    assert 'name="force"' in html and "<progress hidden" in html
    assert '<div id="upload-errors" aria-live="polite" hidden>' in html


async def test_upload_roll_back_and_delete(console: Console) -> None:
    first = await upload(console, archive(manifest("1.0.0")))
    assert first.status_code == 303, first.text
    assert first.headers["location"] == f"/console/packages/{NAME}"
    page = (await console.client.get(f"/console/packages/{NAME}")).text
    assert 'data-version="1.0.0"' in page and '<dd id="current-version">1.0.0</dd>' in page

    second = await upload(console, archive(manifest("1.1.0")), js=True)  # the script's path
    assert second.status_code == 201 and second.json() == {"location": f"/console/packages/{NAME}"}
    listed = (await console.client.get("/console/packages")).text
    assert f'data-package="{NAME}"' in listed and "1.1.0" in listed
    page = (await console.client.get(f"/console/packages/{NAME}")).text
    assert '<dd id="current-version">1.1.0</dd>' in page and "Roll back to 1.0.0" in page

    token = csrf_of(page)
    rolled = await console.client.post(
        f"/console/packages/{NAME}/rollback", data={"csrf_token": token, "version": "1.0.0"}
    )
    assert rolled.status_code == 303
    page = (await console.client.get(f"/console/packages/{NAME}")).text
    assert '<dd id="current-version">1.0.0</dd>' in page and "Roll back to 1.1.0" in page
    view = await console.container.packages.get(console.tenant.id, NAME)
    assert view.package.current_version == "1.0.0"

    same = await upload(console, archive(manifest("1.1.0")))  # not newer: refused unless forced
    assert same.status_code == 409 and "package.version_exists" in same.text
    assert (await upload(console, archive(manifest("1.1.0")), force=True)).status_code == 303

    assert 'data-confirm="Delete the package' in page
    gone = await console.client.post(f"/console/packages/{NAME}/delete", data={"csrf_token": token})
    assert gone.status_code == 303 and gone.headers["location"] == "/console/packages"
    await nothing_stored(console)


async def test_a_file_that_is_not_a_zip_shows_the_error_and_stores_nothing(console: Console) -> None:
    plain = await upload(console, b"this is not a zip")
    assert plain.status_code == 422
    assert '<div class="notice bad" role="alert" id="upload-errors">' in plain.text
    assert "the package is not a zip archive" in plain.text and "package.not_zip" in plain.text
    scripted = await upload(console, b"this is not a zip", js=True)
    assert scripted.status_code == 422
    body = scripted.json()
    assert body["code"] == "package.not_zip" and body["problems"] == []
    await nothing_stored(console)


async def test_an_invalid_manifest_lists_its_problems(console: Console) -> None:
    bad = archive(manifest(proxy={"baseUrl": 42}, authenticationMethods="nope"))
    plain = await upload(console, bad)
    assert plain.status_code == 422
    assert "package.manifest_invalid" in plain.text
    assert "<li>authenticationMethods (line 1): Input should be a valid list</li>" in plain.text
    assert "<li>proxy.baseUrl (line 1): Input should be a valid string</li>" in plain.text
    scripted = await upload(console, bad, js=True)
    assert scripted.status_code == 422
    assert scripted.headers["content-type"].startswith("application/problem+json")
    body = scripted.json()
    assert body["code"] == "package.manifest_invalid" and body["detail"]
    assert body["problems"] == [
        "authenticationMethods (line 1): Input should be a valid list",
        "proxy.baseUrl (line 1): Input should be a valid string",
    ]
    missing = await upload(console, build_package({"README.md": b"hi"}))
    assert missing.status_code == 422 and "package.manifest_missing" in missing.text
    await nothing_stored(console)


async def test_an_upload_without_the_csrf_token_is_refused(console: Console) -> None:
    answer = await console.client.post(
        "/console/packages", files={"file": ("connector.zip", archive(manifest()), "application/zip")}
    )
    assert answer.status_code == 403 and "csrf.missing" in answer.text
    scripted = await console.client.post(
        "/console/packages",
        files={"file": ("connector.zip", archive(manifest()), "application/zip")},
        headers={"Accept": "application/json"},
    )
    assert scripted.status_code == 403 and scripted.json()["code"] == "csrf.missing"
    await nothing_stored(console)


async def test_manifest_text_renders_inert(console: Console) -> None:
    assert (
        await upload(console, archive(manifest(displayName=XSS, description=XSS_ATTR)))
    ).status_code == 303
    for path in ("/console/packages", f"/console/packages/{NAME}"):
        page = (await console.client.get(path)).text
        assert XSS not in page and XSS_ATTR not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    detail = (await console.client.get(f"/console/packages/{NAME}")).text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in detail


async def test_an_upload_larger_than_the_api_body_limit_is_taken_up_to_the_package_limit(
    console: Console,
) -> None:
    """The console's upload path has the package limit (10 MiB), not the 1 MiB of other requests."""
    readme = os.urandom(1536 * 1024)  # incompressible: the archive stays larger than 1 MiB
    data = build_package({"manifest.json": json.dumps(manifest()).encode(), "README.md": readme})
    assert len(data) > console.container.settings.max_request_bytes
    answer = await upload(console, data, js=True)
    assert answer.status_code == 201, answer.text
    assert answer.json()["location"] == f"/console/packages/{NAME}"
