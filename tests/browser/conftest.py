"""Browser tests: a real ``switchyard`` server on loopback driven by Debian's Chromium through Playwright.

Without /usr/bin/chromium (or the playwright package) these tests skip with a reason, unless
``SWITCHYARD_TEST_REQUIRE_SERVICES=1`` (set by .ci/run), which makes that a failure. Screenshots of every
page, at 1280 and 375 px wide, go to ``SWITCHYARD_TEST_SCREENSHOTS`` (default: test-output/screenshots).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from switchyard.api.app import create_app
from switchyard.services.container import Container
from tests.conftest import REQUIRE_SERVICES, make_settings
from tests.flows.conftest import peers  # noqa: F401  (the Authlib authorization server, for these tests too)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"wide": (1280, 900), "narrow": (375, 800)}
SCREENSHOTS = Path(os.environ.get("SWITCHYARD_TEST_SCREENSHOTS", "test-output/screenshots"))


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return "Chromium is not installed (apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    reason = _browser_missing()
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"{reason}; SWITCHYARD_TEST_REQUIRE_SERVICES=1 requires it")
        pytest.skip(reason)
    return CHROMIUM


@dataclass
class LiveServer:
    url: str
    container: Container


@pytest.fixture
async def live_server(tmp_path: Path) -> AsyncIterator[LiveServer]:
    """``switchyard serve``'s app under uvicorn on a free loopback port, with its own SQLite database."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'switchyard.db'}",
        public_base_url=url,
        log_level="WARNING",
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(url, app.state.container)
    finally:
        server.should_exit = True
        await task
        listener.close()


# The outermost elements that reach past the viewport's right edge, to name the culprit in a failure.
_WIDE_ELEMENTS = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= document.documentElement.clientWidth + 1)
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className
    + ' in ' + e.parentElement.tagName.toLowerCase() + '.' + e.parentElement.className
    + ' (overflow-x ' + getComputedStyle(e.parentElement).overflowX + ')')"""


# What a page must not have (WCAG 2.1 AA, the parts a script can check): a form control without a label, a
# button or link without a name, an image without alt text, or text whose contrast with the background
# behind it is under 4.5:1 (3:1 for large text). Hidden and disabled elements are left out.
ACCESSIBILITY_AUDIT = """() => {
  const problems = [];
  const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'
    && !e.closest('[hidden], .visually-hidden, [aria-hidden="true"]');
  const describe = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.name ? '[name=' + e.name + ']' : '');
  for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!shown(e)) continue;
    const labelled = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
    if (!labelled) problems.push('no label: ' + describe(e));
  }
  for (const e of document.querySelectorAll('button, a[href]')) {
    if (shown(e) && !(e.innerText.trim() || e.getAttribute('aria-label'))) problems.push('no name: ' + describe(e));
  }
  for (const e of document.querySelectorAll('img')) {
    if (!e.hasAttribute('alt')) problems.push('no alt: ' + describe(e));
  }
  const rgb = text => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = e => {
    for (let n = e; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const e of document.querySelectorAll('body *')) {
    const text = Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!text || !shown(e) || e.closest(':disabled')) continue;
    const style = getComputedStyle(e);
    const fg = luminance(rgb(style.color).slice(0, 3));
    const bg = luminance(background(e));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push('contrast ' + ratio.toFixed(2) + ': ' + describe(e) + ' "' + e.textContent.trim().slice(0, 30) + '"');
  }
  return problems;
}"""


@dataclass
class Screens:
    """Takes each page's screenshot at both widths and checks that it never scrolls sideways."""

    directory: Path
    taken: list[Path] = field(default_factory=list)

    async def capture(self, page: Any, name: str) -> None:
        problems = await page.evaluate(ACCESSIBILITY_AUDIT)
        assert not problems, f"{name} has accessibility problems: {problems}"
        for label, (width, height) in WIDTHS.items():
            await page.set_viewport_size({"width": width, "height": height})
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 1:
                wide = await page.evaluate(_WIDE_ELEMENTS)
                raise AssertionError(f"{name} scrolls sideways by {overflow}px at {width}px wide: {wide}")
            target = self.directory / f"{name}-{label}.png"
            await page.screenshot(path=str(target), full_page=True)
            self.taken.append(target)
        await page.set_viewport_size({"width": WIDTHS["wide"][0], "height": WIDTHS["wide"][1]})


@pytest.fixture
async def browser_page(chromium_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_FLAGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        try:
            yield page
        finally:
            await context.close()
            await browser.close()


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    directory = SCREENSHOTS / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(directory, ignore_errors=True)  # only this run's pictures
    directory.mkdir(parents=True)
    return Screens(directory)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the screenshots in the test output, so a CI log says where to look."""
    shots = sorted(SCREENSHOTS.glob("*/*.png"))
    if shots:
        terminalreporter.section("console screenshots")
        terminalreporter.write_line(
            f"{len(shots)} screenshots (1280 and 375 px wide) in {SCREENSHOTS.resolve()}:"
        )
        for shot in shots:
            terminalreporter.write_line(f"  {shot}")
