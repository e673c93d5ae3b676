"""The OAuth 2.0 authorization code flow with PKCE (RFC 6749 4.1, RFC 7636, RFC 9700).

``start`` makes a random state (stored as a digest, 10 minutes, single use) bound to the tenant, the end
user, the integration and a sealed PKCE verifier, and returns the provider's authorization URL.
``complete`` takes the redirect back: it checks and consumes the state, exchanges the code with the
verifier, and stores the tokens sealed as a new connection. Every refusal names why and stores nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from switchyard.core.auth import oauth2, tokens
from switchyard.core.clock import utcnow
from switchyard.core.errors import InvalidInput, NotFound, OAuthError, SwitchyardError
from switchyard.core.ids import new_id
from switchyard.core.manifest import forms, templates
from switchyard.core.manifest.schema import Definition, OAuth2
from switchyard.core.models import Connection, Integration, OAuthState
from switchyard.io_ports import HttpSender
from switchyard.ports import Database
from switchyard.services.catalog import CatalogService
from switchyard.services.connect import mark_session_used
from switchyard.services.connections import ConnectionsService, NewCredentials
from switchyard.services.integrations import IntegrationsService
from switchyard.services.vault import Accessor, Vault

STATE_TTL = timedelta(minutes=10)
STATE_OWNER_KIND = "oauth_state"
RESPONSE_MODES = ("redirect", "popup", "page", "hosted")  # hosted: a popup opened by the connect page


@dataclass(frozen=True)
class Started:
    authorization_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class Completed:
    connection: Connection
    pending: OAuthState


@dataclass(frozen=True)
class Outcome:
    """What the browser callback shows: a connection, or an error; ``pending`` when the state was known."""

    pending: OAuthState | None
    connection: Connection | None = None
    error: SwitchyardError | None = None


def state_error(code: str, detail: str) -> OAuthError:
    return OAuthError(
        "invalid_state", detail, code=code, remediation="Start connecting again from the application."
    )


async def forget_sealed_secret(db: Database, vault: Vault, pending: OAuthState) -> None:
    """Drop the PKCE verifier (or OAuth 1.0a request secret) a pending authorization sealed."""
    if not pending.verifier_item_id:
        return
    async with db.transaction() as tx:
        items = await tx.vault_items.get_many(pending.tenant_id, [pending.verifier_item_id])
        await tx.vault_items.delete(pending.tenant_id, [pending.verifier_item_id])
    await vault.destroy(items)


def oauth2_method(definition: Definition, integration: Integration) -> OAuth2:
    method = definition.method(integration.auth_type)
    if not isinstance(method, OAuth2):
        raise InvalidInput(
            f"integration {integration.key!r} does not use the OAuth 2.0 authorization code flow",
            code="integration.not_oauth2",
        )
    return method


class RedirectFlow:
    """What the OAuth 2.0 and OAuth 1.0a flows share: their parts, and the checks on a pending record."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        catalog: CatalogService,
        integrations: IntegrationsService,
        connections: ConnectionsService,
        http: HttpSender,
        *,
        callback_url: str,
    ) -> None:
        self.db = db
        self.vault = vault
        self.catalog = catalog
        self.integrations = integrations
        self.connections = connections
        self.http = http
        self.callback_url = callback_url

    async def pending(self, digest: str | None, what: str) -> OAuthState:
        """The live pending authorization with this digest; missing, unknown, used and expired are refused."""
        if digest is None:
            raise state_error("oauth.state_missing", f"the redirect carries no {what}")
        async with self.db.transaction(write=False) as tx:
            found = await tx.oauth_states.find(digest)
        if found is None:
            raise state_error("oauth.state_invalid", f"the {what} is unknown")
        if found.used_at is not None:
            raise state_error("oauth.state_replayed", f"the {what} was already used")
        if found.expires_at <= utcnow():
            raise state_error("oauth.state_expired", "the authorization took longer than 10 minutes")
        return found


