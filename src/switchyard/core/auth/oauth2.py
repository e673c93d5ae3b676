"""OAuth 2.0 client steps (RFC 6749, RFC 7636, RFC 7009) as functions from values to values.

Building the authorization URL, the token requests (authorization code, refresh, client credentials) and
the revocation request; parsing the token endpoint's answer, JSON or form-encoded, into a ``TokenSet``.
No IO here: ``adapters/control_http.py`` sends what these functions build.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from switchyard.core.errors import OAuthError
from switchyard.core.http import HttpRequest


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    token_type: str = "Bearer"
    refresh_token: str | None = None
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def as_credentials(self) -> dict[str, Any]:
        """What the vault stores for a connection."""
        stored: dict[str, Any] = {"access_token": self.access_token, "token_type": self.token_type}
        if self.refresh_token:
            stored["refresh_token"] = self.refresh_token
        if self.extra:
            stored["extra"] = self.extra
        return stored


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str | None
    auth_method: str = "client_secret_basic"  # or client_secret_post


def authorization_url(
    endpoint: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    scope_separator: str,
    state: str,
    code_challenge: str | None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """RFC 6749 section 4.1.1, with RFC 7636's S256 challenge when given; existing query kept."""
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if scopes:
        params["scope"] = scope_separator.join(scopes)
    if code_challenge:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    params.update(extra or {})
    parts = urlsplit(endpoint)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _authenticated(client: Client, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    if client.auth_method == "client_secret_post" or client.client_secret is None:
        form = {**form, "client_id": client.client_id}
        if client.client_secret is not None:
            form["client_secret"] = client.client_secret
    else:
        # RFC 6749 section 2.3.1: both parts form-urlencoded before the Basic encoding.
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return headers, form


def code_exchange(
    token_url: str,
    client: Client,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    extra: Mapping[str, str] | None = None,
) -> HttpRequest:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, **(extra or {})}
    if code_verifier:
        form["code_verifier"] = code_verifier
    headers, form = _authenticated(client, form)
    return HttpRequest("POST", token_url, headers, form)


def refresh(
    token_url: str, client: Client, *, refresh_token: str, extra: Mapping[str, str] | None = None
) -> HttpRequest:
    headers, form = _authenticated(
        client, {"grant_type": "refresh_token", "refresh_token": refresh_token, **(extra or {})}
    )
    return HttpRequest("POST", token_url, headers, form)


def client_credentials(
    token_url: str,
    client: Client,
    *,
    scopes: Sequence[str],
    scope_separator: str,
    extra: Mapping[str, str] | None = None,
) -> HttpRequest:
    form = {"grant_type": "client_credentials", **(extra or {})}
    if scopes:
        form["scope"] = scope_separator.join(scopes)
    headers, form = _authenticated(client, form)
    return HttpRequest("POST", token_url, headers, form)


def revocation(revocation_url: str, client: Client, *, token: str, token_type_hint: str) -> HttpRequest:
    """RFC 7009 section 2.1."""
    headers, form = _authenticated(client, {"token": token, "token_type_hint": token_type_hint})
    return HttpRequest("POST", revocation_url, headers, form)


def _decode_body(body: bytes) -> dict[str, Any]:
    """JSON when it looks like JSON, whatever the content type claims; otherwise a form (GitHub's default)."""
    text = body.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    if "=" in text and "<" not in text:
        return dict(parse_qsl(text))
    return {}


def parse_token_response(
    status: int,
    body: bytes,
    *,
    now: datetime,
    requested_scopes: Sequence[str] = (),
    scope_separator: str = " ",
    previous_refresh_token: str | None = None,
) -> TokenSet:
    """RFC 6749 sections 5.1 and 5.2. A refresh answer without a refresh token keeps the previous one."""
    payload = _decode_body(body)
    if status >= 400 or "error" in payload:
        raise OAuthError(str(payload.get("error") or f"http_{status}"), payload.get("error_description"))
    access_token = payload.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise OAuthError("invalid_response", "the token response has no access_token")
    expires_in = payload.get("expires_in")
    expires_at = None
    if expires_in not in (None, ""):
        try:
            expires_at = now + timedelta(seconds=int(float(str(expires_in))))
        except ValueError:
            raise OAuthError("invalid_response", "expires_in is not a number") from None
    granted = payload.get("scope")
    if isinstance(granted, str) and granted:
        separator = scope_separator if scope_separator in granted else " "
        scopes = tuple(s for s in granted.split(separator) if s)
    else:
        scopes = tuple(requested_scopes)  # RFC 6749 5.1: omitted means as requested
    known = {"access_token", "token_type", "refresh_token", "expires_in", "scope"}
    return TokenSet(
        access_token=access_token,
        token_type=str(payload.get("token_type") or "Bearer"),
        refresh_token=payload.get("refresh_token") or previous_refresh_token,
        expires_at=expires_at,
        scopes=scopes,
        extra={k: v for k, v in payload.items() if k not in known},
    )


def parse_callback(query: Mapping[str, str]) -> tuple[str, str]:
    """(state, code) from the redirect back (RFC 6749 4.1.2); an ``error`` there raises ``OAuthError``."""
    if "error" in query:
        raise OAuthError(query["error"], query.get("error_description"))
    code, state = query.get("code"), query.get("state")
    if not code or not state:
        raise OAuthError("invalid_request", "the redirect carries no code or no state")
    return state, code
