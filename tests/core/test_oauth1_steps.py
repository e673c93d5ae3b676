"""The OAuth 1.0a client steps, as pure functions: checked against a published vector and Authlib's server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest
from authlib.oauth1 import OAuth1Request
from authlib.oauth1.rfc5849.signature import verify_hmac_sha1
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.auth import oauth1
from switchyard.core.errors import InvalidInput, OAuthError

KEY, SECRET = "dpf43f3p2l4k3l03", "kd94hf93k423kf44"
TOKEN, TOKEN_SECRET = "nnch734d00sl2jdk", "pfkkdhi9sl3r4s00"
API = "https://api.example.com/1.1/statuses/update.json?include_entities=true&q=a%20b"


@dataclass
class _Client:
    secret: str

    def get_client_secret(self) -> str:
        return self.secret


@dataclass
class _Credential:
    secret: str

    def get_oauth_token_secret(self) -> str:
        return self.secret


def server_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Mapping[str, str] | None = None,
    *,
    client_secret: str = SECRET,
    token_secret: str | None = None,
) -> OAuth1Request:
    """The request as Authlib's server sees it, with the secrets it would look up."""
    request = OAuth1Request(method, url, body, headers)
    request.client = _Client(client_secret)
    if token_secret is not None:
        request.credential = _Credential(token_secret)
    return request


def verifies(
    method: str, url: str, headers: Mapping[str, str], body: Mapping[str, str] | None = None, **secrets: str
) -> bool:
    """Authlib's server-side check of an HMAC-SHA1 signature."""
    request = server_request(method, url, headers, body, **secrets)
    return request.signature_method == "HMAC-SHA1" and bool(verify_hmac_sha1(request))


def auth_params(headers: Mapping[str, str]) -> dict[str, str]:
    return dict(OAuth1Request("GET", "https://x.example", None, headers).auth_params)


def test_the_oauth_core_1_0_appendix_a_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    """OAuth Core 1.0 (Revision A), appendix A.5: the photos.example.net request and its signature."""
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # the vector is over plain http
    headers = oauth1.sign(
        "GET",
        "http://photos.example.net/photos?file=vacation.jpg&size=original",
        {},
        None,
        KEY,
        SECRET,
        TOKEN,
        TOKEN_SECRET,
        nonce="kllo9940pd9333jh",
        timestamp="1191242096",
    )
    params = auth_params(headers)
    assert params["oauth_signature"] == "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
    assert headers["Authorization"].startswith("OAuth ")


def test_request_token_is_signed_with_the_client_credentials_and_names_the_callback() -> None:
    url = "https://provider.example/oauth/request_token"
    request = oauth1.request_token(url, KEY, SECRET, "https://switchyard.example/oauth1/callback?x=1")
    assert (request.method, request.url, request.form) == ("POST", url, {})
    assert verifies("POST", url, request.headers)
    checked = server_request("POST", url, request.headers)
    assert checked.redirect_uri == "https://switchyard.example/oauth1/callback?x=1"
    assert checked.token is None
    assert checked.client_id == KEY
    assert not verifies("POST", url, request.headers, client_secret="another secret")


def test_access_token_carries_the_temporary_token_and_verifier() -> None:
    url = "https://provider.example/oauth/access_token"
    request = oauth1.access_token(url, KEY, SECRET, "temp-token", "temp secret&/+", "the-verifier")
    assert verifies("POST", url, request.headers, token_secret="temp secret&/+")
    checked = server_request("POST", url, request.headers)
    assert checked.token == "temp-token"
    assert checked.oauth_params["oauth_verifier"] == "the-verifier"
    assert checked.redirect_uri is None
    assert not verifies("POST", url, request.headers, token_secret="wrong")


def test_sign_covers_the_query_and_a_form_body_and_replaces_an_old_authorization() -> None:
    form = {"status": "Hello Ladies + Gentlemen, a signed OAuth request!", "emoji": "\u2603"}
    headers = oauth1.sign(
        "post",
        API,
        {"Content-Type": "application/x-www-form-urlencoded", "authorization": "Bearer stale"},
        form,
        KEY,
        SECRET,
        TOKEN,
        TOKEN_SECRET,
    )
    assert "authorization" not in headers and headers["Content-Type"].startswith("application/x-www")
    assert verifies("POST", API, headers, form, token_secret=TOKEN_SECRET)
    # the body is signed, and so is the query: a change to either does not verify
    assert not verifies("POST", API, headers, {**form, "status": "changed"}, token_secret=TOKEN_SECRET)
    assert not verifies("POST", API.replace("q=a%20b", "q=c"), headers, form, token_secret=TOKEN_SECRET)


def test_sign_leaves_a_json_body_out_of_the_signature() -> None:
    headers = oauth1.sign(
        "PUT", API, {"Content-Type": "application/json"}, b'{"a": 1}', KEY, SECRET, TOKEN, TOKEN_SECRET
    )
    assert verifies("PUT", API, headers, None, token_secret=TOKEN_SECRET)
    assert "oauth_body_hash" not in headers["Authorization"]


