"""What an export in a partner's legacy encoding (cp1252, latin-1 ...) cannot write.

Such an export writes a character its encoding lacks as ``?`` (``Ł`` in a name). That is
kept (the partner's system reads nothing else), but never silently: every cell changed is
found here, for the command's output and the log. A column whose text encodes whole costs
one ``encode`` per batch; only a column that fails is looked at cell by cell.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
import structlog

from ftpbridge.files.layouts import Column
from ftpbridge.store.exports import EXPORT_NAMES

logger = structlog.get_logger()

EXAMPLES_KEPT = 20


@dataclass(frozen=True)
class Replacement:
    """One cell written with ``?`` in place of characters its encoding lacks."""

    order_id: str
    item_id: str
    field: str
    original: str
    written: str


@dataclass
class Replacements:
    """Every cell an export changed that way: how many, and the first ones."""

    encoding: str
    cells: int = 0
    items: set[str] = field(default_factory=set)
    examples: list[Replacement] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.cells > 0


def lossless(encoding: str) -> bool:
    """Whether ``encoding`` can write every character (the UTFs)."""
    return codecs.lookup(encoding).name.startswith("utf")


def find_replacements(
    columns: list[tuple[str, np.ndarray, str | None]],
    order_ids: np.ndarray,
    item_ids: np.ndarray,
    found: Replacements,
) -> None:
    """Add to ``found`` the cells of a batch its encoding cannot write whole.

    ``columns``: (field name, values, the values joined or None) per column of the file.
    """
    encoding = found.encoding
    for name, values, joined in columns:
        text = "".join(values) if joined is None else joined
        try:
            text.encode(encoding)
            continue
        except UnicodeEncodeError:
            pass
        for position, value in enumerate(values):
            try:
                value.encode(encoding)
            except UnicodeEncodeError:
                found.cells += 1
                found.items.add(str(item_ids[position]))
                if len(found.examples) < EXAMPLES_KEPT:
                    written = value.encode(encoding, "replace").decode(encoding)
                    found.examples.append(
                        Replacement(
                            str(order_ids[position]), str(item_ids[position]), name, value, written
                        )
                    )


def note_replacements(
    batch: Sequence[Sequence[Any]],
    columns: list[tuple[np.ndarray, str | None]],
    layout_columns: Sequence[Column],
    found: Replacements,
) -> None:
    """:func:`find_replacements` for an export batch: the store's rows (EXPORT_NAMES
    order), the file's columns as written, and the layout's columns they are."""
    order_ids = np.array(list(map(itemgetter(EXPORT_NAMES.index("order_id")), batch)), object)
    item_ids = np.array(list(map(itemgetter(EXPORT_NAMES.index("item_id")), batch)), object)
    find_replacements(
        [
            (column.field, values, joined)
            for column, (values, joined) in zip(layout_columns, columns, strict=True)
        ],
        order_ids,
        item_ids,
        found,
    )


def log_replacements(name: str, replaced: Replacements | None) -> None:
    """A warning naming what the export ``name`` could not write whole, if anything."""
    if not replaced:
        return
    logger.warning(
        "characters the partner's encoding cannot write were written as '?'",
        file=name,
        encoding=replaced.encoding,
        items=len(replaced.items),
        cells=replaced.cells,
        changed=[
            f"order {change.order_id} item {change.item_id} {change.field}"
            for change in replaced.examples
        ],
    )
