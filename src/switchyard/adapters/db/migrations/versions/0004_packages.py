"""Uploaded connector packages: one row per package, one per stored version; a tenant definition may be
owned by a package (its current version's manifest).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.String(40)
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "packages",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "tenant_id",
            Id,
            sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_packages_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("current_version", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_packages_tenant_id_name"),
    )
    op.create_table(
        "package_versions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column(
            "package_id",
            Id,
            sa.ForeignKey("packages.id", ondelete="CASCADE", name="fk_package_versions_package_id_packages"),
            nullable=False,
        ),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("object_key", sa.String(300), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("has_code", sa.Boolean, nullable=False),
        sa.Column("uploaded_at", Timestamp, nullable=False),
        sa.UniqueConstraint("package_id", "version", name="uq_package_versions_package_id_version"),
    )
    op.create_index("ix_package_versions_tenant_id", "package_versions", ["tenant_id"])
    with op.batch_alter_table("connector_definitions") as batch:
        batch.add_column(sa.Column("package_id", Id, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connector_definitions") as batch:
        batch.drop_column("package_id")
    op.drop_index("ix_package_versions_tenant_id", table_name="package_versions")
    op.drop_table("package_versions")
    op.drop_table("packages")