@given(
    secret=st.text(min_size=1, max_size=40),
    token_secret=st.text(min_size=1, max_size=40),
    value=st.text(max_size=40),
)
def test_any_secrets_and_values_verify_at_authlibs_server(secret: str, token_secret: str, value: str) -> None:
    url = "https://api.example.com/search"
    form = {"q": value}
    headers = oauth1.sign("POST", url, {"Content-Type": oauth1.FORM}, form, KEY, secret, TOKEN, token_secret)
    assert verifies("POST", url, headers, form, client_secret=secret, token_secret=token_secret)


def test_fresh_nonces_and_fixed_ones() -> None:
    first = auth_params(oauth1.sign("GET", API, {}, None, KEY, SECRET, TOKEN, TOKEN_SECRET))
    second = auth_params(oauth1.sign("GET", API, {}, None, KEY, SECRET, TOKEN, TOKEN_SECRET))
    assert first["oauth_nonce"] != second["oauth_nonce"]
    assert first["oauth_timestamp"].isdigit()
    fixed = [
        auth_params(
            oauth1.sign("GET", API, {}, None, KEY, SECRET, TOKEN, TOKEN_SECRET, nonce="n", timestamp="1")
        )
        for _ in range(2)
    ]
    assert fixed[0] == fixed[1]
    assert fixed[0]["oauth_nonce"] == "n" and fixed[0]["oauth_timestamp"] == "1"


def test_plain_http_to_a_remote_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    with pytest.raises(InvalidInput) as refused:
        oauth1.request_token("http://provider.example/request_token", KEY, SECRET, "https://cb.example")
    assert refused.value.code == "oauth1.insecure_transport"
    # loopback is allowed (the test peers)
    oauth1.request_token("http://127.0.0.1:9/request_token", KEY, SECRET, "https://cb.example")


def test_authorization_url_keeps_the_query_and_adds_the_token() -> None:
    url = oauth1.authorization_url("https://p.example/authorize?force_login=true", "tok en", {"lang": "fr"})
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "p.example", "/authorize")
    assert parse_qsl(parts.query) == [("force_login", "true"), ("lang", "fr"), ("oauth_token", "tok en")]
    assert oauth1.authorization_url("https://p.example/a", "t", {"oauth_token": "evil"}).endswith(
        "oauth_token=t"
    )


def test_parse_token_response_reads_the_form_and_requires_the_callback_confirmation() -> None:
    body = b"oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03&oauth_callback_confirmed=true"
    pair = oauth1.parse_token_response(200, body, callback_confirmed=True)
    assert pair == ("hh5s93j4hdidpola", "hdhd0244k9j7ao03", {})
    access = oauth1.parse_token_response(200, b"oauth_token=a&oauth_token_secret=b&user_id=42&screen_name=x")
    assert access.oauth_token == "a" and access.extra == {"user_id": "42", "screen_name": "x"}
    with pytest.raises(OAuthError) as unconfirmed:
        oauth1.parse_token_response(200, b"oauth_token=a&oauth_token_secret=b", callback_confirmed=True)
    assert unconfirmed.value.code == "oauth.invalid_response"
    assert "oauth_callback_confirmed" in unconfirmed.value.detail


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, b"error=invalid_signature&error_description=bad", "oauth.invalid_signature"),
        (401, b"oauth_problem=timestamp_refused&oauth_acceptable_timestamps=1-2", "oauth.timestamp_refused"),
        (400, b'{"error": "invalid_request", "error_description": "x"}', "oauth.invalid_request"),
        (403, b"<html>Forbidden</html>", "oauth.http_403"),
        (200, b"oauth_token=only-the-token", "oauth.invalid_response"),
        (200, b"", "oauth.invalid_response"),
        (200, b"[1, 2]", "oauth.invalid_response"),
    ],
)
def test_parse_token_response_errors(status: int, body: bytes, code: str) -> None:
    with pytest.raises(OAuthError) as refused:
        oauth1.parse_token_response(status, body)
    assert refused.value.code == code


def test_parse_callback() -> None:
    assert oauth1.parse_callback({"oauth_token": "t", "oauth_verifier": "v"}) == ("t", "v")
    assert oauth1.callback_token({"oauth_token": "t"}) == "t"
    assert oauth1.callback_token({"denied": "t"}) == "t"
    assert oauth1.callback_token({"error": "access_denied"}) is None
    for query, code in [
        ({"denied": "t"}, "oauth.access_denied"),
        ({"error": "access_denied", "error_description": "no"}, "oauth.access_denied"),
        ({"oauth_token": "t"}, "oauth.invalid_request"),
        ({}, "oauth.invalid_request"),
    ]:
        with pytest.raises(OAuthError) as refused:
            oauth1.parse_callback(query)
        assert refused.value.code == code