class OAuthFlow(RedirectFlow):
    def redirect_uri(self, integration: Integration) -> str:
        return integration.redirect_url or self.callback_url

    async def start(
        self,
        integration: Integration,
        end_user_id: str,
        *,
        connection_config: Mapping[str, Any] | None = None,
        connect_session_id: str | None = None,
        return_url: str | None = None,
        response_mode: str = "redirect",
        redirect_uri: str | None = None,
    ) -> Started:
        if response_mode not in RESPONSE_MODES:
            raise InvalidInput(f"unknown response mode {response_mode!r}", code="oauth.invalid_response_mode")
        definition = await self.catalog.definition(integration.tenant_id, integration.connector_id)
        method = oauth2_method(definition, integration)
        config = forms.check(definition.connection_config, connection_config or {}, what="connection config")
        now = utcnow()
        state_id, state = new_id("ost"), tokens.new_token()
        verifier = tokens.new_code_verifier() if method.pkce else None
        item = (
            await self.vault.seal(integration.tenant_id, STATE_OWNER_KIND, state_id, verifier.encode())
            if verifier
            else None
        )
        pending = OAuthState(
            id=state_id,
            tenant_id=integration.tenant_id,
            state_digest=tokens.digest(state),
            integration_id=integration.id,
            end_user_id=end_user_id,
            connect_session_id=connect_session_id,
            redirect_uri=redirect_uri or self.redirect_uri(integration),
            return_url=return_url,
            response_mode=response_mode,
            verifier_item_id=item.id if item else None,
            connection_config=config,
            expires_at=now + STATE_TTL,
            created_at=now,
        )
        async with self.db.transaction() as tx:
            if item is not None:
                await tx.vault_items.add(item)
            await tx.oauth_states.add(pending)
        url = oauth2.authorization_url(
            templates.render(method.authorization_url, config, url_component=True),
            client_id=integration.client_id or "",
            redirect_uri=pending.redirect_uri,
            scopes=integration.scopes,
            scope_separator=method.scope_separator,
            state=state,
            code_challenge=tokens.s256_challenge(verifier) if verifier else None,
            extra=method.authorization_params,
        )
        return Started(url, state, pending.expires_at)

    async def find_state(self, state: str | None) -> OAuthState:
        """The pending authorization behind ``state``: unknown, expired and used states are refused."""
        return await self.pending(tokens.digest(state) if state else None, "state")

    async def callback(self, query: Mapping[str, str]) -> Outcome:
        """The browser's redirect back from the provider: never raises a refusal, reports it."""
        try:
            pending = await self.find_state(query.get("state"))
        except SwitchyardError as exc:
            return Outcome(None, error=exc)
        try:
            done = await self.complete(query)
        except SwitchyardError as exc:
            return Outcome(pending, error=exc)
        return Outcome(done.pending, connection=done.connection)

    async def complete(
        self, query: Mapping[str, str], *, tenant_id: str | None = None, redirect_uri: str | None = None
    ) -> Completed:
        """Handle the provider's redirect back. ``tenant_id`` pins the tenant (API completions)."""
        pending = await self.find_state(query.get("state"))
        if tenant_id is not None and pending.tenant_id != tenant_id:
            raise state_error("oauth.state_invalid", "the state is unknown")
        if redirect_uri is not None and redirect_uri != pending.redirect_uri:
            raise InvalidInput(
                "redirect_uri differs from the one the flow started with", code="oauth.redirect_mismatch"
            )
        async with self.db.transaction() as tx:
            integration = await tx.integrations.get_by_id(pending.tenant_id, pending.integration_id)
            if integration is not None and integration.auth_type != "oauth2":
                raise state_error("oauth.state_invalid", "the state is unknown")  # another flow's record
            if not await tx.oauth_states.consume(pending, utcnow()):
                raise state_error("oauth.state_replayed", "the state was already used")
            verifier_items = (
                await tx.vault_items.get_many(pending.tenant_id, [pending.verifier_item_id])
                if pending.verifier_item_id
                else []
            )
        if integration is None:
            raise NotFound("the integration was deleted while connecting", code="integration.not_found")
        try:
            _, code = oauth2.parse_callback(query)
            verifier = None
            if verifier_items:
                accessor = Accessor(f"oauth_state:{pending.id}", "oauth.code_exchange")
                owners = {verifier_items[0].id: (STATE_OWNER_KIND, pending.id)}
                verifier = (await self.vault.open(verifier_items, accessor, owners))[
                    verifier_items[0].id
                ].decode()
            credentials = await self._exchange(integration, pending, code, verifier)
            connection = await self.connections.create(
                integration, pending.end_user_id, credentials, config=pending.connection_config
            )
            if pending.connect_session_id:  # the connect link is spent
                await mark_session_used(self.db, pending.tenant_id, pending.connect_session_id)
        finally:
            await forget_sealed_secret(self.db, self.vault, pending)
        return Completed(connection, pending)

    async def _exchange(
        self, integration: Integration, pending: OAuthState, code: str, verifier: str | None
    ) -> NewCredentials:
        definition = await self.catalog.definition(integration.tenant_id, integration.connector_id)
        method = oauth2_method(definition, integration)
        secret = await self.integrations.client_secret(integration, "oauth.code_exchange")
        client = oauth2.Client(integration.client_id or "", secret, method.token_auth_method)
        request = oauth2.code_exchange(
            templates.render(method.token_url, pending.connection_config, url_component=True),
            client,
            code=code,
            redirect_uri=pending.redirect_uri,
            code_verifier=verifier,
            extra=method.token_params,
        )
        answer = await self.http.send(request)
        token_set = oauth2.parse_token_response(
            answer.status,
            answer.body,
            now=utcnow(),
            requested_scopes=integration.scopes,
            scope_separator=method.scope_separator,
        )
        return NewCredentials(token_set.as_credentials(), token_set.expires_at, token_set.scopes)
