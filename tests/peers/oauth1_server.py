"""OAuth 1.0a (RFC 5849) for the OAuth peer, built from Authlib's ``authlib.oauth1`` server classes.

Three-legged flow: POST /oauth1/request_token (signed, with ``oauth_callback``) -> GET /oauth1/authorize
(automatic consent, 302 to the callback with ``oauth_token`` and ``oauth_verifier``) -> POST
/oauth1/access_token (signed with the temporary credentials and the verifier). ``OAuth1Resources`` checks
signed requests at the provider API peer. HMAC-SHA1 and PLAINTEXT signatures are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from authlib.common.security import generate_token
from authlib.common.urls import url_encode
from authlib.oauth1 import (
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_PLAINTEXT,
    AuthorizationServer,
    ClientMixin,
    OAuth1Request,
    ResourceProtector,
    TemporaryCredential,
    TokenCredentialMixin,
)
from authlib.oauth1.rfc5849.errors import OAuth1Error

from tests.peers.oauth_storage import PeerUser

if TYPE_CHECKING:
    from tests.peers.oauth_server import OAuthServerPeer

SIGNATURE_METHODS = [SIGNATURE_HMAC_SHA1, SIGNATURE_PLAINTEXT]


@dataclass
class OAuth1Client(ClientMixin):
    client_id: str
    client_secret: str
    default_redirect_uri: str | None = None

    def get_default_redirect_uri(self) -> str | None:
        return self.default_redirect_uri

    def get_client_secret(self) -> str:
        return self.client_secret

    def get_rsa_public_key(self) -> None:
        return None


@dataclass
class OAuth1Token(TokenCredentialMixin):
    oauth_token: str
    oauth_token_secret: str
    client_id: str
    user: PeerUser

    def get_oauth_token(self) -> str:
        return self.oauth_token

    def get_oauth_token_secret(self) -> str:
        return self.oauth_token_secret


@dataclass
class OAuth1Store:
    clients: dict[str, OAuth1Client] = field(default_factory=dict)
    temporary: dict[str, TemporaryCredential] = field(default_factory=dict)
    tokens: dict[str, OAuth1Token] = field(default_factory=dict)
    nonces: set[tuple[str, str, str, str]] = field(default_factory=set)

    def seen_nonce(self, nonce: str, request: OAuth1Request) -> bool:
        """Record the nonce; True when the same nonce came before with the same timestamp, client and token."""
        key = (nonce, request.timestamp or "", request.client_id or "", request.token or "")
        if key in self.nonces:
            return True
        self.nonces.add(key)
        return False


class OAuth1Server(AuthorizationServer):
    SUPPORTED_SIGNATURE_METHODS = SIGNATURE_METHODS

    def __init__(self, store: OAuth1Store) -> None:
        self.store = store

    def create_oauth1_request(self, request: OAuth1Request) -> OAuth1Request:
        return request  # the aiohttp handler builds it, since reading the body is async

    def handle_response(self, status_code: int, payload: Any, headers: list[tuple[str, str]]) -> web.Response:
        if isinstance(payload, list):  # RFC 5849 2.1 spells the flag "true"; Authlib passes a bool
            body = url_encode([(k, str(v).lower() if isinstance(v, bool) else v) for k, v in payload])
        else:
            body = str(payload or "")
        return web.Response(status=status_code, body=body.encode(), headers=headers)

    def get_client_by_id(self, client_id: str) -> OAuth1Client | None:
        return self.store.clients.get(client_id)

    def exists_nonce(self, nonce: str, request: OAuth1Request) -> bool:
        return self.store.seen_nonce(nonce, request)

    def create_temporary_credential(self, request: OAuth1Request) -> TemporaryCredential:
        credential = TemporaryCredential(
            oauth_token=generate_token(36),
            oauth_token_secret=generate_token(48),
            client_id=request.client_id,
            oauth_callback=request.redirect_uri,
        )
        self.store.temporary[credential["oauth_token"]] = credential
        return credential

    def get_temporary_credential(self, request: OAuth1Request) -> TemporaryCredential | None:
        credential = self.store.temporary.get(request.token or "")
        if credential is None or (request.client_id and credential.get_client_id() != request.client_id):
            return None
        return credential

    def delete_temporary_credential(self, request: OAuth1Request) -> None:
        self.store.temporary.pop(request.token or "", None)

    def create_authorization_verifier(self, request: OAuth1Request) -> str:
        verifier = generate_token(36)
        request.credential["oauth_verifier"] = verifier
        request.credential["user"] = request.user
        return verifier

    def create_token_credential(self, request: OAuth1Request) -> OAuth1Token:
        temporary = request.credential
        token = OAuth1Token(
            generate_token(36), generate_token(48), temporary.get_client_id(), temporary["user"]
        )
        self.store.tokens[token.oauth_token] = token
        return token


class OAuth1Resources(ResourceProtector):
    """Verifies OAuth 1.0a signed requests made to the provider API peer."""

    SUPPORTED_SIGNATURE_METHODS = SIGNATURE_METHODS

    def __init__(self, store: OAuth1Store) -> None:
        self.store = store

    def get_client_by_id(self, client_id: str) -> OAuth1Client | None:
        return self.store.clients.get(client_id)

    def get_token_credential(self, request: OAuth1Request) -> OAuth1Token | None:
        token = self.store.tokens.get(request.token or "")
        return token if token is not None and token.client_id == request.client_id else None

    def exists_nonce(self, nonce: str, request: OAuth1Request) -> bool:
        return self.store.seen_nonce(nonce, request)

    def user_for(self, method: str, uri: str, body: dict[str, str] | None, headers: Any) -> PeerUser | None:
        try:
            request = self.validate_request(method, uri, body, headers)
        except (OAuth1Error, ValueError):
            return None
        return request.credential.user


class OAuth1Endpoints:
    """The aiohttp handlers of the OAuth 1.0a endpoints, sharing the peer's user, deny switch and logs."""

    def __init__(self, peer: OAuthServerPeer) -> None:
        self.peer = peer
        self.store = OAuth1Store()
        self.server = OAuth1Server(self.store)
        self.resources = OAuth1Resources(self.store)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/oauth1/request_token", self.request_token)
        app.router.add_get("/oauth1/authorize", self.authorize)
        app.router.add_post("/oauth1/access_token", self.access_token)

    async def _read(self, request: web.Request) -> OAuth1Request | web.Response:
        body = {k: str(v) for k, v in (await request.post()).items()} if request.method == "POST" else None
        try:
            return OAuth1Request(request.method, str(request.url), body, request.headers)
        except (OAuth1Error, ValueError) as exc:
            return web.json_response({"error": "invalid_request", "error_description": str(exc)}, status=400)

    async def request_token(self, request: web.Request) -> web.Response:
        oauth_request = await self._read(request)
        if isinstance(oauth_request, web.Response):
            self.peer.record_token_request("oauth1_request_token", None, "oauth1", oauth_request.status)
            return oauth_request
        response = self.server.create_temporary_credentials_response(oauth_request)
        self.peer.record_token_request(
            "oauth1_request_token", oauth_request.client_id, "oauth1", response.status
        )
        return response

    async def authorize(self, request: web.Request) -> web.Response:
        oauth_request = await self._read(request)
        if isinstance(oauth_request, web.Response):
            return oauth_request
        try:
            self.server.validate_authorization_request(oauth_request)
        except OAuth1Error as error:
            return self.server.handle_error_response(error)
        user = self.peer.decide_consent()
        credential = oauth_request.credential
        self.peer.record_authorization(credential.get_client_id(), user, state=None, protocol="oauth1")
        return self.server.create_authorization_response(oauth_request, grant_user=user)

    async def access_token(self, request: web.Request) -> web.Response:
        oauth_request = await self._read(request)
        if isinstance(oauth_request, web.Response):
            self.peer.record_token_request("oauth1_access_token", None, "oauth1", oauth_request.status)
            return oauth_request
        response = self.server.create_token_response(oauth_request)
        self.peer.record_token_request(
            "oauth1_access_token", oauth_request.client_id, "oauth1", response.status
        )
        return response
