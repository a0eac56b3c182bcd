"""The ledger's upload claim: at most one normal export upload per partner and day.

``files.upload_key`` is the partner's day (YYYY-MM-DD) on the row of that day's normal
export from just before its upload (NULL for imports, ``--force``d exports and released
claims); UNIQUE(partner, upload_key) makes a second claim fail, on SQLite and PostgreSQL.
Existing uploads keep their day: the first upload of each partner's day is given the key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a constraint in place (env.py turns it on for SQLite).
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("upload_key", sa.String(10), nullable=True))
        batch.create_unique_constraint("uq_files_partner_upload_key", ["partner", "upload_key"])
    op.execute(
        "UPDATE files SET upload_key = day WHERE id IN ("
        " SELECT MIN(id) FROM files"
        " WHERE direction = 'export' AND state = 'uploaded' AND day IS NOT NULL"
        " GROUP BY partner, day)"
    )


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_constraint("uq_files_partner_upload_key", type_="unique")
        batch.drop_column("upload_key")
