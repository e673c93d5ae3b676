"""Tenants, end users, API keys, master keys, the vault, secrets and the access audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.String(40)
Timestamp = sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        Id,
        sa.ForeignKey("tenants.id", ondelete="CASCADE", name=f"fk_{table}_tenant_id_tenants"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "end_users",
        sa.Column("id", Id, primary_key=True),
        _tenant_fk("end_users"),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("display_name", sa.String(255)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint("tenant_id", "external_id", name="uq_end_users_tenant_id_external_id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", Id, primary_key=True),
        _tenant_fk("api_keys"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("lookup", sa.String(16), nullable=False),
        sa.UniqueConstraint("lookup", name="uq_api_keys_lookup"),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp),
        sa.Column("revoked_at", Timestamp),
        sa.Column("last_used_at", Timestamp),
    )
    op.create_index("ix_api_keys_tenant_id", "api_keys", ["tenant_id"])
    op.create_table(
        "master_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("retired_at", Timestamp),
    )
    op.create_table(
        "vault_items",
        sa.Column("id", Id, primary_key=True),
        _tenant_fk("vault_items"),
        sa.Column("owner_kind", sa.String(32), nullable=False),
        sa.Column("owner_id", Id, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("store", sa.String(16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_vault_items_key_id", "vault_items", ["key_id"])
    op.create_index(
        "ix_vault_items_tenant_id_owner_kind_owner_id", "vault_items", ["tenant_id", "owner_kind", "owner_id"]
    )
    op.create_table(
        "secrets",
        sa.Column("id", Id, primary_key=True),
        _tenant_fk("secrets"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("description", sa.String(1024)),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("expires_at", Timestamp),
        sa.Column("rotation_due_at", Timestamp),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_secrets_tenant_id_name"),
    )
    op.create_table(
        "secret_versions",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "secret_id",
            Id,
            sa.ForeignKey("secrets.id", ondelete="CASCADE", name="fk_secret_versions_secret_id_secrets"),
            nullable=False,
        ),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("item_id", Id, nullable=False),
        sa.Column("masked", sa.String(16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.UniqueConstraint("secret_id", "version", name="uq_secret_versions_secret_id_version"),
    )
    op.create_table(
        "vault_access_log",
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
    )
    op.create_index("ix_vault_access_log_tenant_id_item_id", "vault_access_log", ["tenant_id", "item_id"])
    _forbid_changes_to_access_log()


def _forbid_changes_to_access_log() -> None:
    """The access audit is append-only: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION switchyard_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'vault_access_log is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER vault_access_log_append_only BEFORE UPDATE OR DELETE ON vault_access_log "
            "FOR EACH ROW EXECUTE FUNCTION switchyard_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER vault_access_log_no_{event.lower()} BEFORE {event} ON vault_access_log "
                "BEGIN SELECT RAISE(ABORT, 'vault_access_log is append-only'); END"
            )


def downgrade() -> None:
    for table in (
        "vault_access_log",
        "secret_versions",
        "secrets",
        "vault_items",
        "master_keys",
        "api_keys",
        "end_users",
        "tenants",
    ):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS switchyard_append_only()")
