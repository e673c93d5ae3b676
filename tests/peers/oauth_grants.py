"""Authlib's OAuth 2.0 server classes, wired to the in-memory store and driven without a web framework.

``PeerAuthorizationServer`` subclasses ``authlib.oauth2.AuthorizationServer`` and implements the framework
hooks (``create_oauth2_request``, ``handle_response``, ``send_signal``, ``query_client``, ``save_token``);
the grants are Authlib's, with only their storage methods filled in. The HTTP side lives in oauth_server.py.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from multidict import MultiDict, MultiDictProxy

from tests.peers.oauth_storage import AuthorizationCode, IssuedToken, OAuthStore, PeerClient, PeerUser

if TYPE_CHECKING:
    from tests.peers.oauth_server import OAuthServerPeer

ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class MultiDictPayload(OAuth2Payload):
    def __init__(self, values: MultiDict[Any]) -> None:
        self._values = values

    @property
    def data(self) -> MultiDict[Any]:
        return self._values

    @property
    def datalist(self) -> defaultdict[str, list[Any]]:
        values: defaultdict[str, list[Any]] = defaultdict(list)
        for key, value in self._values.items():
            values[key].append(value)
        return values


class AiohttpOAuth2Request(OAuth2Request):
    """An ``OAuth2Request`` over an aiohttp request whose body was already read."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: MultiDictProxy[str],
        form: MultiDict[Any],
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = query
        self._form = form
        combined: MultiDict[Any] = MultiDict(query)
        combined.extend(form)
        self.payload = MultiDictPayload(combined)

    @classmethod
    async def read(cls, request: web.Request) -> AiohttpOAuth2Request:
        form: MultiDict[Any] = MultiDict(await request.post()) if request.method == "POST" else MultiDict()
        return cls(request.method, str(request.url), request.headers, request.query, form)

    @property
    def args(self) -> MultiDictProxy[str]:
        return self._args

    @property
    def form(self) -> MultiDict[Any]:
        return self._form


class PeerCodeChallenge(CodeChallenge):
    """PKCE (RFC 7636): only S256, and a challenge is mandatory while ``peer.require_pkce`` is set."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def __init__(self, peer: OAuthServerPeer) -> None:
        super().__init__(required=True)
        self.peer = peer

    def validate_code_challenge(self, grant: grants.AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if not challenge and self.peer.require_pkce:
            raise InvalidRequestError("Missing 'code_challenge': this server requires PKCE.")
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    server: PeerAuthorizationServer

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.store.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri"),
            scope=request.scope,
            user=request.user,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: PeerClient) -> AuthorizationCode | None:
        return self.server.store.usable_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> PeerUser:
        return authorization_code.user


class RotatingRefreshGrant(grants.RefreshTokenGrant):
    """Refresh with rotation: a new refresh token each time and the old one revoked.

    With ``peer.rotate_refresh_tokens = False`` the response carries no refresh token and the old one stays
    valid, as Google does.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    server: PeerAuthorizationServer

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # type: ignore[override]
        return self.server.peer.rotate_refresh_tokens

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        token = self.server.store.by_refresh_token(refresh_token)
        return token if token is not None and token.refresh_usable() else None

    def authenticate_user(self, refresh_token: IssuedToken) -> PeerUser | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        if self.server.peer.rotate_refresh_tokens:
            refresh_token.refresh_revoked = True


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class PeerRevocationEndpoint(RevocationEndpoint):
    """RFC 7009. Revoking a refresh token also revokes its access token; not the other way round."""

    CLIENT_AUTH_METHODS = ALL_AUTH_METHODS
    server: PeerAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        store = self.server.store
        return store.by_access_token(token_string) or store.by_refresh_token(token_string)

    def revoke_token(self, token: IssuedToken, request: OAuth2Request) -> None:
        token.access_revoked = True
        if request.form["token"] == token.refresh_token:
            token.refresh_revoked = True


class PeerAuthorizationServer(AuthorizationServer):
    def __init__(self, peer: OAuthServerPeer, store: OAuthStore) -> None:
        super().__init__()
        self.peer = peer
        self.store = store
        self._bearer = BearerTokenGenerator(
            access_token_generator=lambda **_: generate_token(42),
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: self._expires_in(),
        )
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [PeerCodeChallenge(peer)])
        self.register_grant(RotatingRefreshGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(PeerRevocationEndpoint)

    def _expires_in(self) -> int | None:
        ttl = self.peer.access_token_ttl
        return None if ttl is None else max(1, math.ceil(ttl))

    def _generate_token(
        self, grant_type: str, client: PeerClient, user: PeerUser | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        token: dict[str, Any] = self._bearer(grant_type, client, user=user, **kwargs)
        if user is not None:
            token["user_id"] = user.id
        token.update(self.peer.token_extras)
        return token

    # -- the framework hooks Authlib leaves to an integration --

    def query_client(self, client_id: str) -> PeerClient | None:
        return self.store.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.store.add_token(
            IssuedToken(
                access_token=token["access_token"],
                refresh_token=token.get("refresh_token"),
                client_id=request.client.client_id,
                grant_type=request.payload.grant_type,
                scope=token.get("scope", ""),
                user=request.user,
                access_ttl=self.peer.access_token_ttl,
                refresh_ttl=self.peer.refresh_token_ttl,
            )
        )

    def create_oauth2_request(self, request: AiohttpOAuth2Request) -> AiohttpOAuth2Request:
        return request  # the aiohttp handler builds it, since reading the body is async

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> web.Response:
        data = json.dumps(body).encode() if isinstance(body, dict) else str(body or "").encode()
        return web.Response(status=status, body=data, headers=headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
