"""Tenant connector definitions and integrations.

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


def downgrade() -> None:
    op.drop_table("integrations")
    op.drop_table("connector_definitions")
