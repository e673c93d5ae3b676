"""Request and response bodies for connectors and integrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from switchyard.api.schemas import Body
from switchyard.core.models import Integration
from switchyard.services.catalog import CatalogEntry


class ConnectorSummary(BaseModel):
    """Seed 002's registry entry, with what a marketplace page needs."""

    connector_id: str
    service_type: str
    capabilities: list[str]
    authentication_methods: list[str]
    version: str
    display_name: str
    description: str
    categories: list[str]
    logo: str | None
    docs_url: str | None
    source: str = Field(
        description="builtin; tenant for a definition this tenant added or overrode; package for an uploaded one"
    )

    @classmethod
    def of(cls, entry: CatalogEntry) -> ConnectorSummary:
        d = entry.definition
        return cls(
            connector_id=d.name,
            service_type=d.service_type,
            capabilities=list(d.capabilities),
            authentication_methods=d.auth_types(),
            version=d.version,
            display_name=d.display_name,
            description=d.description,
            categories=[str(c) for c in d.categories],
            logo=d.icon,
            docs_url=d.docs_url,
            source=entry.source,
        )


class ConnectorList(BaseModel):
    connectors: list[ConnectorSummary]


class ConnectorDetail(ConnectorSummary):
    overrides_builtin: bool
    definition: dict[str, Any] = Field(description="The whole definition, as authors write it (camelCase).")

    @classmethod
    def of(cls, entry: CatalogEntry) -> ConnectorDetail:
        summary = ConnectorSummary.of(entry).model_dump()
        definition = entry.definition.model_dump(mode="json", by_alias=True, exclude_none=True)
        return cls(**summary, overrides_builtin=entry.overrides_builtin, definition=definition)


class SecretRefIn(Body):
    secret_name: str


class IntegrationIn(Body):
    key: str = Field(description="Unique per tenant, e.g. github-prod.")
    connector_id: str
    auth_provider: Literal["builtin", "direct", "nango"] = "builtin"
    auth_type: str | None = Field(default=None, description="Default: the connector's first method.")
    client_id: str | None = Field(default=None, max_length=512)
    client_secret: str | SecretRefIn | None = Field(
        default=None, description='The secret itself (sealed in the vault) or {"secret_name": ...}.'
    )
    scopes: list[str] | None = Field(default=None, description="Default: the connector's default scopes.")
    redirect_url: str | None = Field(default=None, max_length=2048)


class IntegrationPatch(Body):
    auth_provider: Literal["builtin", "direct", "nango"] | None = None
    auth_type: str | None = None
    client_id: str | None = Field(default=None, max_length=512)
    client_secret: str | SecretRefIn | None = None
    scopes: list[str] | None = None
    redirect_url: str | None = Field(default=None, max_length=2048)


class IntegrationOut(BaseModel):
    id: str
    key: str
    connector_id: str
    auth_provider: str
    auth_type: str
    client_id: str | None
    client_secret: str | None = Field(description="Masked; or null when a secret reference is used.")
    client_secret_ref: dict[str, str] | None
    scopes: list[str]
    redirect_url: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, i: Integration) -> IntegrationOut:
        return cls(
            id=i.id,
            key=i.key,
            connector_id=i.connector_id,
            auth_provider=i.auth_provider,
            auth_type=i.auth_type,
            client_id=i.client_id,
            client_secret=i.client_secret_masked,
            client_secret_ref={"secret_name": i.client_secret_ref} if i.client_secret_ref else None,
            scopes=list(i.scopes),
            redirect_url=i.redirect_url,
            created_at=i.created_at,
            updated_at=i.updated_at,
        )


class IntegrationList(BaseModel):
    integrations: list[IntegrationOut]
