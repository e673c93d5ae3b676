"""Alembic environment: migrations always run on a connection handed in by ``adapters.db.migrate``."""

from __future__ import annotations

from alembic import context

from switchyard.adapters.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through 'switchyard db upgrade', which provides the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
