"""The records services pass around. Plain frozen dataclasses: no ORM, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class EndUser:
    id: str
    tenant_id: str
    external_id: str
    email: str | None
    display_name: str | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    lookup: str
    digest: str = field(repr=False)
    scopes: frozenset[str]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant API key, or an internal component (``connection:<id>``, ``cli``)."""

    tenant_id: str
    actor: str
    scopes: frozenset[str]
    api_key_id: str | None = None


@dataclass(frozen=True)
class VaultItem:
    """One sealed value. ``ciphertext`` is None when an external store holds it."""

    id: str
    tenant_id: str
    owner_kind: str
    owner_id: str
    key_id: str
    store: str
    ciphertext: bytes | None = field(repr=False)
    revision: int


@dataclass(frozen=True)
class Secret:
    id: str
    tenant_id: str
    name: str
    type: str
    description: str | None
    current_version: int
    expires_at: datetime | None
    rotation_due_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SecretVersion:
    id: str
    secret_id: str
    tenant_id: str
    version: int
    item_id: str
    masked: str
    created_at: datetime


@dataclass(frozen=True)
class AccessRecord:
    """One attempt to decrypt a vault item, appended to the access audit and never changed."""

    id: str
    tenant_id: str
    item_id: str
    owner_kind: str
    owner_id: str
    actor: str
    purpose: str
    outcome: str  # "ok" | "failed"
    at: datetime
    error_code: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class MasterKeyRecord:
    """What the database knows about a master key: never the material, only its fingerprint and state."""

    key_id: str
    fingerprint: str
    state: str  # "active" | "decrypt_only" | "retired"
    created_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True)
class ConnectorOverride:
    """A tenant's own definition of a connector: new, or replacing the built-in one with the same id."""

    id: str
    tenant_id: str
    connector_id: str
    version: str
    source: str
    created_at: datetime
    updated_at: datetime
    package_id: str | None = None  # set when an uploaded package owns it


@dataclass(frozen=True)
class Integration:
    """A tenant's configuration of a connector: which auth provider and method, and the OAuth client."""

    id: str
    tenant_id: str
    key: str
    connector_id: str
    auth_provider: str
    auth_type: str
    client_id: str | None
    client_secret_item_id: str | None
    client_secret_ref: str | None
    client_secret_masked: str | None
    scopes: tuple[str, ...]
    redirect_url: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ConnectSession:
    """A short-lived grant for one end user to connect accounts; only the token's digest is stored."""

    id: str
    tenant_id: str
    token_digest: str = field(repr=False)
    end_user_id: str
    allowed_integrations: tuple[str, ...]
    return_url: str | None
    expires_at: datetime
    created_at: datetime
    used_at: datetime | None = None  # set once a connection was made through it: a link works once


@dataclass(frozen=True)
class OAuthState:
    """One pending authorization: single use, bound to tenant, end user, integration and PKCE verifier."""

    id: str
    tenant_id: str
    state_digest: str = field(repr=False)
    integration_id: str
    end_user_id: str
    connect_session_id: str | None
    redirect_uri: str
    return_url: str | None
    response_mode: str  # "redirect" | "popup" | "json"
    verifier_item_id: str | None
    connection_config: dict[str, Any]
    expires_at: datetime
    created_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class Connection:
    """An end user's connected account; its credentials live in the vault item ``credentials_item_id``."""

    id: str
    tenant_id: str
    integration_id: str
    connector_id: str
    end_user_id: str
    auth_provider: str  # "builtin" | "direct" | "nango"
    auth_type: str
    status: str  # "active" | "error" | "revoking"
    credentials_item_id: str
    credentials_masked: dict[str, Any]
    expires_at: datetime | None
    scopes: tuple[str, ...]
    account_id: str | None
    config: dict[str, Any]
    metadata: dict[str, Any]
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    error_code: str | None = None
    error_detail: str | None = None
    remediation: str | None = None
    refresh_failures: int = 0
    next_refresh_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class ConnectorUsage:
    """What a tenant's connections of one connector add up to."""

    connections: int
    errors: int
    last_used_at: datetime | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class CallerKey:
    """A public key a tenant registered for the operate API: ``sig`` (Ed25519) checks its requests,
    ``enc`` (X25519) receives sealed results. Revoked keys stay listed, and their kid stays taken."""

    id: str
    tenant_id: str
    kid: str
    use: str  # "sig" | "enc"
    public_jwk: dict[str, Any]
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class McpToken:
    """A short-lived bearer for ``/mcp`` bound to one end user (external id); only its digest is stored."""

    id: str
    tenant_id: str
    end_user_id: str
    integration: str | None
    api_key_id: str | None
    digest: str = field(repr=False)
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Package:
    """An uploaded connector package: its versions are kept; ``current_version`` is the one in use."""

    id: str
    tenant_id: str
    name: str
    display_name: str
    description: str
    current_version: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PackageVersion:
    """One stored version of a package: its archive in the package store, and its manifest."""

    id: str
    tenant_id: str
    package_id: str
    version: str
    sha256: str
    size: int
    object_key: str
    manifest: str
    actions: list[str]
    has_code: bool
    uploaded_at: datetime


@dataclass(frozen=True)
class ConsoleUser:
    """A person who signs in to the web console; belongs to one tenant. Only an argon2id hash is kept."""

    id: str
    tenant_id: str
    email: str
    password_hash: str = field(repr=False)
    created_at: datetime
    last_login_at: datetime | None = None


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in console browser; only the digest of the cookie value is stored."""

    id: str
    tenant_id: str
    user_id: str
    token_digest: str = field(repr=False)
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class ConsoleSetupLink:
    """A one-time link that creates the first console user; only the digest of its token is stored."""

    id: str
    token_digest: str = field(repr=False)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
