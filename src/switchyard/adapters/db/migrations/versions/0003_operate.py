"""The signed operate API: callers' public keys, and the request ids seen (replay protection).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.String(40)
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "caller_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_caller_keys_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("kid", sa.String(128), nullable=False),
        sa.Column("use", sa.String(8), nullable=False),
        sa.Column("public_jwk", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp),
        sa.UniqueConstraint("tenant_id", "kid", name="uq_caller_keys_tenant_id_kid"),
    )
    op.create_table(
        "operate_requests",
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_operate_requests_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "request_id", name="pk_operate_requests"),
    )
    op.create_index("ix_operate_requests_received_at", "operate_requests", ["received_at"])


def downgrade() -> None:
    op.drop_table("operate_requests")
    op.drop_table("caller_keys")
