"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/versions`` create exactly this."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from switchyard.core.clock import as_utc

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware datetimes stored as UTC on every engine (SQLite would otherwise drop the offset silently)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


Id = sa.String(40)
Timestamp = UtcDateTime()

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

end_users = sa.Table(
    "end_users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("email", sa.String(320)),
    sa.Column("display_name", sa.String(255)),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("tenant_id", "external_id"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("lookup", sa.String(16), nullable=False, unique=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp),
    sa.Column("revoked_at", Timestamp),
    sa.Column("last_used_at", Timestamp),
    sa.Index(None, "tenant_id"),
)

master_keys = sa.Table(
    "master_keys",
    metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("retired_at", Timestamp),
)

vault_items = sa.Table(
    "vault_items",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("owner_kind", sa.String(32), nullable=False),
    sa.Column("owner_id", Id, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("store", sa.String(16), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, default=sa.func.now()),
    sa.Index(None, "key_id"),
    sa.Index(None, "tenant_id", "owner_kind", "owner_id"),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("description", sa.String(1024)),
    sa.Column("current_version", sa.Integer, nullable=False),
    sa.Column("expires_at", Timestamp),
    sa.Column("rotation_due_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)

secret_versions = sa.Table(
    "secret_versions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("secret_id", Id, sa.ForeignKey("secrets.id", ondelete="CASCADE"), nullable=False),
    sa.Column("tenant_id", Id, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("item_id", Id, nullable=False),
    sa.Column("masked", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("secret_id", "version"),
)

vault_access_log = sa.Table(
    "vault_access_log",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, nullable=False),
    sa.Column("item_id", Id, nullable=False),
    sa.Column("owner_kind", sa.String(32), nullable=False),
    sa.Column("owner_id", Id, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("purpose", sa.String(128), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(64)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("at", Timestamp, nullable=False),
    sa.Index(None, "tenant_id", "item_id"),
)

connector_definitions = sa.Table(
    "connector_definitions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("connector_id", sa.String(63), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("package_id", Id),  # set when an uploaded package owns the definition
    sa.UniqueConstraint("tenant_id", "connector_id"),
)

integrations = sa.Table(
    "integrations",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(63), nullable=False),
    sa.Column("connector_id", sa.String(63), nullable=False),
    sa.Column("auth_provider", sa.String(16), nullable=False),
    sa.Column("auth_type", sa.String(32), nullable=False),
    sa.Column("client_id", sa.String(512)),
    sa.Column("client_secret_item_id", Id),
    sa.Column("client_secret_ref", sa.String(128)),
    sa.Column("client_secret_masked", sa.String(16)),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("redirect_url", sa.String(2048)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("tenant_id", "key"),
    sa.Index(None, "tenant_id", "connector_id"),
)

connect_sessions = sa.Table(
    "connect_sessions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("end_user_id", Id, sa.ForeignKey("end_users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("allowed_integrations", sa.JSON, nullable=False),
    sa.Column("return_url", sa.String(2048)),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("used_at", Timestamp),
)

oauth_states = sa.Table(
    "oauth_states",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("state_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("integration_id", Id, sa.ForeignKey("integrations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("end_user_id", Id, sa.ForeignKey("end_users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("connect_session_id", Id),
    sa.Column("redirect_uri", sa.String(2048), nullable=False),
    sa.Column("return_url", sa.String(2048)),
    sa.Column("response_mode", sa.String(16), nullable=False),
    sa.Column("verifier_item_id", Id),
    sa.Column("connection_config", sa.JSON, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("used_at", Timestamp),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("integration_id", Id, sa.ForeignKey("integrations.id"), nullable=False),
    sa.Column("connector_id", sa.String(63), nullable=False),
    sa.Column("end_user_id", Id, sa.ForeignKey("end_users.id"), nullable=False),
    sa.Column("auth_provider", sa.String(16), nullable=False),
    sa.Column("auth_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("credentials_item_id", Id, nullable=False),
    sa.Column("credentials_masked", sa.JSON, nullable=False),
    sa.Column("expires_at", Timestamp),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("account_id", sa.String(255)),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_detail", sa.String(1024)),
    sa.Column("remediation", sa.String(1024)),
    sa.Column("refresh_failures", sa.Integer, nullable=False),
    sa.Column("next_refresh_at", Timestamp),
    sa.Column("last_refreshed_at", Timestamp),
    sa.Column("last_used_at", Timestamp),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "tenant_id", "end_user_id"),
    sa.Index(None, "tenant_id", "integration_id"),
    sa.Index(None, "status", "expires_at"),
)

caller_keys = sa.Table(
    "caller_keys",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kid", sa.String(128), nullable=False),
    sa.Column("use", sa.String(8), nullable=False),
    sa.Column("public_jwk", sa.JSON, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp),
    sa.UniqueConstraint("tenant_id", "kid"),
)

operate_requests = sa.Table(
    "operate_requests",
    metadata,
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Index(None, "received_at"),
)

mcp_tokens = sa.Table(
    "mcp_tokens",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("end_user_id", sa.String(255), nullable=False),  # the tenant's external end-user id
    sa.Column("integration", sa.String(63)),
    sa.Column("api_key_id", Id),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Index(None, "expires_at"),
)

packages = sa.Table(
    "packages",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(63), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("current_version", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)

package_versions = sa.Table(
    "package_versions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, nullable=False, index=True),
    sa.Column("package_id", Id, sa.ForeignKey("packages.id", ondelete="CASCADE"), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("object_key", sa.String(300), nullable=False),
    sa.Column("manifest", sa.Text, nullable=False),
    sa.Column("actions", sa.JSON, nullable=False),
    sa.Column("has_code", sa.Boolean, nullable=False),
    sa.Column("uploaded_at", Timestamp, nullable=False),
    sa.UniqueConstraint("package_id", "version"),
)

console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),  # global: sign-in is by email
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_login_at", Timestamp),
    sa.Index(None, "tenant_id"),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("user_id", Id, sa.ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("last_seen_at", Timestamp, nullable=False),
    sa.Index(None, "expires_at"),
)

console_setup_links = sa.Table(
    "console_setup_links",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Column("used_at", Timestamp),
)
