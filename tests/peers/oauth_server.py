"""A real OAuth 2.0 authorization server on loopback (plus OAuth 1.0a), built from Authlib's server classes.

    async with running_oauth_server() as server:
        server.register_client("app", "secret", ["http://127.0.0.1:9/cb"], ["read"])
        ...  # GET server.authorization_url -> 302 with code; POST server.token_url; POST server.revocation_url

Consent is automatic: a valid GET /authorize redirects at once as if ``server.user`` approved. Switches
(``deny_next``, ``require_pkce``, ``access_token_ttl``, ``token_failure`` ...) and logs (``token_requests``,
``token_log``, ``authorize_log``, ``revocation_log``) are plain attributes; see ``OAuthServerPeer``.
The Authlib glue is in oauth_grants.py (OAuth 2.0) and oauth1_server.py; models in oauth_storage.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from aiohttp import web
from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization

from tests.peers.loopback import serving
from tests.peers.oauth1_server import OAuth1Client, OAuth1Endpoints
from tests.peers.oauth_grants import AiohttpOAuth2Request, PeerAuthorizationServer
from tests.peers.oauth_storage import IssuedToken, OAuthStore, PeerClient, PeerUser

#: ``None`` (answer normally), ``"500"`` (plain-text 500), ``"invalid_grant"`` (RFC 6749 error, 400),
#: or ``("stall", seconds)``: wait that long, then answer normally.
TokenFailure = Literal["500", "invalid_grant"] | tuple[Literal["stall"], float] | None

DEFAULT_USER = PeerUser(id="user-1", login="octocat")


@dataclass
class TokenRequestRecord:
    grant_type: (
        str  # "authorization_code", "refresh_token", ..., or "oauth1_request_token" / "oauth1_access_token"
    )
    client_id: str | None
    client_auth: str  # "basic", "post", "none" or "oauth1"
    at: float  # time.monotonic() on arrival
    status: int | None = None  # None while the answer is pending (e.g. stalled)


@dataclass
class AuthorizeRecord:
    client_id: str
    user_id: str | None  # None when denied
    state: str | None
    protocol: str = "oauth2"


@dataclass
class RevocationRecord:
    client_id: str | None
    token_type_hint: str | None
    status: int


class OAuthServerPeer:
    def __init__(
        self,
        *,
        require_pkce: bool = False,
        access_token_ttl: float | None = 3600,
        refresh_token_ttl: float | None = None,
        rotate_refresh_tokens: bool = True,
        user: PeerUser = DEFAULT_USER,
    ) -> None:
        self.url = ""
        self.store = OAuthStore()
        # -- switches, all safe to change between requests --
        self.user = user  # who "approves" at /authorize
        self.deny_next = False  # one shot: the next valid /authorize answers error=access_denied
        # refuse /authorize without a code_challenge (a challenge must always be S256)
        self.require_pkce = require_pkce
        self.access_token_ttl = access_token_ttl  # seconds; None: no expires_in, never expires
        self.refresh_token_ttl = refresh_token_ttl  # seconds; None: never expires
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.token_extras: dict[str, object] = {}  # merged into every token response
        self.token_failure: TokenFailure = None
        # apply token_failure this many times, then reset it; None: until changed
        self.token_failure_times: int | None = None
        # -- what reached the peer --
        self.token_requests: Counter[str] = Counter()  # by grant type
        self.token_log: list[TokenRequestRecord] = []
        self.authorize_log: list[AuthorizeRecord] = []
        self.revocation_log: list[RevocationRecord] = []
        self.authz = PeerAuthorizationServer(self, self.store)
        self.oauth1 = OAuth1Endpoints(self)
        self._closing = asyncio.Event()

    # -- addresses --

    @property
    def authorization_url(self) -> str:
        return f"{self.url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def revocation_url(self) -> str:
        return f"{self.url}/revoke"

    @property
    def request_token_url(self) -> str:
        return f"{self.url}/oauth1/request_token"

    @property
    def oauth1_authorization_url(self) -> str:
        return f"{self.url}/oauth1/authorize"

    @property
    def access_token_url(self) -> str:
        return f"{self.url}/oauth1/access_token"

    @property
    def user_id(self) -> str:
        return self.user.id

    # -- set-up and inspection --

    def register_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        scopes: list[str],
        token_endpoint_auth_method: str = "client_secret_basic",
        grant_types: list[str] | None = None,
    ) -> PeerClient:
        """``token_endpoint_auth_method``: "client_secret_basic", "client_secret_post" or "none" (public)."""
        client = PeerClient(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=list(redirect_uris),
            scopes=list(scopes),
            token_endpoint_auth_method=token_endpoint_auth_method,
            grant_types=list(grant_types or ["authorization_code", "refresh_token"]),
        )
        self.store.clients[client_id] = client
        return client

    def register_oauth1_client(
        self, client_key: str, client_secret: str, default_redirect_uri: str | None = None
    ) -> OAuth1Client:
        client = OAuth1Client(client_key, client_secret, default_redirect_uri)
        self.oauth1.store.clients[client_key] = client
        return client

    def token_info(self, token: str) -> IssuedToken | None:
        """The issued token record for an access or refresh token string."""
        return self.store.by_access_token(token) or self.store.by_refresh_token(token)

    def validate_access_token(self, access_token: str) -> PeerUser | None:
        """The owner of an issued, unexpired, unrevoked access token; an app user for client credentials."""
        token = self.store.by_access_token(access_token)
        if token is None or not token.access_usable():
            return None
        return token.user or PeerUser(id=f"app:{token.client_id}", login=token.client_id)

    def validate_oauth1_request(
        self, method: str, uri: str, body: dict[str, str] | None, headers: Mapping[str, str]
    ) -> PeerUser | None:
        return self.oauth1.resources.user_for(method, uri, body, headers)

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expired, without waiting."""
        for token in self.store.tokens:
            token.access_ttl = 0.0

    def fail_token_requests(self, failure: TokenFailure, times: int | None = None) -> None:
        self.token_failure = failure
        self.token_failure_times = times

    # -- used by the handlers (also the OAuth 1.0a ones) --

    def decide_consent(self) -> PeerUser | None:
        if self.deny_next:
            self.deny_next = False
            return None
        return self.user

    def record_authorization(
        self, client_id: str, user: PeerUser | None, state: str | None, protocol: str
    ) -> None:
        self.authorize_log.append(AuthorizeRecord(client_id, user.id if user else None, state, protocol))

    def record_token_request(
        self, grant_type: str, client_id: str | None, client_auth: str, status: int | None = None
    ) -> TokenRequestRecord:
        record = TokenRequestRecord(grant_type, client_id, client_auth, time.monotonic(), status)
        self.token_requests[grant_type] += 1
        self.token_log.append(record)
        return record

    def _take_failure(self) -> TokenFailure:
        failure = self.token_failure
        if failure is not None and self.token_failure_times is not None:
            self.token_failure_times -= 1
            if self.token_failure_times <= 0:
                self.token_failure, self.token_failure_times = None, None
        return failure

    # -- HTTP --

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_post("/revoke", self.revoke)
        self.oauth1.add_routes(app)
        return app

    async def authorize(self, request: web.Request) -> web.Response:
        oauth_request = await AiohttpOAuth2Request.read(request)
        try:
            grant = self.authz.get_consent_grant(oauth_request, end_user=self.user)
        except OAuth2Error as error:
            # no redirect unless Authlib validated the client and its redirect_uri (RFC 6749 4.1.2.1)
            return self.authz.handle_error_response(oauth_request, error)
        user = self.decide_consent()
        self.record_authorization(grant.client.client_id, user, oauth_request.payload.state, "oauth2")
        return self.authz.create_authorization_response(oauth_request, grant_user=user, grant=grant)

    async def token(self, request: web.Request) -> web.Response:
        oauth_request = await AiohttpOAuth2Request.read(request)
        form = oauth_request.form
        basic_id, _ = extract_basic_authorization(request.headers)
        client_auth = "basic" if basic_id else "post" if form.get("client_secret") else "none"
        record = self.record_token_request(
            form.get("grant_type", ""), basic_id or form.get("client_id"), client_auth
        )
        response = await self._failure_response(self._take_failure())
        if response is None:
            response = self.authz.create_token_response(oauth_request)
        record.status = response.status
        return response

    async def _failure_response(self, failure: TokenFailure) -> web.Response | None:
        if failure == "500":
            return web.Response(status=500, text="Internal Server Error")
        if failure == "invalid_grant":
            body = {"error": "invalid_grant", "error_description": "Forced failure (token_failure switch)."}
            return web.json_response(body, status=400, headers={"Cache-Control": "no-store"})
        if isinstance(failure, tuple):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), failure[1])
            if self._closing.is_set():
                return web.Response(status=503, text="shutting down")
        return None

    async def revoke(self, request: web.Request) -> web.Response:
        oauth_request = await AiohttpOAuth2Request.read(request)
        basic_id, _ = extract_basic_authorization(request.headers)
        response: web.Response = self.authz.create_endpoint_response("revocation", oauth_request)
        hint = oauth_request.form.get("token_type_hint")
        self.revocation_log.append(
            RevocationRecord(basic_id or oauth_request.form.get("client_id"), hint, response.status)
        )
        return response

    def close(self) -> None:
        """Release stalled token requests (they answer 503)."""
        self._closing.set()


@asynccontextmanager
async def running_oauth_server(
    *,
    require_pkce: bool = False,
    access_token_ttl: float | None = 3600,
    refresh_token_ttl: float | None = None,
    rotate_refresh_tokens: bool = True,
    user: PeerUser = DEFAULT_USER,
) -> AsyncIterator[OAuthServerPeer]:
    peer = OAuthServerPeer(
        require_pkce=require_pkce,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        rotate_refresh_tokens=rotate_refresh_tokens,
        user=user,
    )
    async with serving(peer.app()) as peer.url:
        try:
            yield peer
        finally:
            peer.close()
