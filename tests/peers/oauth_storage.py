"""In-memory models and storage for the OAuth peer (tests/peers/oauth_server.py).

The model classes implement Authlib's mixins (``ClientMixin``, ``AuthorizationCodeMixin``, ``TokenMixin``)
so that Authlib's grant classes can drive them. Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin

CODE_TTL = 600.0  # RFC 6749 4.1.2 recommends at most ten minutes


@dataclass(frozen=True)
class PeerUser:
    """The resource owner who approves an authorization (or the app itself for client credentials)."""

    id: str
    login: str


@dataclass
class PeerClient(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scopes: list[str]
    token_endpoint_auth_method: str = "client_secret_basic"
    grant_types: list[str] = field(default_factory=lambda: ["authorization_code", "refresh_token"])

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 3.1.2.3: with several registered URIs the request must name one.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.scopes)
        return " ".join(s for s in scope.split() if s in self.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str | None  # as sent in the authorization request (None when omitted)
    scope: str
    user: PeerUser
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    issued_at: float = field(default_factory=time.monotonic)

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return time.monotonic() > self.issued_at + CODE_TTL


@dataclass
class IssuedToken(TokenMixin):
    """One token response: the access token and, where issued, its refresh token."""

    access_token: str
    client_id: str
    grant_type: str
    scope: str
    user: PeerUser | None
    refresh_token: str | None = None
    access_ttl: float | None = None  # None: never expires
    refresh_ttl: float | None = None
    issued_at: float = field(default_factory=time.monotonic)
    access_revoked: bool = False
    refresh_revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.access_ttl or 0)

    def get_user(self) -> PeerUser | None:
        return self.user

    def is_expired(self) -> bool:
        return self.access_ttl is not None and time.monotonic() >= self.issued_at + self.access_ttl

    def is_revoked(self) -> bool:
        return self.access_revoked

    def access_usable(self) -> bool:
        return not self.access_revoked and not self.is_expired()

    def refresh_usable(self) -> bool:
        if self.refresh_token is None or self.refresh_revoked:
            return False
        return self.refresh_ttl is None or time.monotonic() < self.issued_at + self.refresh_ttl


@dataclass
class OAuthStore:
    """Clients, authorization codes and issued tokens, all in memory."""

    clients: dict[str, PeerClient] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: list[IssuedToken] = field(default_factory=list)
    _by_access: dict[str, IssuedToken] = field(default_factory=dict)
    _by_refresh: dict[str, IssuedToken] = field(default_factory=dict)

    def add_token(self, token: IssuedToken) -> None:
        self.tokens.append(token)
        self._by_access[token.access_token] = token
        if token.refresh_token:
            self._by_refresh[token.refresh_token] = token

    def by_access_token(self, access_token: str) -> IssuedToken | None:
        return self._by_access.get(access_token)

    def by_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        return self._by_refresh.get(refresh_token)

    def usable_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        item = self.codes.get(code)
        if item is None or item.client_id != client_id or item.is_expired():
            return None
        return item
