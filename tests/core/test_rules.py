"""Pure rules: masking, secret names and values, references, API key format, scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from switchyard.core import apikeys, refs
from switchyard.core import secrets as rules
from switchyard.core.errors import InvalidInput, PayloadTooLarge
from switchyard.core.masking import mask
from switchyard.core.scopes import Scope, allows, parse_scopes


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        ("sk-your-api-key-here-key123", "api_key", "***key123"),
        ("abcdefgh", "token", "***gh"),
        ("abc", "token", "***"),
        ("hunter2hunter2hunter2", "password", "***"),
        ("-----BEGIN CERTIFICATE-----xyz", "certificate", "***"),
    ],
)
def test_mask(value: str, kind: str, shown: str) -> None:
    assert mask(value, kind) == shown


@pytest.mark.parametrize("name", ["openai_api_key", "a", "Stripe.live-key_2", "x" * 128])
def test_valid_secret_names(name: str) -> None:
    assert rules.check_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "_x", "a/b", "a b", "x" * 129, "clé", "a\n"])
def test_invalid_secret_names(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rules.check_name(name)
    assert caught.value.code == "secret.invalid_name"


def test_value_limits() -> None:
    assert len(rules.check_value("x" * rules.MAX_VALUE_BYTES)) == rules.MAX_VALUE_BYTES
    with pytest.raises(PayloadTooLarge) as caught:
        rules.check_value("x" * (rules.MAX_VALUE_BYTES + 1))
    assert caught.value.code == "secret.value_too_large"
    with pytest.raises(PayloadTooLarge):
        rules.check_value("é" * (rules.MAX_VALUE_BYTES // 2 + 1))  # counted in UTF-8 bytes
    with pytest.raises(InvalidInput):
        rules.check_value("")


def test_status() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules.status_of(None, None, now) == "active"
    assert rules.status_of(now + timedelta(days=1), now - timedelta(days=1), now) == "rotation_due"
    assert rules.status_of(now - timedelta(seconds=1), None, now) == "expired"


def test_references_in_nested_configuration() -> None:
    config = {
        "model": "gpt-4o",
        "api_key": {"secret_name": "openai"},
        "headers": [{"x": {"secret_name": "other", "version": 2}}, "plain"],
    }
    found = refs.find(config)
    assert found == {refs.SecretRef("openai"), refs.SecretRef("other", 2)}
    values = {refs.SecretRef("openai"): "sk-1", refs.SecretRef("other", 2): "v2"}
    assert refs.substitute(config, values) == {
        "model": "gpt-4o",
        "api_key": "sk-1",
        "headers": [{"x": "v2"}, "plain"],
    }
    assert config["api_key"] == {"secret_name": "openai"}  # the input is not changed


def test_seed_001_secrets_references_are_merged() -> None:
    merged = refs.merge({"model": "m"}, {"api_key": {"secret_name": "openai_api_key"}})
    assert merged == {"model": "m", "api_key": {"secret_name": "openai_api_key"}}
    with pytest.raises(InvalidInput):
        refs.merge({"api_key": "x"}, {"api_key": {"secret_name": "openai_api_key"}})
    with pytest.raises(InvalidInput):
        refs.merge({}, {"api_key": "not a reference"})


@pytest.mark.parametrize(
    "bad",
    [
        {"secret_name": 5},
        {"secret_name": "ok", "version": "2"},
        {"secret_name": "ok", "extra": 1},
        {"secret_name": "1bad"},
        {"secret_name": "ok", "version": True},
    ],
)
def test_malformed_references(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        refs.find({"k": bad})


def test_api_key_format_and_check() -> None:
    issued = apikeys.issue()
    assert apikeys.lookup_of(issued.plaintext) == issued.lookup
    assert apikeys.matches(issued.plaintext, issued.digest)
    altered = issued.plaintext[:-1] + ("A" if issued.plaintext[-1] != "A" else "B")
    assert not apikeys.matches(altered, issued.digest)
    assert issued.plaintext not in issued.digest
    for bad in ["", "syk_", "Bearer x", issued.plaintext + "x", issued.plaintext.upper()]:
        assert apikeys.lookup_of(bad) is None


def test_scopes() -> None:
    assert allows({"admin"}, Scope.SECRETS_WRITE)
    assert not allows({"admin"}, Scope.SECRETS_REVEAL)
    assert allows({"secrets:reveal"}, Scope.SECRETS_REVEAL)
    assert not allows({"secrets:read"}, Scope.SECRETS_WRITE)
    assert parse_scopes(["admin", " mcp "]) == {Scope.ADMIN, Scope.MCP}
    with pytest.raises(InvalidInput):
        parse_scopes(["admin", "root"])
    with pytest.raises(InvalidInput):
        parse_scopes([])
