"""What a caller does with connections beyond reading them: connect without a redirect, test, refresh,
disconnect (with revocation at the provider, RFC 7009).

- Direct connections (API keys, basic, app passwords; seed 003's ``direct`` provider) are checked live with
  the definition's verification request first: a refused key is a 422 with the provider's reason, and
  nothing is stored.
- Client-credentials connections get their first token at once.
- Disconnecting revokes the refresh token, then the access token, where the definition has a revocation
  URL. A provider that does not answer leaves the connection ``revoking`` (credentials kept, sealed) and the
  background sweep retries; the answer says ``confirmed``, ``pending`` or ``not_supported``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from switchyard.core.auth import oauth2
from switchyard.core.clock import utcnow
from switchyard.core.errors import InvalidInput, NotFound, SwitchyardError
from switchyard.core.manifest import forms, templates
from switchyard.core.manifest.schema import (
    ApiKey,
    AppPassword,
    Basic,
    Definition,
    OAuth2,
    OAuth2ClientCredentials,
)
from switchyard.core.models import Connection, ConnectSession, Integration, Principal
from switchyard.core.scopes import Scope
from switchyard.io_ports import HttpSender
from switchyard.logs import get_logger
from switchyard.ports import Database
from switchyard.services.authz import require
from switchyard.services.catalog import CatalogService
from switchyard.services.connect import invalid_session, mark_session_used, used_session
from switchyard.services.connections import ConnectionsService, NewCredentials
from switchyard.services.integrations import IntegrationsService
from switchyard.services.nango_provider import NangoProvider
from switchyard.services.refresh import Refresher
from switchyard.services.vault import Accessor
from switchyard.services.verify import Verdict, Verifier

log = get_logger("switchyard.connections")
DIRECT_METHODS = (ApiKey, Basic, AppPassword)


@dataclass(frozen=True)
class Disconnected:
    connection_id: str
    revocation_time: datetime
    service_revocation_status: str  # "confirmed" | "pending" | "not_supported"


class ConnectionActions:
    def __init__(
        self,
        db: Database,
        catalog: CatalogService,
        integrations: IntegrationsService,
        connections: ConnectionsService,
        refresher: Refresher,
        verifier: Verifier,
        http: HttpSender,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.integrations = integrations
        self.connections = connections
        self.refresher = refresher
        self.verifier = verifier
        self.http = http

    async def connect(
        self,
        principal: Principal,
        integration_key: str,
        end_user_id: str,
        *,
        credentials: Mapping[str, Any] | None = None,
        connection_config: Mapping[str, Any] | None = None,
    ) -> Connection:
        """Create a connection without a redirect: typed-in credentials, or the client-credentials grant."""
        require(principal, Scope.CONNECTIONS_WRITE)
        integration = await self.integrations.get(principal, integration_key, scope=Scope.CONNECTIONS_WRITE)
        async with self.db.transaction(write=False) as tx:
            end_user = await tx.end_users.get(principal.tenant_id, end_user_id)
        if end_user is None:
            raise NotFound(f"no end user {end_user_id!r}", code="end_user.not_found")
        definition = await self.catalog.definition(principal.tenant_id, integration.connector_id)
        config = forms.check(definition.connection_config, connection_config or {}, what="connection config")
        method = definition.method(integration.auth_type)
        if integration.auth_provider == "nango":
            return await self._nango().import_connection(integration, end_user.id, credentials or {}, config)
        if isinstance(method, DIRECT_METHODS):
            entered = forms.check(method.credentials, credentials or {}, what="credentials")
            verdict = await self._verify(definition, method, entered, config)
            new = NewCredentials(entered, account_id=verdict.account_id)
        elif isinstance(method, OAuth2ClientCredentials):
            new = await self._client_credentials(integration, method, config)
        else:
            raise InvalidInput(
                f"{integration.key!r} connects through the OAuth redirect; start it with /api/v1/oauth/authorize",
                code="connection.needs_redirect",
            )
        return await self.connections.create(integration, end_user.id, new, config=config)

    async def connect_with_session(
        self,
        session: ConnectSession,
        integration_key: str,
        *,
        credentials: Mapping[str, Any] | None = None,
        connection_config: Mapping[str, Any] | None = None,
    ) -> Connection:
        """The hosted connect page's form: connect the session's end user, then spend the session."""
        if session.used_at is not None:
            raise used_session()
        if session.allowed_integrations and integration_key not in session.allowed_integrations:
            raise InvalidInput(
                f"this connect link does not allow {integration_key!r}",
                code="connect_session.integration_not_allowed",
                extra={"allowed": list(session.allowed_integrations)},
            )
        async with self.db.transaction(write=False) as tx:
            end_user = await tx.end_users.get_by_id(session.tenant_id, session.end_user_id)
        if end_user is None:
            raise invalid_session()
        principal = Principal(
            session.tenant_id,
            actor=f"connect_session:{session.id}",
            scopes=frozenset({Scope.CONNECTIONS_WRITE, Scope.INTEGRATIONS_READ}),
        )
        connection = await self.connect(
            principal,
            integration_key,
            end_user.external_id,
            credentials=credentials,
            connection_config=connection_config,
        )
        await mark_session_used(self.db, session.tenant_id, session.id)
        return connection

    async def _verify(
        self,
        definition: Definition,
        method: ApiKey | Basic | AppPassword,
        entered: dict[str, Any],
        config: dict[str, Any],
    ) -> Verdict:
        if definition.verification is None:
            return Verdict(True)  # nothing to check against (databases, mail servers)
        verdict = await self.verifier.check(definition, method.inject, entered, config)
        if not verdict.success:
            raise InvalidInput(
                verdict.error or "the provider refused the credentials",
                code="connection.verification_failed",
                remediation="Check the credentials with the provider and enter them again.",
                extra={"provider_status": verdict.status},
            )
        return verdict

    async def _client_credentials(
        self, integration: Integration, method: OAuth2ClientCredentials, config: dict[str, Any]
    ) -> NewCredentials:
        secret = await self.integrations.client_secret(integration, "oauth.client_credentials")
        client = oauth2.Client(integration.client_id or "", secret, method.token_auth_method)
        request = oauth2.client_credentials(
            templates.render(method.token_url, config, url_component=True),
            client,
            scopes=integration.scopes,
            scope_separator=method.scope_separator,
            extra=method.token_params,
        )
        answer = await self.http.send(request)
        token_set = oauth2.parse_token_response(
            answer.status, answer.body, now=utcnow(), requested_scopes=integration.scopes,
            scope_separator=method.scope_separator,
        )  # fmt: skip
        return NewCredentials(token_set.as_credentials(), token_set.expires_at, token_set.scopes)

    async def test(self, principal: Principal, connection_id: str) -> Verdict:
        """Seed 001's test connection: the verification request with the (refreshed) credentials."""
        connection = await self.connections.get(principal, connection_id)
        definition = await self.catalog.definition(principal.tenant_id, connection.connector_id)
        method = definition.method(connection.auth_type)
        accessor = Accessor(f"connection:{connection.id}", "connections.test")
        try:
            connection, values = await self.refresher.credentials(connection, accessor)
        except SwitchyardError as exc:
            return Verdict(False, error=exc.detail, code=exc.code)
        rule = getattr(method, "inject", None)
        verdict = await self.verifier.check(definition, rule, values, connection.config)
        if verdict.success and verdict.account_id and verdict.account_id != connection.account_id:
            async with self.db.transaction() as tx:
                await tx.connections.update(
                    replace(connection, account_id=verdict.account_id, updated_at=utcnow())
                )
        return verdict

    async def refresh(self, principal: Principal, connection_id: str) -> Connection:
        require(principal, Scope.CONNECTIONS_WRITE)
        connection = await self.connections.get(principal, connection_id)
        refreshed = await self.refresher.refresh(principal.tenant_id, connection.id, force=True)
        assert refreshed is not None  # a waiting refresh always gets the lock
        return refreshed

    async def disconnect(self, principal: Principal, connection_id: str) -> Disconnected:
        require(principal, Scope.CONNECTIONS_WRITE)
        connection = await self.connections.get(principal, connection_id)
        return await self._revoke_and_remove(connection)

    async def sync_nango(
        self, principal: Principal, integration_key: str, end_user_id: str
    ) -> list[Connection]:
        """Import the end user's connections made in Nango's Connect UI since the last sync."""
        require(principal, Scope.CONNECTIONS_WRITE)
        integration = await self.integrations.get(principal, integration_key, scope=Scope.CONNECTIONS_WRITE)
        if integration.auth_provider != "nango":
            raise InvalidInput(f"{integration_key!r} does not use Nango", code="integration.not_nango")
        async with self.db.transaction(write=False) as tx:
            end_user = await tx.end_users.get(principal.tenant_id, end_user_id)
        if end_user is None:
            raise NotFound(f"no end user {end_user_id!r}", code="end_user.not_found")
        return await self._nango().sync(integration, end_user)

    async def nango_link(self, integration: Integration, end_user_row_id: str) -> str:
        """Nango's Connect UI link for a connect session's end user."""
        async with self.db.transaction(write=False) as tx:
            end_user = await tx.end_users.get_by_id(integration.tenant_id, end_user_row_id)
        if end_user is None:
            raise NotFound("the session's end user was deleted", code="end_user.not_found")
        return await self._nango().start(integration, end_user)

    def _nango(self) -> NangoProvider:
        if self.refresher.nango is None:
            raise InvalidInput("Nango is not configured here", code="integration.nango_not_configured")
        return self.refresher.nango

    async def _revoke_and_remove(self, connection: Connection) -> Disconnected:
        now = utcnow()
        if connection.auth_provider == "nango":
            await self._nango().delete(connection)  # Nango revokes at the provider as it sees fit
            await self.connections.remove(connection)
            return Disconnected(connection.id, now, "confirmed")
        definition = await self.catalog.definition(connection.tenant_id, connection.connector_id)
        method = definition.method(connection.auth_type)
        if not isinstance(method, OAuth2) or not method.revocation_url:
            await self.connections.remove(connection)
            return Disconnected(connection.id, now, "not_supported")
        try:
            await self._revoke(connection, method)
        except SwitchyardError as exc:
            log.warning("revocation.pending", connection_id=connection.id, code=exc.code)
            pending = replace(
                connection,
                status="revoking",
                error_code=exc.code,
                error_detail=exc.detail,
                remediation="Revocation at the provider is retried automatically.",
                updated_at=now,
            )
            async with self.db.transaction() as tx:
                await tx.connections.update(pending)
            self.connections.status_changed(pending)
            return Disconnected(connection.id, now, "pending")
        await self.connections.remove(connection)
        return Disconnected(connection.id, now, "confirmed")

    async def _revoke(self, connection: Connection, method: OAuth2) -> None:
        async with self.db.transaction(write=False) as tx:
            integration = await tx.integrations.get_by_id(connection.tenant_id, connection.integration_id)
        if integration is None or method.revocation_url is None:
            raise NotFound("the connection's integration was deleted", code="integration.not_found")
        values = await self.connections.open_credentials(
            connection, Accessor(f"connection:{connection.id}", "oauth.revoke")
        )
        secret = await self.integrations.client_secret(integration, "oauth.revoke")
        client = oauth2.Client(integration.client_id or "", secret, method.token_auth_method)
        url = templates.render(method.revocation_url, connection.config, url_component=True)
        for hint in (
            "refresh_token",
            "access_token",
        ):  # the refresh token first: it outlives the access token
            token = values.get(hint)
            if not token:
                continue
            answer = await self.http.send(oauth2.revocation(url, client, token=token, token_type_hint=hint))
            # RFC 7009 2.2: 200 for a revoked or an unknown token alike.
            if answer.status != 200:
                raise SwitchyardError(
                    f"the provider refused the revocation with status {answer.status}",
                    code="oauth.revocation_failed",
                )

    async def retry_revocations(self, *, limit: int = 100) -> int:
        """Background: retry connections left ``revoking``; returns how many were confirmed."""
        async with self.db.transaction(write=False) as tx:
            pending = await tx.connections.revoking(limit=limit)
        confirmed = 0
        for connection in pending:
            outcome = await self._revoke_and_remove(connection)
            confirmed += outcome.service_revocation_status == "confirmed"
        return confirmed
