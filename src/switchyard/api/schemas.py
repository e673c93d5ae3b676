"""Request and response bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from switchyard.core.models import AccessRecord, ApiKey, Connection, Integration
from switchyard.core.secrets import SecretType
from switchyard.services.apikeys import NewKey
from switchyard.services.catalog import CatalogEntry
from switchyard.services.secrets import SecretView


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response body read straight from a core record's attributes."""

    model_config = ConfigDict(from_attributes=True)


class TenantOut(Out):
    id: str
    name: str
    created_at: datetime


class EndUserIn(Body):
    external_id: str = Field(min_length=1, max_length=255, description="Your id for this user.")
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=255)
    tags: list[str] = Field(default_factory=list)


class EndUserPatch(Body):
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=255)
    tags: list[str] | None = None


class EndUserOut(Out):
    id: str
    external_id: str
    email: str | None
    display_name: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class EndUserPage(BaseModel):
    end_users: list[EndUserOut]
    next_cursor: str | None


class ApiKeyIn(Body):
    name: str = Field(min_length=1, max_length=128)
    scopes: list[str] = Field(min_length=1)
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The public part of the key, to recognise it.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=f"syk_{key.lookup}",
            scopes=sorted(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown once; store it now.")

    @classmethod
    def of_new(cls, new: NewKey) -> ApiKeyCreated:
        return cls(**ApiKeyOut.of(new.key).model_dump(), key=new.plaintext)


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


class SecretIn(Body):
    name: str = Field(description="1-128 characters: a letter, then letters, digits, '_', '.', '-'.")
    type: SecretType = SecretType.GENERIC
    value: str = Field(description="At most 64 KiB of UTF-8.")
    description: str | None = Field(default=None, max_length=1024)
    expires_at: AwareDatetime | None = None
    rotation_due_at: AwareDatetime | None = None


class SecretUpdate(Body):
    value: str | None = Field(default=None, description="A new value adds a version.")
    type: SecretType | None = None
    description: str | None = Field(default=None, max_length=1024)
    expires_at: AwareDatetime | None = None
    rotation_due_at: AwareDatetime | None = None


class SecretOut(BaseModel):
    id: str
    name: str
    type: str
    description: str | None
    value: str = Field(description="Masked (***key123) unless revealed.")
    masked: bool
    version: int
    current_version: int
    status: str = Field(description="active, rotation_due or expired")
    expires_at: datetime | None
    rotation_due_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: SecretView) -> SecretOut:
        s = view.secret
        return cls(
            id=s.id,
            name=s.name,
            type=s.type,
            description=s.description,
            value=view.value,
            masked=not view.revealed,
            version=view.version.version,
            current_version=s.current_version,
            status=view.status,
            expires_at=s.expires_at,
            rotation_due_at=s.rotation_due_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SecretPage(BaseModel):
    secrets: list[SecretOut]
    next_cursor: str | None


class SecretVersionOut(BaseModel):
    version: int
    masked_value: str
    created_at: datetime
    current: bool


class SecretVersions(BaseModel):
    name: str
    versions: list[SecretVersionOut]


class AccessEntry(BaseModel):
    id: str
    at: datetime
    actor: str
    purpose: str
    outcome: str
    error_code: str | None
    request_id: str | None
    version: int | None

    @classmethod
    def of(cls, record: AccessRecord, versions: dict[str, int]) -> AccessEntry:
        return cls(
            id=record.id,
            at=record.at,
            actor=record.actor,
            purpose=record.purpose,
            outcome=record.outcome,
            error_code=record.error_code,
            request_id=record.request_id,
            version=versions.get(record.item_id),
        )


class AccessLogOut(BaseModel):
    name: str
    access_count: int
    last_accessed_at: datetime | None
    entries: list[AccessEntry]
    next_cursor: str | None


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)


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
    source: str = Field(description="builtin, or tenant for a definition this tenant added or overrode")

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


class ConnectEndUser(Body):
    id: str = Field(min_length=1, max_length=255, description="Your id for this user.")
    email: str | None = Field(default=None, max_length=320)
    display_name: str | None = Field(default=None, max_length=255)
    tags: list[str] = Field(default_factory=list)


class ConnectSessionIn(Body):
    end_user: ConnectEndUser
    allowed_integrations: list[str] = Field(default_factory=list, description="Integration keys; empty: all.")
    return_url: str | None = Field(default=None, max_length=2048, description="Where the browser goes after.")


