"""Request and response bodies for connect sessions, OAuth starts, connections and seed 002's credential API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from switchyard.api.schemas import Body
from switchyard.core.models import Connection


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


class SyncIn(Body):
    integration: str = Field(description="A Nango integration key.")
    end_user_id: str = Field(description="Your id of the end user.")
