"""The audit trail is kept as one row per change of an item, read one row per field.

Until now an import wrote one ``audit`` row per changed field: four per shipped line, each
repeating the file's name and the import's time that its ledger row (``file_id``) holds.
At a million lines that was 4,000,000 rows and 4,000,000 index entries, a third of the
import's time on SQLite and more than half on PostgreSQL, where a foreign-key trigger ran
for every row. Now:

- ``item_changes`` holds one row per change an import applies to an item: the item, the
  file's ledger row and the row number in it, and each shipment field before and after.
  ``source`` and ``changed_at`` are NULL when ``file_id`` is set (the ledger row has the
  file's name and the time); a change without a file would fill them in.
- ``audit`` becomes a view with the very shape the table had: one row per field whose
  value changed (old value, new value), source and time filled in from the ledger. What
  reads the audit trail reads it as before.
- ``file_id`` is not a foreign key: PostgreSQL checked it with a trigger per row, and it
  guards nothing the code does not (changes are written only by an import, in the
  transaction that has just added its ledger row; ledger rows are never deleted).

Existing audit rows move into ``item_changes`` (one row per item, file and row number).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from ftpbridge.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FIELDS = ("status", "shipped_date", "carrier", "tracking_number")

# The view audit: a row per changed field of every item change, in the shape the audit
# table had until 0004, plus ``position`` (the field's place, for ordering). SQLite's IS
# NOT is null-safe on any value; PostgreSQL spells it IS DISTINCT FROM (see upgrade).
_OLD_VALUE = (
    "CASE f.position WHEN 0 THEN c.old_status WHEN 1 THEN c.old_shipped_date"
    " WHEN 2 THEN c.old_carrier ELSE c.old_tracking_number END"
)
_NEW_VALUE = (
    "CASE f.position WHEN 0 THEN c.new_status WHEN 1 THEN c.new_shipped_date"
    " WHEN 2 THEN c.new_carrier ELSE c.new_tracking_number END"
)
AUDIT_VIEW_SQL = (
    "CREATE VIEW audit AS SELECT c.id, c.item_id, f.field, "  # noqa: S608 - constants only
    + _OLD_VALUE
    + " AS old_value, "
    + _NEW_VALUE
    + " AS new_value, c.file_id, COALESCE(c.source, files.name) AS source, c.row_number,"
    " COALESCE(c.changed_at, files.created_at) AS changed_at, f.position"
    " FROM item_changes AS c CROSS JOIN (SELECT 0 AS position, 'status' AS field"
    " UNION ALL SELECT 1, 'shipped_date' UNION ALL SELECT 2, 'carrier'"
    " UNION ALL SELECT 3, 'tracking_number') AS f"
    " LEFT JOIN files ON files.id = c.file_id WHERE " + _OLD_VALUE + " IS NOT " + _NEW_VALUE
)


def upgrade() -> None:
    columns: list[sa.Column[Any]] = [
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("row_number", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(300), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=True),
    ]
    for field in FIELDS:
        columns.append(sa.Column(f"old_{field}", sa.Text(), nullable=True))
        columns.append(sa.Column(f"new_{field}", sa.Text(), nullable=True))
    op.create_table("item_changes", *columns, sa.PrimaryKeyConstraint("id", name="pk_item_changes"))
    op.execute(
        "INSERT INTO item_changes (item_id, file_id, row_number, source, changed_at,"
        " old_status, new_status, old_shipped_date, new_shipped_date, old_carrier,"
        " new_carrier, old_tracking_number, new_tracking_number)"
        " SELECT item_id, file_id, row_number, source, MIN(changed_at),"
        " MAX(CASE WHEN field = 'status' THEN old_value END),"
        " MAX(CASE WHEN field = 'status' THEN new_value END),"
        " MAX(CASE WHEN field = 'shipped_date' THEN old_value END),"
        " MAX(CASE WHEN field = 'shipped_date' THEN new_value END),"
        " MAX(CASE WHEN field = 'carrier' THEN old_value END),"
        " MAX(CASE WHEN field = 'carrier' THEN new_value END),"
        " MAX(CASE WHEN field = 'tracking_number' THEN old_value END),"
        " MAX(CASE WHEN field = 'tracking_number' THEN new_value END)"
        " FROM audit GROUP BY item_id, file_id, row_number, source ORDER BY MIN(id)"
    )
    op.drop_table("audit")
    op.create_index("ix_item_changes_item_id", "item_changes", ["item_id"])
    view = AUDIT_VIEW_SQL
    if op.get_bind().dialect.name == "postgresql":
        view = view.replace(" IS NOT ", " IS DISTINCT FROM ")
    op.execute(view)


def downgrade() -> None:
    op.create_table(
        "audit_table",
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
    op.execute(
        "INSERT INTO audit_table (item_id, field, old_value, new_value, file_id, source,"
        " row_number, changed_at) SELECT item_id, field, old_value, new_value, file_id,"
        " source, row_number, changed_at FROM audit ORDER BY id, position"
    )
    op.execute("DROP VIEW audit")
    op.drop_table("item_changes")
    op.rename_table("audit_table", "audit")
    op.create_index("ix_audit_item_id", "audit", ["item_id"])
