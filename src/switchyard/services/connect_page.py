"""What the hosted connect page offers a connect session's end user, and how its form becomes typed values.

``offer`` reads the session's integrations (all of the tenant's when the session names none) with the form
fields each one asks: the connector's connection config, plus the method's credentials unless the method is
a redirect to the provider (OAuth 2.0 authorization code, OAuth 1.0a, or Nango's own Connect UI).
``read_form`` turns the strings a browser posts into the fields' types; ``forms.check`` then judges them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from switchyard.core.errors import SwitchyardError
from switchyard.core.manifest.schema import FormField, OAuth1, OAuth2
from switchyard.core.models import ConnectSession, Integration
from switchyard.ports import Database
from switchyard.services.catalog import CatalogService

CONFIG_PREFIX = "config."
CREDENTIALS_PREFIX = "credentials."
_TRUE = frozenset({"true", "on", "1", "yes"})


@dataclass(frozen=True)
class Field:
    """One input of the connect form; ``input_name`` is what the browser sends (``config.region``)."""

    name: str
    input_name: str
    spec: FormField

    @property
    def label(self) -> str:
        return self.spec.title or self.name


@dataclass(frozen=True)
class Offered:
    key: str
    connector_id: str
    display_name: str
    description: str
    icon: str | None
    auth_type: str
    redirect: bool  # the provider's own sign-in page, reached through /oauth/authorize
    popup: bool  # the redirect can run in a popup that reports back (not Nango's Connect UI)
    config_fields: tuple[Field, ...]
    credential_fields: tuple[Field, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.config_fields + self.credential_fields


def _fields(prefix: str, specs: Mapping[str, FormField]) -> tuple[Field, ...]:
    return tuple(Field(name, prefix + name, spec) for name, spec in specs.items())


async def _describe(catalog: CatalogService, integration: Integration) -> Offered:
    definition = await catalog.definition(integration.tenant_id, integration.connector_id)
    method = definition.method(integration.auth_type)
    nango = integration.auth_provider == "nango"
    redirect = nango or isinstance(method, OAuth2 | OAuth1)
    credentials = getattr(method, "credentials", None) if not redirect else None
    return Offered(
        key=integration.key,
        connector_id=integration.connector_id,
        display_name=definition.display_name,
        description=definition.description,
        icon=definition.icon,
        auth_type=integration.auth_type,
        redirect=redirect,
        popup=redirect and not nango,
        config_fields=() if nango else _fields(CONFIG_PREFIX, definition.connection_config),
        credential_fields=_fields(CREDENTIALS_PREFIX, credentials or {}),
    )


async def offer(db: Database, catalog: CatalogService, session: ConnectSession) -> list[Offered]:
    """The session's integrations in the session's order; one whose connector is gone is left out."""
    async with db.transaction(write=False) as tx:
        if session.allowed_integrations:
            found = [await tx.integrations.get(session.tenant_id, k) for k in session.allowed_integrations]
            integrations = [i for i in found if i is not None]
        else:
            integrations = sorted(await tx.integrations.all(session.tenant_id), key=lambda i: i.key)
    offered: list[Offered] = []
    for integration in integrations:
        try:
            offered.append(await _describe(catalog, integration))
        except SwitchyardError:
            continue  # a deleted or broken definition: the others can still be connected
    return offered


def _typed(field: Field, raw: str | None) -> Any:
    spec = field.spec
    if spec.type == "boolean":
        return raw is not None and raw.strip().lower() in _TRUE
    if raw is None:
        return None
    value = raw if spec.secret else raw.strip()
    if value == "":
        return None
    try:
        if spec.type == "integer":
            return int(value)
        if spec.type == "number":
            return float(value)
    except ValueError:
        return value  # left as typed: forms.check names the field and the type it wants
    return value


def _read(fields: tuple[Field, ...], form: Mapping[str, str]) -> dict[str, Any]:
    read = {field.name: _typed(field, form.get(field.input_name)) for field in fields}
    return {name: value for name, value in read.items() if value is not None}


def read_form(offered: Offered, form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(credentials, connection_config)`` from the posted form; only the offered fields are read."""
    return _read(offered.credential_fields, form), _read(offered.config_fields, form)


def read_config(specs: Mapping[str, FormField], form: Mapping[str, str]) -> dict[str, Any]:
    """The connection config in a form or query (``config.<name>``), typed as the connector declares."""
    return _read(_fields(CONFIG_PREFIX, specs), form)
