"""The rules about a row as written in the file, before the store is asked: the same item
on several rows (conflicting, or a duplicate), order_id and item_id present, shipped
spelled as the contract says. Listed in order in ``validation.RULES``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ftpbridge.files.rows import Rows, quoted, text_column
from ftpbridge.files.verdicts import REJECTED, UNCHANGED, Verdict


def conflicting_rows(rows: Rows) -> Iterator[Verdict]:
    """The same item on several rows with different values: rejected, naming the rows."""
    if "conflicts_with" in rows.chunk:
        conflicts = text_column(rows.chunk, "conflicts_with")
        yield Verdict(
            conflicts != "",
            REJECTED,
            lambda at: (
                "the same item appears with different values on rows "
                + conflicts[at]
                + "; send it once"
            ),
        )


def duplicate_rows(rows: Rows) -> Iterator[Verdict]:
    """A row identical to an earlier one: unchanged, naming the earlier row."""
    if "duplicate_of" in rows.chunk:
        duplicate_of = rows.chunk["duplicate_of"].to_numpy(dtype=np.int64)
        yield Verdict(
            duplicate_of > 0,
            UNCHANGED,
            lambda at: "duplicate of row " + duplicate_of[at].astype(str).astype(object),
        )


def ids_present(rows: Rows) -> Iterator[Verdict]:
    """order_id and item_id are filled in."""
    yield Verdict(rows.order_id == "", REJECTED, "order_id is empty")
    yield Verdict(rows.item_id == "", REJECTED, "item_id is empty")


def shipped_spelled(rows: Rows) -> Iterator[Verdict]:
    """shipped is one of the contract's spellings. Empty means "not shipped" only on an
    untouched row: with a date, carrier or tracking number filled in, the fulfiller most
    likely forgot to say so."""
    yield Verdict(
        (rows.shipped_cell == "") & rows.others_filled,
        REJECTED,
        "shipped is empty but shipped_date, carrier or tracking_number is filled in;"
        " write true if the item shipped, false if not",
    )
    shipped_cell = rows.shipped_cell
    yield Verdict(
        rows.shipped_unknown,
        REJECTED,
        lambda at: (
            "shipped is "
            + quoted(shipped_cell[at])
            + "; write true or false (yes/no, 1/0 also work)"
        ),
    )