class ConnectSessionOut(BaseModel):
    token: str = Field(description="Shown once. Authorizes this end user's connect page for 30 minutes.")
    connect_url: str
    expires_at: datetime
    end_user_id: str


class AuthorizeIn(Body):
    integration: str = Field(description="The integration key.")
    end_user_id: str = Field(description="Your id of an existing end user.")
    connection_config: dict[str, Any] = Field(default_factory=dict)
    return_url: str | None = Field(default=None, max_length=2048)
    response_mode: Literal["redirect", "popup", "page"] = "page"


class AuthorizeOut(BaseModel):
    authorization_url: str
    expires_at: datetime


class ConnectionOut(BaseModel):
    id: str
    connector_id: str
    integration_id: str
    end_user_id: str
    auth_type: str
    status: str
    scopes: list[str]
    account_id: str | None
    expires_at: datetime | None
    config: dict[str, Any]
    metadata: dict[str, Any]
    tags: list[str]
    error: dict[str, str | None] | None
    last_refreshed_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Connection) -> ConnectionOut:
        error = (
            {"code": c.error_code, "detail": c.error_detail, "remediation": c.remediation}
            if c.error_code
            else None
        )
        return cls(
            id=c.id,
            connector_id=c.connector_id,
            integration_id=c.integration_id,
            end_user_id=c.end_user_id,
            auth_type=c.auth_type,
            status=c.status,
            scopes=list(c.scopes),
            account_id=c.account_id,
            expires_at=c.expires_at,
            config=c.config,
            metadata=c.metadata,
            tags=list(c.tags),
            error=error,
            last_refreshed_at=c.last_refreshed_at,
            last_used_at=c.last_used_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ConnectionPage(BaseModel):
    connections: list[ConnectionOut]
    next_cursor: str | None


class CredentialsOut(BaseModel):
    """Seed 001's GET .../credentials: values masked, non-secret settings in clear."""

    connection_id: str
    credentials: dict[str, Any]
    configuration: dict[str, Any]


class ConnectionIn(Body):
    """A connection made without a redirect: typed-in credentials (API key, password) or client credentials."""

    integration: str
    end_user_id: str = Field(description="Your id of an existing end user.")
    credentials: dict[str, Any] = Field(default_factory=dict, description="The fields the definition asks.")
    connection_config: dict[str, Any] = Field(default_factory=dict)


class ConnectionPatch(Body):
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None


class TestResult(BaseModel):
    """Seed 001's test-connection answer."""

    success: bool
    error: str | None = None
    code: str | None = None
    status: int | None = Field(default=None, description="The provider's HTTP status.")
    account_id: str | None = None


class RevocationOut(BaseModel):
    """Seed 002's DELETE /api/v1/connector-credentials/{credential_id} answer."""

    status: Literal["revoked"] = "revoked"
    revocation_time: datetime
    service_revocation_status: Literal["confirmed", "pending", "not_supported"]


class CredentialSummary(BaseModel):
    """Seed 002's ConnectorCredential listing entry."""

    credential_id: str
    connector_id: str
    service_identifier: str | None
    scopes: list[str]
    issuance_time: datetime
    expiry: datetime | None
    status: str

    @classmethod
    def of(cls, c: Connection, now: datetime) -> CredentialSummary:
        expired = c.expires_at is not None and c.expires_at <= now and c.status == "active"
        return cls(
            credential_id=c.id,
            connector_id=c.connector_id,
            service_identifier=c.account_id,
            scopes=list(c.scopes),
            issuance_time=c.created_at,
            expiry=c.expires_at,
            status="expired" if expired else c.status,
        )


class CredentialList(BaseModel):
    credentials: list[CredentialSummary]


class ConnectorAuthIn(Body):
    """Seed 002's body, initiation (redirect_uri, scope) or completion (state, code); the two extensions
    name the integration and the end user when the tenant has several."""

    auth_method: Literal["oauth2"]
    redirect_uri: str | None = None
    scope: list[str] | None = None
    state: str | None = None
    code: str | None = None
    encryption_key_reference: str | None = Field(
        default=None,
        description="Accepted for seed 002; credentials are always sealed by Switchyard's vault.",
    )
    integration: str | None = Field(default=None, description="Default: the tenant's one integration of it.")
    end_user_id: str | None = Field(default=None, description="Default: the end user 'default'.")


class ConnectorAuthStarted(BaseModel):
    auth_url: str
    state: str
    expiry: datetime


class ConnectorAuthCompleted(BaseModel):
    credential_id: str
    status: str
    expiry: datetime | None
    service_user_id: str | None
    capabilities: list[str]
