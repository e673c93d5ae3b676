"""OAuth 1.0a client steps (RFC 5849, HMAC-SHA1) as functions from values to values.

The temporary-credentials request (section 2.1), the authorization URL (2.2), the token-credentials
request (2.3), a signed ``Authorization: OAuth ...`` header for any later call (3.5.1), and the parsing of
the provider's form-encoded answers. Signatures come from Authlib's client primitives (``ClientAuth``); the
nonce and the timestamp default to Authlib's, and tests may pass fixed ones. No IO here:
``adapters/http.py`` sends what these functions build.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from authlib.oauth1 import SIGNATURE_HMAC_SHA1, ClientAuth
from authlib.oauth1.rfc5849.client_auth import generate_nonce, generate_timestamp
from authlib.oauth1.rfc5849.errors import OAuth1Error
from authlib.oauth1.rfc5849.parameters import prepare_headers

from switchyard.core.errors import InvalidInput, OAuthError
from switchyard.core.http import HttpRequest

FORM = "application/x-www-form-urlencoded"
Body = bytes | str | Mapping[str, str] | None


class TokenPair(NamedTuple):
    """Temporary or token credentials (RFC 5849 2.1 / 2.3) and whatever else the provider sent."""

    oauth_token: str
    oauth_token_secret: str
    extra: dict[str, str]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _signed_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Body,
    auth: Any,
    nonce: str | None,
    timestamp: str | None,
) -> dict[str, str]:
    """``headers`` plus the Authorization header carrying the protocol parameters and the signature.

    The steps of Authlib's ``ClientAuth.sign`` for the header transmission (RFC 5849 3.5.1), with the
    nonce and timestamp as arguments. A body takes part in the signature only when it is form-encoded
    (3.4.1.3.1), as Authlib's ``ClientAuth.prepare`` does.
    """
    base = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    content_type = _header(base, "Content-Type") or ""
    signed_body: Any = body if FORM in content_type and body else None
    if isinstance(signed_body, bytes):
        signed_body = signed_body.decode("utf-8")
    params = auth.get_oauth_params(nonce or generate_nonce(), timestamp or generate_timestamp())
    try:
        signature = auth.get_oauth_signature(
            method.upper(), url, prepare_headers(params, dict(base)), signed_body
        )
    except OAuth1Error as exc:  # Authlib refuses plain http to anything but loopback
        raise InvalidInput(
            f"cannot sign a request to {url!r}: {exc.description or exc.error}",
            code="oauth1.insecure_transport",
            remediation="OAuth 1.0a endpoints and APIs must be reached over https.",
        ) from None
    signed: dict[str, str] = prepare_headers([*params, ("oauth_signature", signature)], dict(base))
    return signed


def _client(
    consumer_key: str,
    consumer_secret: str,
    *,
    token: str | None = None,
    token_secret: str | None = None,
    callback_uri: str | None = None,
    verifier: str | None = None,
) -> Any:
    return ClientAuth(
        consumer_key,
        consumer_secret,
        token=token,
        token_secret=token_secret,
        redirect_uri=callback_uri,
        verifier=verifier,
        signature_method=SIGNATURE_HMAC_SHA1,
    )


def request_token(
    url: str,
    consumer_key: str,
    consumer_secret: str,
    callback_uri: str,
    *,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> HttpRequest:
    """RFC 5849 2.1: POST for temporary credentials, signed with the client credentials only."""
    auth = _client(consumer_key, consumer_secret, callback_uri=callback_uri)
    headers = _signed_headers(
        "POST", url, {"Accept": f"{FORM}, application/json"}, None, auth, nonce, timestamp
    )
    return HttpRequest("POST", url, headers, {})


def authorization_url(url: str, oauth_token: str, extra: Mapping[str, str] | None = None) -> str:
    """RFC 5849 2.2: where the end user's browser goes, with ``oauth_token``; existing query kept."""
    parts = urlsplit(url)
    params = {**(extra or {}), "oauth_token": oauth_token}
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def access_token(
    url: str,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    verifier: str,
    *,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> HttpRequest:
    """RFC 5849 2.3: POST for token credentials, signed with the temporary credentials and the verifier."""
    auth = _client(consumer_key, consumer_secret, token=token, token_secret=token_secret, verifier=verifier)
    headers = _signed_headers(
        "POST", url, {"Accept": f"{FORM}, application/json"}, None, auth, nonce, timestamp
    )
    return HttpRequest("POST", url, headers, {})


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Body,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    *,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> dict[str, str]:
    """RFC 5849 3: ``headers`` with ``Authorization: OAuth ...`` for a call made with token credentials.

    Query parameters of ``url`` are signed; a body only when ``Content-Type`` is form-urlencoded. Any
    Authorization header already in ``headers`` is replaced.
    """
    auth = _client(consumer_key, consumer_secret, token=token, token_secret=token_secret)
    return _signed_headers(method, url, headers, body, auth, nonce, timestamp)


def _decode(body: bytes) -> dict[str, str]:
    """Form-encoded as RFC 5849 says; JSON when a provider answers errors that way; else nothing."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
    if "=" in text and "<" not in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    return {}


def parse_token_response(status: int, body: bytes, *, callback_confirmed: bool = False) -> TokenPair:
    """The answer of the request-token or access-token endpoint (RFC 5849 2.1, 2.3).

    ``callback_confirmed=True`` (the request token) also requires ``oauth_callback_confirmed=true``.
    """
    payload = _decode(body)
    if status >= 400 or "error" in payload or "oauth_problem" in payload:
        error = payload.get("error") or payload.get("oauth_problem") or f"http_{status}"
        raise OAuthError(error, payload.get("error_description") or payload.get("oauth_problem_advice"))
    token, secret = payload.get("oauth_token"), payload.get("oauth_token_secret")
    if not token or not secret:
        raise OAuthError("invalid_response", "the answer has no oauth_token or no oauth_token_secret")
    if callback_confirmed and payload.get("oauth_callback_confirmed", "").lower() != "true":
        raise OAuthError(
            "invalid_response", "the provider did not confirm the callback (oauth_callback_confirmed)"
        )
    known = {"oauth_token", "oauth_token_secret", "oauth_callback_confirmed"}
    return TokenPair(token, secret, {k: v for k, v in payload.items() if k not in known})


def callback_token(query: Mapping[str, str]) -> str | None:
    """The temporary token the redirect back names: ``oauth_token``, or ``denied`` (a refusal, Twitter's way)."""
    return query.get("oauth_token") or query.get("denied") or None


def parse_callback(query: Mapping[str, str]) -> tuple[str, str]:
    """(oauth_token, oauth_verifier) from the redirect back (RFC 5849 2.2); a refusal raises ``OAuthError``."""
    if "denied" in query:
        raise OAuthError("access_denied", "the end user declined")
    if "error" in query:
        raise OAuthError(query["error"], query.get("error_description"))
    token, verifier = query.get("oauth_token"), query.get("oauth_verifier")
    if not token or not verifier:
        raise OAuthError("invalid_request", "the redirect carries no oauth_token or no oauth_verifier")
    return token, verifier
