"""Rendering: one Jinja2 environment (autoescaping on), and the security headers every page carries."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from switchyard import __version__

ASSETS_PATH = "/assets"

# Pages load only what this server serves. The connect page's own CSP drops ``form-action`` because its
# OAuth start is a navigation that ends at the provider.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
CONNECT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _when(value: datetime | None, empty: str = "never") -> str:
    if value is None:
        return empty
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _monogram_hue(name: str) -> int:
    """A stable hue per name, for the lettered badge that stands in for a provider's logo."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 360


def _initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].capitalize()
    return (words[0][0] + words[1][0]).upper()


environment = Environment(
    loader=PackageLoader("switchyard.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["when"] = _when
environment.filters["hue"] = _monogram_hue
environment.filters["initials"] = _initials
environment.globals["assets"] = ASSETS_PATH
environment.globals["version"] = __version__


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    csp: str = CONSOLE_CSP,
) -> HTMLResponse:
    values = {"request": request, "csrf_token": getattr(request.state, "csrf_token", ""), **(context or {})}
    body = environment.get_template(template).render(values)
    return HTMLResponse(body, status_code=status, headers=page_headers(csp))


def page_headers(csp: str = CONSOLE_CSP) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
