"""``{{placeholder}}`` templates in definition URLs and injection formats.

A placeholder names a connection-config field (``{{shop}}`` in ``https://{{shop}}.myshopify.com``) or, in an
injection format, a credential (``Bearer {{accessToken}}``). Seed 000's ``{{clientId}}`` style is the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from switchyard.core.errors import InvalidInput

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def placeholders(template: str) -> set[str]:
    return {match.group(1) for match in PLACEHOLDER.finditer(template)}


def render(template: str, values: Mapping[str, object], *, url_component: bool = False) -> str:
    """Fill every placeholder; a missing value is an error naming it. URL parts are percent-encoded."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values or values[name] is None:
            raise InvalidInput(
                f"the template needs {name!r}, which the connection does not provide",
                code="connection.missing_config",
                remediation=f"Set {name!r} in the connection's configuration.",
            )
        text = str(values[name])
        return quote(text, safe="") if url_component else text

    return PLACEHOLDER.sub(fill, template)
