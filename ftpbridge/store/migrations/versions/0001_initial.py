"""Orders, items, the file ledger and the audit trail.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ftpbridge.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("ship_firstname", sa.String(200), nullable=False),
        sa.Column("ship_lastname", sa.String(200), nullable=False),
        sa.Column("ship_address1", sa.String(300), nullable=False),
        sa.Column("ship_address2", sa.String(300), nullable=False),
        sa.Column("ship_city", sa.String(200), nullable=False),
        sa.Column("ship_state", sa.String(100), nullable=False),
        sa.Column("ship_postal_code", sa.String(40), nullable=False),
        sa.Column("ship_country", sa.String(100), nullable=False),
        sa.Column("ship_phone", sa.String(60), nullable=False),
        sa.Column("loaded_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("warehouse_sku", sa.String(100), nullable=False),
        sa.Column("upc", sa.String(64), nullable=False),
        sa.Column("product_name", sa.String(500), nullable=False),
        sa.Column("product_type", sa.String(64), nullable=False),
        sa.Column("attributes", sa.String(500), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("partner", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("shipped_date", sa.Date(), nullable=True),
        sa.Column("carrier", sa.String(40), nullable=True),
        sa.Column("tracking_number", sa.String(100), nullable=True),
        sa.Column("first_exported_at", UTCDateTime(), nullable=True),
        sa.Column("last_exported_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_items_order_id_orders"),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
    )
    op.create_index("ix_items_partner_status", "items", ["partner", "status"])
    op.create_index("ix_items_order_id", "items", ["order_id"])
    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(100), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("import_key", sa.String(64), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_applied", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=True),
        sa.Column("local_path", sa.Text(), nullable=True),
        sa.Column("remote_path", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_files"),
        sa.UniqueConstraint("partner", "import_key", name="uq_files_partner_import_key"),
    )
    op.create_index(
        "ix_files_partner_direction_created", "files", ["partner", "direction", "created_at"]
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["files.id"], name="fk_audit_file_id_files"),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_item_id", "audit", ["item_id"])


def downgrade() -> None:
    op.drop_table("audit")
    op.drop_table("files")
    op.drop_table("items")
    op.drop_table("orders")
