"""The definition format itself: seed 000's manifest, errors with field and line, the published schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.loader import load
from switchyard.core.manifest.schema import OAuth2, json_schema

# Seed 000's manifest.json example, as written but for its elided "[...]" lists.
SEED_000_MANIFEST = """{
  "name": "my-custom-connector",
  "version": "1.0.0",
  "displayName": "My Custom Connector",
  "description": "A custom connector for my service",
  "icon": "data:image/svg+xml;base64,...",
  "authentication": {
    "type": "oauth2",
    "config": {
      "authorizationUrl": "https://api.example.com/oauth/authorize",
      "tokenUrl": "https://api.example.com/oauth/token",
      "clientId": "{{clientId}}",
      "clientSecret": "{{clientSecret}}"
    }
  },
  "actions": [],
  "triggers": [],
  "dataSources": []
}"""


def test_seed_000_manifest_is_accepted_as_written() -> None:
    definition = load(SEED_000_MANIFEST, "manifest.json")
    assert definition.name == "my-custom-connector"
    assert definition.display_name == "My Custom Connector"
    [method] = definition.authentication_methods
    assert isinstance(method, OAuth2)
    assert method.token_url == "https://api.example.com/oauth/token"
    assert method.pkce is True  # on by default


def test_the_published_schema_is_json_schema_2020_12() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "displayName" in schema["properties"]


def test_seed_002_fields_in_snake_case_are_accepted() -> None:
    definition = load(
        """
name: gdrive
version: 2.0.1
display_name: Google Drive
service_type: storage
capabilities: [upload, download, share]
authentication_methods:
  - type: oauth2
    authorization_url: https://accounts.google.com/o/oauth2/v2/auth
    token_url: https://oauth2.googleapis.com/token
rate_limits: {requests_per_second: 10}
proxy: {base_url: https://www.googleapis.com}
"""
    )
    assert definition.service_type == "storage"
    assert definition.rate_limits is not None
    assert definition.rate_limits.requests_per_second == 10


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [
        ("name: x\nversion: 1\n", "version", 2),
        ("name: x\nversion: 1.0.0\ndisplayName: X\nauthenticationMethods:\n  - type: oauth2\n", "authenticationMethods.0.authorizationUrl", 5),
        ("name: Bad Name\nversion: 1.0.0\ndisplayName: X\nauthenticationMethods: [{type: basic}]\n", "name", 1),
        ("name: x\nversion: 1.0.0\ndisplayName: X\nauthenticationMethods:\n  - type: carrier-pigeon\n", "authenticationMethods.0", 5),
        ("name: x\nversion: 1.0.0\ndisplayName: X\nauthenticationMethods: [{type: basic}]\nsurprise: 1\n", "surprise", 5),
    ],
)  # fmt: skip
def test_errors_name_the_field_and_the_line(text: str, path: str, line: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        load(text, "bad.yaml")
    assert caught.value.code == "connector.invalid_definition"
    problems = caught.value.extra["problems"]
    assert any(p["path"].startswith(path) and p["line"] == line for p in problems), problems
    assert "bad.yaml" in caught.value.detail


@pytest.mark.parametrize("text", ["", "- a list\n", "name: [unclosed\n", json.dumps({"name": 5})[:-1]])
def test_unreadable_files(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load(text, "broken.yaml")
    assert caught.value.code == "connector.invalid_definition"
