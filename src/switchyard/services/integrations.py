"""Integrations: a tenant's configuration of a connector (seed 003's builtin / direct / nango providers).

An integration names the connector, the auth provider and method, and for OAuth the client id and secret.
The secret is sealed in the vault (owner ``integration``) or given as a reference to a named secret; it is
only ever shown masked. A tenant may have several integrations of one connector (two GitHub apps).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from switchyard.core.clock import utcnow
from switchyard.core.errors import Conflict, InvalidInput, NotFound
from switchyard.core.ids import new_id
from switchyard.core.manifest.schema import Definition
from switchyard.core.masking import mask
from switchyard.core.models import Integration, Principal, VaultItem
from switchyard.core.scopes import Scope
from switchyard.core.secrets import check_name, check_value
from switchyard.ports import Database
from switchyard.services.authz import require
from switchyard.services.catalog import CatalogService
from switchyard.services.secrets import SecretsService
from switchyard.services.vault import Accessor, Vault

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
OWNER_KIND = "integration"
PROVIDERS = ("builtin", "direct", "nango")
NEEDS_CLIENT = frozenset({"oauth2", "oauth2_client_credentials", "oauth1"})
DIRECT_TYPES = frozenset({"api_key", "basic", "app_password"})


@dataclass(frozen=True)
class IntegrationSpec:
    """What a caller asks for; ``fields`` names what a partial update sets."""

    fields: frozenset[str]
    key: str | None = None
    connector_id: str | None = None
    auth_provider: str | None = None
    auth_type: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_secret_ref: str | None = None
    scopes: Sequence[str] | None = None
    redirect_url: str | None = None


def not_found(key: str) -> NotFound:
    return NotFound(f"no integration {key!r}", code="integration.not_found")


class IntegrationsService:
    def __init__(
        self,
        db: Database,
        vault: Vault,
        catalog: CatalogService,
        secrets: SecretsService,
        *,
        nango_enabled: bool,
    ) -> None:
        self.db = db
        self.vault = vault
        self.catalog = catalog
        self.secrets = secrets
        self.nango_enabled = nango_enabled

    async def create(self, principal: Principal, spec: IntegrationSpec) -> Integration:
        require(principal, Scope.INTEGRATIONS_WRITE)
        key = spec.key or ""
        if not KEY_PATTERN.fullmatch(key):
            raise InvalidInput(
                f"invalid integration key {key[:80]!r}",
                code="integration.invalid_key",
                remediation="Use 1-63 lowercase letters, digits and '-', e.g. github-prod.",
            )
        if not spec.connector_id:
            raise InvalidInput("an integration needs a connector_id", code="integration.invalid")
        definition = await self.catalog.definition(principal.tenant_id, spec.connector_id)
        now = utcnow()
        draft = Integration(
            id=new_id("int"),
            tenant_id=principal.tenant_id,
            key=key,
            connector_id=definition.name,
            auth_provider=spec.auth_provider or "builtin",
            auth_type=spec.auth_type or definition.auth_types()[0],
            client_id=spec.client_id,
            client_secret_item_id=None,
            client_secret_ref=spec.client_secret_ref,
            client_secret_masked=None,
            scopes=tuple(spec.scopes)
            if spec.scopes is not None
            else _default_scopes(definition, spec.auth_type),
            redirect_url=spec.redirect_url,
            created_at=now,
            updated_at=now,
        )
        async with self.db.transaction(write=False) as tx:
            if await tx.integrations.get(principal.tenant_id, key) is not None:
                raise _exists(key)
        await self._check_reference(draft)
        self._check(draft, definition, secret_given=spec.client_secret is not None)
        item = await self._seal_secret(draft, spec.client_secret)
        integration = _with_secret(draft, item, spec.client_secret)
        try:
            async with self.db.transaction() as tx:
                if item is not None:
                    await tx.vault_items.add(item)
                await tx.integrations.add(integration)
        except Conflict:
            if item is not None:
                await self.vault.destroy([item])
            raise _exists(key) from None
        return integration

    async def update(self, principal: Principal, key: str, spec: IntegrationSpec) -> Integration:
        require(principal, Scope.INTEGRATIONS_WRITE)
        current = await self.get(principal, key, scope=Scope.INTEGRATIONS_WRITE)
        if spec.fields & {"key", "connector_id"}:
            raise InvalidInput(
                "an integration's key and connector cannot change", code="integration.immutable"
            )
        definition = await self.catalog.definition(principal.tenant_id, current.connector_id)
        changes = {
            name: getattr(spec, name) for name in spec.fields if name not in {"client_secret", "scopes"}
        }
        if "scopes" in spec.fields:
            changes["scopes"] = tuple(spec.scopes or ())
        updated = replace(current, **changes, updated_at=utcnow())
        new_secret = spec.client_secret if "client_secret" in spec.fields else None
        if new_secret is not None:
            updated = replace(updated, client_secret_ref=None)
        elif "client_secret_ref" in spec.fields and spec.client_secret_ref:
            updated = replace(updated, client_secret_item_id=None, client_secret_masked=None)
        self._check(updated, definition, secret_given=new_secret is not None)
        await self._check_reference(updated)
        item = await self._seal_secret(updated, new_secret)
        updated = _with_secret(updated, item, new_secret)
        old_items: list[VaultItem] = []
        async with self.db.transaction() as tx:
            if (
                current.client_secret_item_id
                and current.client_secret_item_id != updated.client_secret_item_id
            ):
                old_items = await tx.vault_items.get_many(
                    principal.tenant_id, [current.client_secret_item_id]
                )
                await tx.vault_items.delete(principal.tenant_id, [current.client_secret_item_id])
            if item is not None:
                await tx.vault_items.add(item)
            await tx.integrations.update(updated)
        await self.vault.destroy(old_items)
        return updated

    async def get(
        self, principal: Principal, key: str, *, scope: Scope = Scope.INTEGRATIONS_READ
    ) -> Integration:
        require(principal, scope)
        async with self.db.transaction(write=False) as tx:
            integration = await tx.integrations.get(principal.tenant_id, key)
        if integration is None:
            raise not_found(key)
        return integration

    async def list_integrations(
        self, principal: Principal, *, connector_id: str | None = None
    ) -> list[Integration]:
        require(principal, Scope.INTEGRATIONS_READ)
        async with self.db.transaction(write=False) as tx:
            return await tx.integrations.all(principal.tenant_id, connector_id=connector_id)

    async def delete(self, principal: Principal, key: str) -> None:
        require(principal, Scope.INTEGRATIONS_WRITE)
        async with self.db.transaction() as tx:
            integration = await tx.integrations.get(principal.tenant_id, key)
            if integration is None:
                raise not_found(key)
            items = []
            if integration.client_secret_item_id:
                items = await tx.vault_items.get_many(
                    principal.tenant_id, [integration.client_secret_item_id]
                )
                await tx.vault_items.delete(principal.tenant_id, [integration.client_secret_item_id])
            await tx.integrations.delete(principal.tenant_id, key)
        await self.vault.destroy(items)

    async def client_secret(self, integration: Integration, purpose: str) -> str | None:
        """The plaintext client secret for one OAuth call; audited as ``integration:<id>``."""
        accessor = Accessor(f"integration:{integration.id}", purpose)
        if integration.client_secret_ref:
            resolved = await self.secrets.resolve(
                integration.tenant_id,
                {"v": {"secret_name": integration.client_secret_ref}},
                accessor=accessor,
            )
            return str(resolved["v"])
        if integration.client_secret_item_id:
            async with self.db.transaction(write=False) as tx:
                items = await tx.vault_items.get_many(
                    integration.tenant_id, [integration.client_secret_item_id]
                )
            owners = {integration.client_secret_item_id: (OWNER_KIND, integration.id)}
            opened = await self.vault.open(items, accessor, owners)
            return opened[integration.client_secret_item_id].decode("utf-8")
        return None

    async def _check_reference(self, integration: Integration) -> None:
        """A referenced secret must exist now, not only when the first end user connects."""
        if not integration.client_secret_ref:
            return
        check_name(integration.client_secret_ref)
        async with self.db.transaction(write=False) as tx:
            found = await tx.secrets.get(integration.tenant_id, integration.client_secret_ref)
        if found is None:
            raise InvalidInput(
                f"no secret named {integration.client_secret_ref!r}",
                code="integration.secret_not_found",
                remediation="Create the secret first (POST /api/v1/secrets), then refer to it.",
            )

    async def _seal_secret(self, integration: Integration, secret: str | None) -> VaultItem | None:
        if secret is None:
            return None
        raw = check_value(secret)
        return await self.vault.seal(integration.tenant_id, OWNER_KIND, integration.id, raw)

    def _check(self, integration: Integration, definition: Definition, *, secret_given: bool) -> None:
        """Every rule an integration must meet, checked before anything is sealed or stored."""
        if integration.auth_provider not in PROVIDERS:
            raise InvalidInput(
                f"unknown auth provider {integration.auth_provider!r}",
                code="integration.invalid_provider",
                remediation=f"Use one of: {', '.join(PROVIDERS)}.",
            )
        if integration.auth_provider == "nango" and not self.nango_enabled:
            raise InvalidInput(
                "the nango provider needs SWITCHYARD_NANGO_URL and SWITCHYARD_NANGO_SECRET_KEY",
                code="integration.nango_not_configured",
            )
        if definition.method(integration.auth_type) is None:
            raise InvalidInput(
                f"{definition.name} does not support {integration.auth_type!r}",
                code="integration.unsupported_auth_type",
                remediation=f"Use one of: {', '.join(definition.auth_types())}.",
            )
        if integration.auth_provider == "direct" and integration.auth_type not in DIRECT_TYPES:
            raise InvalidInput(
                "the direct provider handles API keys, basic auth and app passwords only",
                code="integration.invalid_provider",
            )
        has_client = bool(
            integration.client_id
            and (secret_given or integration.client_secret_item_id or integration.client_secret_ref)
        )
        if (
            integration.auth_provider == "builtin"
            and integration.auth_type in NEEDS_CLIENT
            and not has_client
        ):
            raise InvalidInput(
                f"{integration.auth_type} needs client_id and client_secret (or client_secret_ref)",
                code="integration.missing_client",
                remediation="Register an OAuth app with the provider and paste its client id and secret.",
            )
        if integration.client_secret_ref:
            check_name(integration.client_secret_ref)


def _default_scopes(definition: Definition, auth_type: str | None) -> tuple[str, ...]:
    method = definition.method(auth_type) if auth_type else definition.authentication_methods[0]
    return tuple(getattr(method, "default_scopes", ()) or ())


def _with_secret(integration: Integration, item: VaultItem | None, secret: str | None) -> Integration:
    if item is None or secret is None:
        return integration
    return replace(
        integration, client_secret_item_id=item.id, client_secret_masked=mask(secret, "oauth_client_secret")
    )


def _exists(key: str) -> Conflict:
    return Conflict(f"an integration {key!r} already exists", code="integration.exists")
