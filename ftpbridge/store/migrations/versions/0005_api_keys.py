"""The Orders API (issue 13): API keys, the indexes its searches use, product ids, and the
wish for a fan e-mail recorded with a change.

- ``api_keys``: one row per key, holding only the SHA-256 of the key (the keys are 256
  random bits, so a fast hash is as safe as a slow one and costs nothing per request), its
  unique name, its partner scope (NULL: the shop's key), read-only flag and times.
- ``items.product_id``: Topspin's product id, kept from now on so that the ``product_id``
  search term can be answered (existing items get "").
- ``item_changes.email_requested``: an update sent with ``email_on_update=true``; the
  e-mail itself is another issue's, the wish is kept with the change.
- Indexes: orders in natural id order (``length(id), id``: the default sort, newest ids
  first), by creation time (``order_date`` terms and sort), and by lower-cased e-mail
  (``fan_email``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ftpbridge.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(100), nullable=True),
        sa.Column("read_only", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    # Plain ADD COLUMN on both databases (no table rebuild: a constant default).
    op.add_column(
        "items",
        sa.Column("product_id", sa.String(64), nullable=False, server_default=""),
    )
    op.add_column("item_changes", sa.Column("email_requested", sa.Boolean(), nullable=True))
    op.create_index("ix_orders_natural_id", "orders", [sa.text("length(id)"), "id"])
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_index("ix_orders_email_lower", "orders", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_orders_email_lower", table_name="orders")
    op.drop_index("ix_orders_created_at", table_name="orders")
    op.drop_index("ix_orders_natural_id", table_name="orders")
    # DROP COLUMN: SQLite 3.35+ and PostgreSQL do it in place (no view or index uses them).
    op.drop_column("item_changes", "email_requested")
    op.drop_column("items", "product_id")
    op.drop_table("api_keys")
