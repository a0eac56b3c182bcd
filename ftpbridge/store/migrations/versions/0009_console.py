"""The ops console (issue 16): the key that signs its session cookies, the sessions signed
out before they expired, and an index to find an item by its tracking number.

- ``signing_keys``: one random secret per purpose (``console-session``), made on first use
  and kept in the store, so that every replica of the service verifies the cookies the
  others signed, and nothing needs configuring.
- ``console_signouts``: the id of each session signed out before its expiry, with that
  expiry (a signed cookie stays valid until then: this is how sign-out is honoured by
  every replica; rows past their expiry are dropped).
- ``ix_items_tracking_number``: the console's Orders page searches by tracking number.

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ftpbridge.store.schema import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("purpose", name="pk_signing_keys"),
    )
    op.create_table(
        "console_signouts",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name="pk_console_signouts"),
    )
    op.create_index("ix_console_signouts_expires_at", "console_signouts", ["expires_at"])
    op.create_index("ix_items_tracking_number", "items", ["tracking_number"])


def downgrade() -> None:
    op.drop_index("ix_items_tracking_number", table_name="items")
    op.drop_index("ix_console_signouts_expires_at", table_name="console_signouts")
    op.drop_table("console_signouts")
    op.drop_table("signing_keys")
