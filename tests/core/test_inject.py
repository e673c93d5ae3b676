"""How credentials reach a provider: header, query parameter or HTTP basic, as the definition says."""

from __future__ import annotations

import base64

import pytest

from switchyard.core.auth import inject
from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.schema import AppPassword, Basic, Injection


def test_bearer_is_the_default() -> None:
    assert inject.apply(None, {"access_token": "t0k"}, {}).headers == {"Authorization": "Bearer t0k"}


def test_named_header_and_query_parameter() -> None:
    header = Injection(in_="header", name="X-Api-Key", format="{{api_key}}")
    assert inject.apply(header, {"api_key": "k1"}, {}).headers == {"X-Api-Key": "k1"}
    query = Injection(in_="query", name="key", format="{{api_key}}")
    assert inject.apply(query, {"api_key": "k1"}, {}) == inject.Injected(query={"key": "k1"})


@pytest.mark.parametrize("method", [Basic(type="basic"), AppPassword(type="app_password")])
def test_basic_and_app_passwords(method: Basic | AppPassword) -> None:
    injected = inject.apply(method.inject, {"username": "ada", "password": "p:w"}, {})
    scheme, encoded = injected.headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded) == b"ada:p:w"


def test_a_missing_credential_is_named() -> None:
    with pytest.raises(InvalidInput, match="api_key"):
        inject.apply(Injection(in_="header", name="X", format="{{api_key}}"), {}, {})
