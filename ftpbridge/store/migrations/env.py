"""Alembic environment: ftpbridge runs migrations itself (``ftpbridge db upgrade`` and on
opening the store), on the connection it passes in ``config.attributes["connection"]``."""

from __future__ import annotations

from alembic import context

from ftpbridge.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise RuntimeError("run migrations through 'ftpbridge db upgrade'")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
