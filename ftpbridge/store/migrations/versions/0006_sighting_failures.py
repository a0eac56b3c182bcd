"""Failed takes of an inbox file (issue 12 item 4): how many polls in a row could not take
a file, and why, on its sighting.

- ``sightings.failures``: polls in a row whose download of the file failed (0 for a file
  never failed); the poll moves it to ``errors_dir`` once it reaches ``alert_after``.
- ``sightings.last_error``: the reason of the last failure, for the log, ``status`` and
  the report of a file given up on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases (a constant default: no table rebuild).
    op.add_column(
        "sightings",
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("sightings", sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    # DROP COLUMN: SQLite 3.35+ and PostgreSQL do it in place (no view or index uses them).
    op.drop_column("sightings", "last_error")
    op.drop_column("sightings", "failures")
