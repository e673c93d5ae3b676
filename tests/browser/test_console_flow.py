"""The whole console in Chromium: set up, create an integration, connect through the hosted page against
the Authlib authorization server, see the connection active, test it, upload a package and roll it back.
Every page is captured at 1280 and 375 px wide and must not scroll sideways at either."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from switchyard.core.scopes import Scope
from switchyard.services.connect import EndUserSpec
from switchyard.services.connections import ConnectionFilter
from switchyard.services.integrations import IntegrationSpec
from tests.browser.conftest import ACCESSIBILITY_AUDIT, LiveServer, Screens
from tests.conftest import KEYED_API_KEY
from tests.flows.conftest import CLIENT_ID, CLIENT_SECRET, Peers
from tests.flows.test_proxy import keyed_definition
from tests.peers.provider_api import ProviderApiPeer
from tests.seed_packages import seed_package
from tests.web.conftest import OPERATOR_PASSWORD
from tests.web.test_console_catalog_pages import VERIFIED

EMAIL = "owner@example.com"


async def _set_up_console(page: Any, server: LiveServer, screens: Screens) -> None:
    link = await server.container.console.setup_link()
    assert link is not None and link.startswith(server.url)
    await page.goto(link)
    await screens.capture(page, "01-setup")
    await page.fill("#tenant", "acme")
    await page.fill("#email", EMAIL)
    await page.fill("#password", OPERATOR_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.url}/console/connectors")


async def _wait_for_page(page: Any, url: str, *, problems: str) -> None:
    """Wait for ``url``; when it does not come, fail with what the page says in ``problems``."""
    try:
        await page.wait_for_url(url, timeout=15_000)
    except Exception as exc:
        said = await page.locator(problems).all_inner_texts()
        raise AssertionError(f"{url} did not load; the page says: {said}") from exc


@pytest.mark.usefixtures("bubblewrap")  # the uploaded package's code is inspected in the sandbox
async def test_the_console_end_to_end(
    live_server: LiveServer, peers: Peers, browser_page: Any, screens: Screens, tmp_path: Path
) -> None:
    page, server = browser_page, live_server
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    peers.oauth.register_client(
        CLIENT_ID, CLIENT_SECRET, redirect_uris=[f"{server.url}/oauth/callback"], scopes=["read"],
        grant_types=["authorization_code", "refresh_token"],
    )  # fmt: skip
    await _set_up_console(page, server, screens)
    container = server.container
    tenant = await container.tenancy.find_tenant("acme")
    issued = await container.api_keys.issue(tenant.id, name="backend", scopes=[Scope.ADMIN.value])
    principal = await container.api_keys.authenticate(issued.plaintext)
    await container.catalog.put(principal, "peer", peers.definition())

    # The marketplace and the connector's page.
    await page.goto(f"{server.url}/console/connectors")
    await screens.capture(page, "02-connectors")
    await page.fill("#q", "peer")
    await page.click("form[role=search] button[type=submit]")
    await page.click('a[data-connector="peer"]')
    await page.wait_for_url(f"{server.url}/console/connectors/peer")
    await screens.capture(page, "03-connector")

    # An integration, created in the console.
    await page.goto(f"{server.url}/console/integrations/new?connector=peer")
    await screens.capture(page, "04-integration-new")
    await page.check("input[name=auth_provider][value=builtin]")
    await page.fill("#client_id", CLIENT_ID)
    await page.fill("#client_secret", CLIENT_SECRET)
    await page.click("#create-integration")
    await page.wait_for_url(f"{server.url}/console/integrations#peer")
    assert await page.locator('tr[data-integration="peer"]').count() == 1
    assert CLIENT_SECRET not in await page.content()
    await screens.capture(page, "05-integrations")

    # The end user connects through the hosted page; the provider's consent runs in a popup.
    session = await container.connect_sessions.create(
        principal, EndUserSpec("user-42", "u42@example.com"), allowed_integrations=["peer"]
    )
    await page.goto(session.connect_url)
    await screens.capture(page, "06-connect")
    async with page.expect_popup() as popup_opened:
        await page.click("#connect-button")
    popup = await popup_opened.value
    await popup.wait_for_event("close")
    await page.locator("#step-success").wait_for(state="visible")
    await screens.capture(page, "07-connect-success")
    assert len(peers.oauth.authorize_log) == 1

    # The connection is active in the console, and its live test passes.
    await page.goto(f"{server.url}/console/connections")
    row = page.locator("tr[data-connection]")
    assert await row.count() == 1
    assert (await row.locator(".badge").inner_text()).strip() == "active"
    await screens.capture(page, "08-connections")
    await row.locator("a").click()
    await page.click("#test-connection")
    await page.locator("#test-result.ok").wait_for()
    assert "Connection works" in await page.locator("#test-result").inner_text()
    await screens.capture(page, "09-connection")

    # A package: two versions uploaded with the page's form, then rolled back to the first.
    for version in ("1.0.0", "1.1.0"):
        archive = tmp_path / f"seed-{version}.zip"
        archive.write_bytes(seed_package(version))
        await page.goto(f"{server.url}/console/packages")
        await page.set_input_files("#package-file", str(archive))
        await page.click("form[data-upload] button[type=submit]")
        await _wait_for_page(
            page, f"{server.url}/console/packages/my-custom-connector", problems="#upload-errors"
        )
        assert (await page.locator("#current-version").inner_text()).strip().endswith(version)
    await screens.capture(page, "10-package")
    await page.click('[data-version="1.0.0"] button[type=submit]')
    await page.locator("#current-version", has_text="1.0.0").wait_for()
    await page.goto(f"{server.url}/console/packages")
    await screens.capture(page, "11-packages")

    # A secret, created and rotated; its value is never shown again.
    await page.goto(f"{server.url}/console/secrets")
    await page.fill("#secret-name", "stripe_key")
    await page.fill("#secret-value", "sk-live-value-0001")
    await page.click('form[action="/console/secrets"] button[type=submit]')
    await page.wait_for_url(f"{server.url}/console/secrets/stripe_key")
    await page.fill("#new-value", "sk-live-value-0002")
    await page.click('form[action$="/rotate"] button[type=submit]')
    await page.locator('tr[data-version="2"]').wait_for()
    content = await page.content()
    assert "sk-live-value-0001" not in content and "sk-live-value-0002" not in content
    await screens.capture(page, "12-secret")
    await page.goto(f"{server.url}/console/secrets")
    await screens.capture(page, "13-secrets")

    # An API key: its plaintext is shown once, on the page that answers the form.
    await page.goto(f"{server.url}/console/api-keys")
    await page.fill("#key-name", "ci")
    await page.click('form[action="/console/api-keys"] button[type=submit]')
    plaintext = (await page.locator("#new-key").inner_text()).strip()
    assert plaintext.startswith("syk_")
    await screens.capture(page, "14-api-key-created")
    await page.goto(f"{server.url}/console/api-keys")
    assert plaintext not in await page.content()
    await screens.capture(page, "15-api-keys")

    # The remaining pages render for this user at both widths.
    for name, path in (("16-audit", "/console/audit"), ("17-settings", "/console/settings")):
        answer = await page.goto(f"{server.url}{path}")
        assert answer is not None and answer.status == 200, path
        await screens.capture(page, name)
    assert len(screens.taken) == 34


async def test_refusals_read_clearly_in_the_browser(
    live_server: LiveServer, browser_page: Any, screens: Screens
) -> None:
    page, server = browser_page, live_server
    tenant = await server.container.tenancy.create_tenant("refusals")
    await server.container.console.create_user(tenant.id, EMAIL, OPERATOR_PASSWORD)
    await page.goto(f"{server.url}/console/connections")
    await page.wait_for_url(f"{server.url}/console/login?next=*")
    await page.fill("#email", EMAIL)
    await page.fill("#password", "not the right password")
    await page.click("button[type=submit]")
    assert "The email or password is not right." in await page.locator("#login-error").inner_text()
    assert await page.locator("#password").input_value() == ""  # a password is never sent back
    await screens.capture(page, "01-login-refused")

    answer = await page.goto(f"{server.url}/connect?session=cs_not-a-real-session-token")
    assert answer is not None and answer.status == 401
    assert await page.locator("#connect-form").count() == 0
    await screens.capture(page, "02-connect-link-invalid")


async def test_the_accessibility_audit_finds_what_it_looks_for(browser_page: Any) -> None:
    """The audit every capture runs: a page with each fault is reported, a clean one is not."""
    await browser_page.set_content(
        '<main><p style="color:#999;background:#fff">faint</p><input id="bare">'
        '<button></button><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main>'
    )
    problems = await browser_page.evaluate(ACCESSIBILITY_AUDIT)
    assert any(p.startswith("contrast") and "faint" in p for p in problems), problems
    assert "no label: input#bare" in problems
    assert any(p.startswith("no name: button") for p in problems)
    assert any(p.startswith("no alt: img") for p in problems)
    await browser_page.set_content(
        '<main><p>plain</p><label for="x">X</label><input id="x"><button>Go</button><img alt="" src="data:,"></main>'
    )
    assert await browser_page.evaluate(ACCESSIBILITY_AUDIT) == []


async def _tab_to(page: Any, element_id: str, most: int = 10) -> None:
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key")


async def test_signing_in_and_searching_work_from_the_keyboard(
    live_server: LiveServer, browser_page: Any
) -> None:
    page, server = browser_page, live_server
    tenant = await server.container.tenancy.create_tenant("keyboard")
    await server.container.console.create_user(tenant.id, EMAIL, OPERATOR_PASSWORD)
    await page.goto(f"{server.url}/console/login")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"  # the skip link comes first
    await _tab_to(page, "email")
    await page.keyboard.type(EMAIL)
    await _tab_to(page, "password")
    await page.keyboard.type(OPERATOR_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{server.url}/console/connectors")
    await _tab_to(page, "q", most=20)  # the marketplace search, past the navigation
    await page.keyboard.type("github")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{server.url}/console/connectors?q=github*")
    assert await page.locator('a[data-connector="github"]').count() == 1


async def test_an_api_key_connects_through_the_hosted_form_after_a_refusal(
    live_server: LiveServer, keyed_api: ProviderApiPeer, browser_page: Any, screens: Screens
) -> None:
    """The form steps in place: a wrong key shows the provider's refusal, Try again, the right key connects,
    and the link is then used up."""
    page, server = browser_page, live_server
    container = server.container
    tenant = await container.tenancy.create_tenant("hosted-form")
    issued = await container.api_keys.issue(tenant.id, name="backend", scopes=[Scope.ADMIN.value])
    principal = await container.api_keys.authenticate(issued.plaintext)
    await container.catalog.put(principal, "keyed", keyed_definition(keyed_api.url, extra=VERIFIED))
    spec = IntegrationSpec(
        fields=frozenset({"key", "connector_id", "auth_provider", "auth_type"}),
        key="keyed", connector_id="keyed", auth_provider="direct", auth_type="api_key",
    )  # fmt: skip
    await container.integrations.create(principal, spec)
    session = await container.connect_sessions.create(
        principal, EndUserSpec("user-7"), allowed_integrations=["keyed"]
    )

    await page.goto(session.connect_url)
    await screens.capture(page, "01-connect-form")
    await page.fill("#f-credentials-api_key", "not-the-key")
    await page.click("#connect-button")
    await page.locator("#step-error").wait_for(state="visible")
    assert await page.evaluate("document.activeElement.id") == "step-error"  # focus follows the step
    await screens.capture(page, "02-connect-refused")
    await page.click("#retry-link")
    await page.locator("#step-config").wait_for(state="visible")
    await page.fill("#f-credentials-api_key", KEYED_API_KEY)
    await page.click("#connect-button")
    await page.locator("#step-success").wait_for(state="visible")
    await screens.capture(page, "03-connect-connected")
    made = await container.connections.list_connections(principal, ConnectionFilter(), after=None, limit=10)
    assert [c.status for c in made.items] == ["active"]

    answer = await page.reload()
    assert answer is not None and answer.status == 410
    assert await page.locator("#connect-form").count() == 0
    await screens.capture(page, "04-connect-link-used")
