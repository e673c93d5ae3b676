"""Seed 000's example connector package, shared by the package tests of every layer."""

from __future__ import annotations

import json
from typing import Any

from switchyard.core.packages import build_package


def seed_000_manifest(version: str = "1.0.0", **more: Any) -> dict[str, Any]:
    """Seed 000's manifest.json example, with its ``[...]`` lists written out (one hook action)."""
    return {
        "name": "my-custom-connector",
        "version": version,
        "displayName": "My Custom Connector",
        "description": "A custom connector for my service",
        "icon": "data:image/svg+xml;base64,PHN2Zy8+",
        "authentication": {
            "type": "oauth2",
            "config": {
                "authorizationUrl": "https://api.example.com/oauth/authorize",
                "tokenUrl": "https://api.example.com/oauth/token",
                "clientId": "{{clientId}}",
                "clientSecret": "{{clientSecret}}",
            },
        },
        "actions": [
            {
                "name": "describe",
                "description": "Say which version answers.",
                "hook": "describe",
                "inputSchema": {"type": "object", "properties": {}},
            }
        ],
        "triggers": [],
        "dataSources": [],
        **more,
    }


def package(manifest: dict[str, Any], code: str | None = None, **files: bytes) -> bytes:
    members = {"manifest.json": json.dumps(manifest).encode(), **files}
    if code is not None:
        members["connector.py"] = code.encode()
    return build_package(members)


def seed_package(version: str = "1.0.0") -> bytes:
    """Seed 000's package at ``version``, whose hook answers with that version."""
    return package(
        seed_000_manifest(version),
        f"async def describe(ctx, input):\n    return {{'version': '{version}'}}\n",
    )
