"""Alembic's environment: run with a connection ``gateway.store.schema`` hands over (online mode only)."""

from __future__ import annotations

from alembic import context

from gateway.store.db import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies the table; PostgreSQL alters natively
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
