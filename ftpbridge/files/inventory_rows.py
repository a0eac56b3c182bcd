"""An inventory file's columns and rows: which header means what (:data:`ALIASES`), the
file's shape, and each chunk's rows for the staging table (the SKU key of each row, its
quantities parsed, the problem of its own cells), a column at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ftpbridge.errors import InputFileError
from ftpbridge.files.layouts import normalise_header
from ftpbridge.files.quantities import whole_numbers
from ftpbridge.files.reading import CsvShape, FileFacts, map_headers, read_header
from ftpbridge.store.stock import KEY_MAX

KEY_FIELDS = ("warehouse_sku", "sku", "sku_id")  # in the order a row's key is taken
KEY_KINDS = {"warehouse_sku": "w", "sku": "s", "sku_id": "i"}
QUANTITY_FIELDS = ("quantity", "backorder", "reserve")
ALIASES: dict[str, tuple[str, ...]] = {
    "warehouse_sku": (
        "warehouse sku",
        "factory sku",
        "warehouse item",
        "warehouse item number",
        "vendor sku",
    ),
    "sku": ("sku", "item number", "item no", "item #", "item", "part number", "sku code"),
    "sku_id": ("sku id", "shop sku", "shop sku id", "topspin sku"),
    "quantity": (
        "quantity",
        "qty",
        "on hand",
        "qty on hand",
        "quantity on hand",
        "onhand",
        "available",
        "qty available",
        "quantity available",
        "in stock",
        "in stock quantity",
        "stock",
    ),
    "backorder": ("backorder", "backorders", "max backorder", "max backorder quantity"),
    "reserve": ("reserve", "reserve quantity"),
}


def accepted_headers() -> dict[str, str]:
    """Normalised header → field, for every name and alias of :data:`ALIASES`."""
    accepted: dict[str, str] = {}
    for field, aliases in ALIASES.items():
        for alias in (field, *aliases):
            accepted[normalise_header(alias)] = field
    return accepted


def inventory_shape(path: Path, facts: FileFacts) -> CsvShape:
    """The file's delimiter and which column holds which field. Raises InputFileError when
    no SKU column or no quantity column is there, naming the columns found."""
    delimiter, headers, skip = read_header(path, facts, expected=("sku", "quantity"))
    positions = map_headers(path, headers, accepted_headers())
    missing = []
    if not any(field in positions for field in KEY_FIELDS):
        missing.append("a SKU column (sku, warehouse_sku or sku_id)")
    if "quantity" not in positions:
        missing.append("a quantity column (quantity, qty, on hand or available)")
    if missing:
        found = ", ".join(repr(header.strip()) for header in headers[:30]) or "none"
        raise InputFileError(
            f"{path.name} lacks {' and '.join(missing)} (columns found: {found})",
            hint="the first line must name the columns, e.g. sku,quantity",
        )
    return CsvShape(facts.encoding, delimiter, tuple(headers), positions, skip=skip)


def staged_rows(chunk: pd.DataFrame) -> list[tuple[Any, ...]]:
    """A chunk's rows for the staging table (store/stock.py: STAGE_COLUMNS), each row's
    key taken from the first key column that is filled in, its quantities parsed, and
    the problem of its own cells as text ("" none). No loop over rows."""
    size = len(chunk)
    key_text = np.full(size, "", dtype=object)
    key_kind = np.full(size, "s", dtype=object)
    for field in reversed([field for field in KEY_FIELDS if field in chunk]):
        cells = chunk[field].to_numpy(dtype=object)
        filled = cells != ""
        key_text = np.where(filled, cells, key_text)
        key_kind = np.where(filled, KEY_KINDS[field], key_kind)
    problems = np.full(size, "", dtype=object)
    lengths = np.fromiter(map(len, key_text), dtype=np.int64, count=size)
    problems[lengths == 0] = "the SKU is empty; write the warehouse SKU or the shop's sku id"
    too_long = np.flatnonzero(lengths > KEY_MAX)
    if too_long.size:
        problems[too_long] = f"the SKU is longer than {KEY_MAX} characters"
        key_text[too_long] = [text[:KEY_MAX] for text in key_text[too_long]]
    columns: dict[str, list[Any]] = {}
    for field in QUANTITY_FIELDS:
        if field not in chunk:
            columns[field] = [None] * size
            continue
        parsed = whole_numbers(
            chunk[field].to_numpy(dtype=object), field, required=field == "quantity"
        )
        _add_problem(problems, parsed.problems)
        values = parsed.values.astype(object)  # Python ints, None where not given
        values[~(parsed.given & (parsed.problems == ""))] = None
        columns[field] = values.tolist()
    return list(
        zip(
            chunk["row"].astype("int64").tolist(),
            key_kind.tolist(),
            key_text.tolist(),
            columns["quantity"],
            columns["backorder"],
            columns["reserve"],
            _none_for_empty(problems),
            strict=True,
        )
    )


def _none_for_empty(texts: np.ndarray) -> list[Any]:
    values = texts.copy()
    values[texts == ""] = None
    return list(values.tolist())


def _add_problem(problems: np.ndarray, more: np.ndarray) -> None:
    rows = np.flatnonzero(more != "")
    if rows.size:
        before = problems[rows]
        problems[rows] = np.where(before == "", "", before + "; ") + more[rows]
