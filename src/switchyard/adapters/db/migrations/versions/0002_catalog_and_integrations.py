"""Tenant connector definitions, integrations, connect sessions, OAuth states and connections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.String(40)
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "connector_definitions",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey(
                "tenants.id", ondelete="CASCADE", name="fk_connector_definitions_tenant_id_tenants"
            ),
            nullable=False,
        ),
        sa.Column("connector_id", sa.String(63), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint(
            "tenant_id", "connector_id", name="uq_connector_definitions_tenant_id_connector_id"
        ),
    )
    op.create_table(
        "integrations",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_integrations_tenant_id_tenants"),
            nullable=False,
        ),
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
        sa.UniqueConstraint("tenant_id", "key", name="uq_integrations_tenant_id_key"),
    )
    op.create_index("ix_integrations_tenant_id_connector_id", "integrations", ["tenant_id", "connector_id"])
    op.create_table(
        "connect_sessions",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_connect_sessions_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column(
            "end_user_id",
            Id,
            sa.ForeignKey(
                "end_users.id", ondelete="CASCADE", name="fk_connect_sessions_end_user_id_end_users"
            ),
            nullable=False,
        ),
        sa.Column("allowed_integrations", sa.JSON, nullable=False),
        sa.Column("return_url", sa.String(2048)),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.UniqueConstraint("token_digest", name="uq_connect_sessions_token_digest"),
    )
    op.create_table(
        "oauth_states",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_oauth_states_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("state_digest", sa.String(64), nullable=False),
        sa.Column(
            "integration_id",
            Id,
            sa.ForeignKey(
                "integrations.id", ondelete="CASCADE", name="fk_oauth_states_integration_id_integrations"
            ),
            nullable=False,
        ),
        sa.Column(
            "end_user_id",
            Id,
            sa.ForeignKey("end_users.id", ondelete="CASCADE", name="fk_oauth_states_end_user_id_end_users"),
            nullable=False,
        ),
        sa.Column("connect_session_id", Id),
        sa.Column("redirect_uri", sa.String(2048), nullable=False),
        sa.Column("return_url", sa.String(2048)),
        sa.Column("response_mode", sa.String(16), nullable=False),
        sa.Column("verifier_item_id", Id),
        sa.Column("connection_config", sa.JSON, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("used_at", Timestamp),
        sa.UniqueConstraint("state_digest", name="uq_oauth_states_state_digest"),
    )
    op.create_table(
        "connections",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_connections_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column(
            "integration_id",
            Id,
            sa.ForeignKey("integrations.id", name="fk_connections_integration_id_integrations"),
            nullable=False,
        ),
        sa.Column("connector_id", sa.String(63), nullable=False),
        sa.Column(
            "end_user_id",
            Id,
            sa.ForeignKey("end_users.id", name="fk_connections_end_user_id_end_users"),
            nullable=False,
        ),
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
    )
    op.create_index("ix_connections_tenant_id_end_user_id", "connections", ["tenant_id", "end_user_id"])
    op.create_index("ix_connections_tenant_id_integration_id", "connections", ["tenant_id", "integration_id"])
    op.create_index("ix_connections_status_expires_at", "connections", ["status", "expires_at"])


def downgrade() -> None:
    for table in ("connections", "oauth_states", "connect_sessions"):
        op.drop_table(table)
    op.drop_table("integrations")
    op.drop_table("connector_definitions")
