"""Putting a connection's credentials onto a request, as the definition's ``inject`` rule says."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchyard.core.manifest import templates
from switchyard.core.manifest.schema import BEARER, Injection


@dataclass(frozen=True)
class Injected:
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


def apply(rule: Injection | None, credentials: Mapping[str, Any], config: Mapping[str, Any]) -> Injected:
    """The headers or query parameters that carry ``credentials``; config values may appear in the format."""
    chosen = rule or BEARER
    value = templates.render(chosen.format, {**config, **credentials})
    if chosen.in_ == "basic":
        encoded = base64.b64encode(value.encode("utf-8")).decode("ascii")
        return Injected(headers={"Authorization": f"Basic {encoded}"})
    assert chosen.name is not None  # the schema requires it for header and query
    if chosen.in_ == "query":
        return Injected(query={chosen.name: value})
    return Injected(headers={chosen.name: value})
