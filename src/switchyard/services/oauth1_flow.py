"""The OAuth 1.0a three-legged flow (RFC 5849 section 2), HMAC-SHA1.

``start`` fetches temporary credentials signed with the integration's client id and secret (the consumer
key and secret), seals the temporary secret in the vault (owner ``oauth1_request``, the pending id) and
keeps a pending record in ``oauth_states``: the digest of the temporary token stands where OAuth 2.0 keeps
the digest of its state, and ``verifier_item_id`` names the sealed secret. The record is bound to the
tenant, the end user and the integration, lives 10 minutes and is used once.

``complete`` takes the redirect back (``oauth_token``, ``oauth_verifier``): it checks and consumes the
record, exchanges the temporary credentials for token credentials, stores them sealed as a new connection
(``{"oauth_token", "oauth_token_secret"}``, no expiry) and forgets the temporary secret. Refusals carry the
codes of ``oauth_flow`` and store nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.core.auth import oauth1, tokens
from switchyard.core.clock import utcnow
from switchyard.core.errors import InvalidInput, NotFound, SwitchyardError
from switchyard.core.ids import new_id
from switchyard.core.manifest import forms, templates
from switchyard.core.manifest.schema import Definition, OAuth1
from switchyard.core.models import Integration, OAuthState
from switchyard.services.connect import mark_session_used
from switchyard.services.connections import NewCredentials
from switchyard.services.oauth_flow import (
    RESPONSE_MODES,
    STATE_TTL,
    Completed,
    Outcome,
    RedirectFlow,
    Started,
    forget_sealed_secret,
    state_error,
)
from switchyard.services.vault import Accessor

REQUEST_OWNER_KIND = "oauth1_request"
DIGEST_PREFIX = "oauth1:"  # keeps temporary tokens and OAuth 2.0 states apart in the one table


def pending_digest(oauth_token: str) -> str:
    return tokens.digest(DIGEST_PREFIX + oauth_token)


def oauth1_method(definition: Definition, integration: Integration) -> OAuth1:
    method = definition.method(integration.auth_type)
    if not isinstance(method, OAuth1):
        raise InvalidInput(
            f"integration {integration.key!r} does not use OAuth 1.0a", code="integration.not_oauth1"
        )
    return method


class OAuth1Flow(RedirectFlow):
    def callback_uri(self, integration: Integration) -> str:
        return integration.redirect_url or self.callback_url

    async def _consumer(self, integration: Integration, purpose: str) -> tuple[str, str]:
        secret = await self.integrations.client_secret(integration, purpose)
        return integration.client_id or "", secret or ""

    async def start(
        self,
        integration: Integration,
        end_user_id: str,
        *,
        connection_config: Mapping[str, Any] | None = None,
        connect_session_id: str | None = None,
        return_url: str | None = None,
        response_mode: str = "redirect",
    ) -> Started:
        """Fetch temporary credentials and return where to send the end user; ``state`` is the token."""
        if response_mode not in RESPONSE_MODES:
            raise InvalidInput(f"unknown response mode {response_mode!r}", code="oauth.invalid_response_mode")
        definition = await self.catalog.definition(integration.tenant_id, integration.connector_id)
        method = oauth1_method(definition, integration)
        config = forms.check(definition.connection_config, connection_config or {}, what="connection config")
        callback = self.callback_uri(integration)
        key, secret = await self._consumer(integration, "oauth1.request_token")
        request = oauth1.request_token(
            templates.render(method.request_token_url, config, url_component=True), key, secret, callback
        )
        answer = await self.http.send(request)
        temporary = oauth1.parse_token_response(answer.status, answer.body, callback_confirmed=True)
        now = utcnow()
        pending_id = new_id("ost")
        item = await self.vault.seal(
            integration.tenant_id, REQUEST_OWNER_KIND, pending_id, temporary.oauth_token_secret.encode()
        )
        pending = OAuthState(
            id=pending_id,
            tenant_id=integration.tenant_id,
            state_digest=pending_digest(temporary.oauth_token),
            integration_id=integration.id,
            end_user_id=end_user_id,
            connect_session_id=connect_session_id,
            redirect_uri=callback,
            return_url=return_url,
            response_mode=response_mode,
            verifier_item_id=item.id,
            connection_config=config,
            expires_at=now + STATE_TTL,
            created_at=now,
        )
        try:
            async with self.db.transaction() as tx:
                await tx.vault_items.add(item)
                await tx.oauth_states.add(pending)
        except BaseException:
            await self.vault.destroy([item])
            raise
        url = oauth1.authorization_url(
            templates.render(method.authorization_url, config, url_component=True),
            temporary.oauth_token,
            method.authorization_params,
        )
        return Started(url, temporary.oauth_token, pending.expires_at)

    async def find_pending(self, oauth_token: str | None) -> OAuthState:
        """The pending authorization behind a temporary token: unknown, used and expired ones are refused."""
        found = await self.pending(pending_digest(oauth_token) if oauth_token else None, "oauth_token")
        if found.verifier_item_id is None:  # every OAuth 1.0a record seals its request secret
            raise state_error("oauth.state_invalid", "the oauth_token is unknown")
        return found

    async def callback(self, query: Mapping[str, str]) -> Outcome:
        """The browser's redirect back from the provider: never raises a refusal, reports it."""
        token = oauth1.callback_token(query)
        try:  # a refusal that names no token (Authlib's servers) has no pending record to report with
            pending = None if token is None and "error" in query else await self.find_pending(token)
        except SwitchyardError as exc:
            return Outcome(None, error=exc)
        try:
            done = await self.complete(query)
        except SwitchyardError as exc:
            return Outcome(pending, error=exc)
        return Outcome(done.pending, connection=done.connection)

    async def complete(self, query: Mapping[str, str], *, tenant_id: str | None = None) -> Completed:
        """Handle the redirect back. ``tenant_id`` pins the tenant (API completions)."""
        token = oauth1.callback_token(query)
        if token is None and "error" in query:
            oauth1.parse_callback(query)  # raises the provider's error, e.g. oauth.access_denied
        pending = await self.find_pending(token)
        if tenant_id is not None and pending.tenant_id != tenant_id:
            raise state_error("oauth.state_invalid", "the oauth_token is unknown")
        async with self.db.transaction() as tx:
            integration = await tx.integrations.get_by_id(pending.tenant_id, pending.integration_id)
            if integration is not None and integration.auth_type != "oauth1":
                raise state_error("oauth.state_invalid", "the oauth_token is unknown")
            if not await tx.oauth_states.consume(pending, utcnow()):
                raise state_error("oauth.state_replayed", "the oauth_token was already used")
            items = await tx.vault_items.get_many(pending.tenant_id, [pending.verifier_item_id or ""])
        try:
            if integration is None:
                raise NotFound("the integration was deleted while connecting", code="integration.not_found")
            oauth_token, verifier = oauth1.parse_callback(query)
            accessor = Accessor(f"oauth_state:{pending.id}", "oauth1.access_token")
            owners = {item.id: (REQUEST_OWNER_KIND, pending.id) for item in items}
            opened = await self.vault.open(items, accessor, owners)
            if not opened:
                raise state_error("oauth.state_invalid", "the temporary credentials are gone")
            credentials = await self._exchange(
                integration, pending, oauth_token, next(iter(opened.values())).decode(), verifier
            )
            connection = await self.connections.create(
                integration, pending.end_user_id, credentials, config=pending.connection_config
            )
            if pending.connect_session_id:  # the connect link is spent
                await mark_session_used(self.db, pending.tenant_id, pending.connect_session_id)
        finally:
            await forget_sealed_secret(self.db, self.vault, pending)
        return Completed(connection, pending)

    async def _exchange(
        self, integration: Integration, pending: OAuthState, token: str, token_secret: str, verifier: str
    ) -> NewCredentials:
        definition = await self.catalog.definition(integration.tenant_id, integration.connector_id)
        method = oauth1_method(definition, integration)
        key, secret = await self._consumer(integration, "oauth1.access_token")
        request = oauth1.access_token(
            templates.render(method.access_token_url, pending.connection_config, url_component=True),
            key,
            secret,
            token,
            token_secret,
            verifier,
        )
        answer = await self.http.send(request)
        granted = oauth1.parse_token_response(answer.status, answer.body)
        values: dict[str, Any] = {
            "oauth_token": granted.oauth_token,
            "oauth_token_secret": granted.oauth_token_secret,
        }
        if granted.extra:
            values["extra"] = granted.extra
        account = granted.extra.get("user_id")
        return NewCredentials(values, None, (), account_id=account)
