"""The outbox (issue 15): shipment events written in the transaction of the change, sent
afterwards to the shop's webhook and, as e-mails, to customers.

- ``outbox``: one row per event. ``channel`` "webhook" (one per item change: types
  ``item.shipped``, ``item.corrected``, ``item.reinstated``) or "email" (one per order and
  file or API update: ``order.shipped``, ``order.corrected``). ``event_id`` is the stable id
  a receiver drops duplicates by. The facts of the event are kept in columns (webhook) or a
  JSON ``payload`` (e-mail), frozen when the change is applied. Delivery state: ``state``
  (pending, delivered, dead), ``attempts``, ``pending_since`` (what ``give_up_after``
  counts from), ``next_attempt_at``, the lease of the sender sending it (``lease_until``,
  ``leased_by``) and what the last attempt got (``last_status``, ``last_error``,
  ``last_response``: the first bytes of the receiver's answer).
- Indexes: the queue per channel and state in id order (what the sender claims, what
  status and notify list read), an order's pending events (oldest first per order), the
  active leases, the delivery time (pruning), and ``item_changes`` by (file_id,
  changed_at): the changes of one file or one API update, for their e-mails.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ftpbridge.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("partner", sa.String(100), nullable=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(300), nullable=True),
        sa.Column("item_status", sa.String(20), nullable=True),
        sa.Column("shipped_date", sa.Text(), nullable=True),
        sa.Column("carrier", sa.Text(), nullable=True),
        sa.Column("tracking_number", sa.Text(), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("pending_since", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(200), nullable=True),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_response", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_queue", "outbox", ["channel", "state", "id"])
    op.create_index("ix_outbox_order", "outbox", ["order_id", "channel", "state", "id"])
    op.create_index("ix_outbox_lease", "outbox", ["lease_until"])
    op.create_index("ix_outbox_delivered", "outbox", ["delivered_at"])
    op.create_index("ix_item_changes_file", "item_changes", ["file_id", "changed_at"])


def downgrade() -> None:
    op.drop_index("ix_item_changes_file", table_name="item_changes")
    op.drop_index("ix_outbox_delivered", table_name="outbox")
    op.drop_index("ix_outbox_lease", table_name="outbox")
    op.drop_index("ix_outbox_order", table_name="outbox")
    op.drop_index("ix_outbox_queue", table_name="outbox")
    op.drop_table("outbox")
