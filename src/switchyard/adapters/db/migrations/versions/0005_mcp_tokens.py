"""MCP tokens in the database, so that every replica knows them and a restart keeps them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.String(40)
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mcp_tokens",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_mcp_tokens_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("end_user_id", sa.String(255), nullable=False),
        sa.Column("integration", sa.String(63)),
        sa.Column("api_key_id", Id),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.UniqueConstraint("digest", name="uq_mcp_tokens_digest"),
    )
    op.create_index("ix_mcp_tokens_expires_at", "mcp_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("mcp_tokens")
