"""The OAuth 2.0 client steps, as pure functions."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.auth import oauth2, tokens
from switchyard.core.errors import OAuthError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CLIENT = oauth2.Client("my client", "s3cret:/+", "client_secret_basic")


@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~",
        min_size=43,
        max_size=128,
    )
)
def test_s256_matches_an_independent_implementation(verifier: str) -> None:
    assert tokens.s256_challenge(verifier) == create_s256_code_challenge(verifier)


def test_verifiers_and_tokens_are_random_and_well_formed() -> None:
    verifier = tokens.new_code_verifier()
    assert 43 <= len(verifier) <= 128
    assert tokens.new_token() != tokens.new_token()
    assert tokens.digest("x") != "x" and len(tokens.digest("x")) == 64


def test_authorization_url_keeps_existing_query_and_adds_pkce() -> None:
    url = oauth2.authorization_url(
        "https://auth.example.com/authorize?audience=api",
        client_id="abc",
        redirect_uri="https://sy.example.com/oauth/callback",
        scopes=["repo", "read:user"],
        scope_separator=" ",
        state="st4te",
        code_challenge="chal",
        extra={"access_type": "offline"},
    )
    query = parse_qs(urlsplit(url).query)
    assert query["audience"] == ["api"]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["repo read:user"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["access_type"] == ["offline"]
    assert "%20" in url  # spaces encoded as %20, not '+'


def test_client_secret_basic_encodes_both_parts() -> None:
    request = oauth2.code_exchange(
        "https://auth.example.com/token", CLIENT, code="c", redirect_uri="https://r", code_verifier="v"
    )
    scheme, encoded = request.headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "my%20client:s3cret%3A%2F%2B"
    assert "client_secret" not in request.form
    assert request.form["code_verifier"] == "v"


def test_client_secret_post_puts_the_client_in_the_form() -> None:
    client = oauth2.Client("id", "secret", "client_secret_post")
    request = oauth2.refresh("https://t", client, refresh_token="r1")
    assert "Authorization" not in request.headers
    assert request.form == {
        "grant_type": "refresh_token",
        "refresh_token": "r1",
        "client_id": "id",
        "client_secret": "secret",
    }


def test_parse_json_and_form_token_responses() -> None:
    body = json.dumps(
        {"access_token": "a", "refresh_token": "r", "expires_in": 3600, "scope": "x y", "id_token": "j"}
    )
    parsed = oauth2.parse_token_response(200, body.encode(), now=NOW)
    assert parsed.expires_at == NOW + timedelta(hours=1)
    assert parsed.scopes == ("x", "y")
    assert parsed.extra == {"id_token": "j"}
    form = oauth2.parse_token_response(
        200, b"access_token=a&scope=repo%2Cgist&token_type=bearer",
        now=NOW, scope_separator=",",
    )  # fmt: skip
    assert (form.access_token, form.scopes, form.expires_at) == ("a", ("repo", "gist"), None)


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    parsed = oauth2.parse_token_response(
        200,
        b'{"access_token": "a2"}',
        now=NOW,
        previous_refresh_token="r1",
        requested_scopes=["s"],
    )
    assert (parsed.refresh_token, parsed.scopes) == ("r1", ("s",))


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, b'{"error": "invalid_grant", "error_description": "expired"}', "invalid_grant"),
        (200, b"error=bad_verification_code", "bad_verification_code"),
        (500, b"<html>oops</html>", "http_500"),
        (200, b'{"token_type": "bearer"}', "invalid_response"),
        (200, b'{"access_token": "a", "expires_in": "soon"}', "invalid_response"),
    ],
)
def test_token_errors(status: int, body: bytes, error: str) -> None:
    with pytest.raises(OAuthError) as caught:
        oauth2.parse_token_response(status, body, now=NOW)
    assert caught.value.error == error
    assert caught.value.code == f"oauth.{error}"


def test_callback_parsing() -> None:
    assert oauth2.parse_callback({"code": "c", "state": "s"}) == ("s", "c")
    with pytest.raises(OAuthError) as denied:
        oauth2.parse_callback({"error": "access_denied", "state": "s"})
    assert denied.value.code == "oauth.access_denied"
    with pytest.raises(OAuthError):
        oauth2.parse_callback({"state": "s"})


def test_revocation_request() -> None:
    request = oauth2.revocation(
        "https://auth.example.com/revoke", CLIENT, token="t", token_type_hint="refresh_token"
    )
    assert request.form == {"token": "t", "token_type_hint": "refresh_token"}
    assert request.headers["Authorization"].startswith("Basic ")
