"""A conformance test for every catalog entry, generated from the files (singer-sdk style).

Each definition validates against the published JSON Schema, loads, names itself after its file, uses https
everywhere, declares every placeholder it uses, and has a verification request unless the provider has no
cheap authenticated endpoint (listed below with the reason).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from switchyard.adapters.catalog_files import builtin_definition_files, load_builtin_catalog
from switchyard.core.manifest import templates
from switchyard.core.manifest.loader import load, normalise
from switchyard.core.manifest.schema import Definition, Protocol, json_schema

SEED_PROVIDERS = {
    "github", "gitlab", "slack", "linear", "jira", "notion", "google-calendar", "gmail", "google-drive",
    "google-analytics", "shopify", "woocommerce", "square", "stripe", "salesforce", "hubspot", "pipedrive",
    "zoho-crm", "mixpanel", "segment", "twitter", "instagram", "linkedin", "tiktok", "dropbox", "onedrive",
    "discord", "matrix", "email", "ipfs", "openai", "anthropic", "firecrawl", "postgresql", "mysql", "mongodb",
    "redis",
}  # fmt: skip
FILES = builtin_definition_files()
VALIDATOR = jsonschema.Draft202012Validator(json_schema())
CREDENTIAL_PLACEHOLDERS = {"access_token", "oauth_token"}


def _urls(definition: Definition) -> dict[str, str]:
    urls: dict[str, str] = {}
    if definition.docs_url:
        urls["docsUrl"] = definition.docs_url
    if definition.icon and not definition.icon.startswith("data:"):
        urls["icon"] = definition.icon
    if definition.proxy:
        urls["proxy.baseUrl"] = definition.proxy.base_url
    for index, method in enumerate(definition.authentication_methods):
        for field in ("authorization_url", "token_url", "refresh_url", "revocation_url",
                      "request_token_url", "access_token_url"):  # fmt: skip
            value = getattr(method, field, None)
            if value:
                urls[f"authenticationMethods.{index}.{field}"] = value
    return urls


def _sample_config(definition: Definition) -> dict[str, str]:
    return {name: field.example or "example" for name, field in definition.connection_config.items()}


def test_the_catalog_holds_every_provider_the_seeds_name() -> None:
    assert set(load_builtin_catalog()) >= SEED_PROVIDERS


@pytest.mark.parametrize("file_name", sorted(FILES))
def test_entry_conforms(file_name: str) -> None:
    text = FILES[file_name]
    document: Any = yaml.safe_load(text)
    errors = sorted(VALIDATOR.iter_errors(normalise(document)), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    definition = load(text, file_name)
    assert file_name == f"{definition.name}.yaml"

    assert definition.display_name.strip()
    assert len(definition.description) >= 20, "describe what the connector is for"
    assert definition.categories, "at least one category"
    assert definition.service_type != "other"
    assert definition.docs_url, "a docs URL"
    assert definition.icon, "a logo"

    config = _sample_config(definition)
    for where, url in _urls(definition).items():
        undeclared = templates.placeholders(url) - set(definition.connection_config)
        assert not undeclared, f"{where} uses undeclared placeholders {undeclared}"
        parts = urlsplit(templates.render(url, config))
        assert parts.scheme == "https", f"{where} must be https: {url}"
        assert parts.hostname and "." in parts.hostname, f"{where} has no host: {url}"

    for method in definition.authentication_methods:
        inject = getattr(method, "inject", None)
        if inject is None:
            continue
        declared = (
            set(getattr(method, "credentials", {}))
            | CREDENTIAL_PLACEHOLDERS
            | set(definition.connection_config)
        )
        undeclared = templates.placeholders(inject.format) - declared
        assert not undeclared, f"{method.type}.inject uses undeclared placeholders {undeclared}"

    if definition.protocol == Protocol.HTTP:
        assert definition.proxy is not None, "an http connector needs proxy.baseUrl"
        assert definition.verification is not None, "a verification request (test connection)"
        assert not definition.verification.path.startswith("http"), "verification paths are relative"
    else:
        assert definition.proxy is None, "only http connectors are proxied"
        assert definition.connection_config, "non-http connectors take their host from the connection config"
