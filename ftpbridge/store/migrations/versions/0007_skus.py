"""Inventory (issue 14): SKUs with stock, the campaigns they are sold in, and the stock
audit trail.

- ``skus``: one row per shop SKU (``id``, text), its catalogue fields (product name and
  id, attributes, the warehouse's ``factory_sku``, UPC, weight and unit, ``available``),
  its stock (``in_stock_quantity``, ``reserve_quantity``, ``max_backorder_quantity``:
  never negative, checked by the database) and the partner that stocks it. Indexed by
  (partner, factory_sku), what an inventory file's rows are matched by, and updated_at
  (View SKUs' ``updated_after``).
- ``sku_campaigns``: (sku_id, campaign_id) pairs, for View SKUs' ``campaign_id``.
- ``stock_changes``: one row per change of a SKU's quantities, each before and after,
  with the inventory file's ledger row (``file_id``) or the source (API key, command).
- ``ix_items_sku_id_status``: the items of a SKU by status, summed into
  ``sold_unshipped_quantity`` and ``sold_shipped_quantity``.

Existing stores get empty tables: SKUs appear as orders with SKU data are loaded
(``orders load``) or a catalogue is (``skus load``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ftpbridge.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skus",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("product_name", sa.String(500), nullable=False, server_default=""),
        sa.Column("product_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("attributes", sa.String(500), nullable=False, server_default=""),
        sa.Column("factory_sku", sa.String(100), nullable=False, server_default=""),
        sa.Column("upc", sa.String(64), nullable=False, server_default=""),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("weight_unit", sa.String(2), nullable=False, server_default=""),
        sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("in_stock_quantity", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reserve_quantity", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_backorder_quantity", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("partner", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("in_stock_quantity >= 0", name="ck_skus_in_stock_quantity"),
        sa.CheckConstraint("reserve_quantity >= 0", name="ck_skus_reserve_quantity"),
        sa.CheckConstraint("max_backorder_quantity >= 0", name="ck_skus_max_backorder_quantity"),
        sa.PrimaryKeyConstraint("id", name="pk_skus"),
    )
    op.create_index("ix_skus_factory_sku_partner", "skus", ["factory_sku", "partner"])
    op.create_index("ix_skus_partner", "skus", ["partner"])
    op.create_index("ix_skus_updated_at", "skus", ["updated_at"])
    op.create_table(
        "sku_campaigns",
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("sku_id", "campaign_id", name="pk_sku_campaigns"),
    )
    op.create_index("ix_sku_campaigns_campaign_id", "sku_campaigns", ["campaign_id"])
    op.create_table(
        "stock_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sku_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(300), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=True),
        *(
            sa.Column(f"{when}_{name}", sa.Integer(), nullable=True)
            for name in ("in_stock_quantity", "reserve_quantity", "max_backorder_quantity")
            for when in ("old", "new")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stock_changes"),
    )
    op.create_index("ix_stock_changes_sku_id", "stock_changes", ["sku_id"])
    op.create_index("ix_stock_changes_file_id", "stock_changes", ["file_id"])
    op.create_index("ix_items_sku_id_status", "items", ["sku_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_items_sku_id_status", table_name="items")
    op.drop_index("ix_stock_changes_file_id", table_name="stock_changes")
    op.drop_index("ix_stock_changes_sku_id", table_name="stock_changes")
    op.drop_table("stock_changes")
    op.drop_index("ix_sku_campaigns_campaign_id", table_name="sku_campaigns")
    op.drop_table("sku_campaigns")
    op.drop_index("ix_skus_updated_at", table_name="skus")
    op.drop_index("ix_skus_partner", table_name="skus")
    op.drop_index("ix_skus_factory_sku_partner", table_name="skus")
    op.drop_table("skus")
