"""Export: a partner's items waiting to ship → one CSV file in the partner's layout.

The file is written in batches (memory does not grow with the number of items), through a
temporary file renamed onto its final name, and the items are marked ``acknowledged`` in
the same transaction that records the file in the ledger.

Cells that come from customers or the shop (names, addresses, e-mail, product names,
attributes, SKUs: ``UNTRUSTED_FIELDS``) are what a hostile buyer controls: a cell a
spreadsheet would run as a formula gets a leading apostrophe
(:mod:`ftpbridge.files.formulas`).

A lone carriage return inside a cell is written as a line feed: Python's CSV writer
quotes only cells holding a character of the line ending in use, so with ``lf`` endings a
bare ``\r`` would go out unquoted and split the row for every reader.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ftpbridge.durable import replace_durably, sha256_of, temporary_beside
from ftpbridge.files.formulas import neutralised
from ftpbridge.files.layouts import FIELDS, Layout
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.items import (
    EXPORT_NAMES,
    iter_exportable,
    mark_all_exported,
    mark_exported,
)
from ftpbridge.textarrays import CodePoints, strip

# Fields whose content comes from customers or the shop catalogue: every layout field but
# the ones ftpbridge itself writes (ids, dates, quantity, the fulfiller's columns). Derived,
# so a text field added to layouts.FIELDS is neutralised by default.
UNTRUSTED_FIELDS = frozenset(FIELDS) - {
    "order_id",
    "order_date",
    "item_id",
    "quantity",
    "shipped",
    "shipped_date",
    "carrier",
    "tracking_number",
}


@dataclass(frozen=True)
class ExportResult:
    partner: str
    name: str
    path: Path
    rows: int
    sha256: str
    size: int
    file_id: int
    day: str
    item_ids: tuple[str, ...] = ()
    """The items the file holds, in file order (what to mark once it was uploaded)."""


def file_name(partner: PartnerSettings, now: dt.datetime) -> str:
    """The export's file name: the partner's template filled with its local date."""
    local = now.astimezone(partner.zone)
    return partner.filename_template.format(date=local, partner=partner.name)


# Directives of strftime that depend on the date only: a date_format made of these alone
# is formatted once per distinct day of a batch instead of once per row.
_DATE_ONLY_FORMAT = re.compile(r"(?:[^%]|%[-#]?[YymdbBhaAjUWuwGVgDFeC%])*")


def _text(values: np.ndarray) -> tuple[np.ndarray, str]:
    """A column from the store as str, "" for NULL; a lone carriage return becomes a line
    feed (see the module doc). Returns it with its values joined, which says whether any
    work is needed and serves the formula check too."""
    array = np.ascontiguousarray(values)
    try:
        joined = "".join(array)  # fails on anything but str: a NULL, a number
    except TypeError:
        array = pd.Series(array, dtype=object).fillna("").astype(str).to_numpy(dtype=object)
        joined = "".join(array)
    if "\r" in joined:
        array = (
            pd.Series(array, dtype=object)
            .str.replace("\r(?!\n)", "\n", regex=True)
            .to_numpy(dtype=object)
        )
        joined = "".join(array)
    return array, joined


def _order_dates(values: np.ndarray, partner: PartnerSettings) -> np.ndarray:
    """Order times (text from SQLite, datetimes from PostgreSQL; UTC) as the partner's
    local date_format. strftime runs once per distinct value, not per row."""
    moments = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
    local = moments.dt.tz_convert(partner.timezone)
    if _DATE_ONLY_FORMAT.fullmatch(partner.date_format):
        local = local.dt.normalize()
    codes, uniques = pd.factorize(local)
    days = pd.DatetimeIndex(uniques)  # what factorize gives for datetimes; typed as Index
    written = days.strftime(partner.date_format).to_numpy(dtype=object)
    texts: np.ndarray = written[codes]
    return texts


def _batch_columns(
    rows: Sequence[Sequence[Any]], layout: Layout, partner: PartnerSettings
) -> list[tuple[np.ndarray, str | None]]:
    """The layout's columns for a batch of store rows (tuples in EXPORT_NAMES order), as
    arrays of text ready for the CSV writer, each with its values joined where known."""
    size = len(rows)
    raw = dict(zip(EXPORT_NAMES, zip(*rows, strict=True), strict=True))
    empty = np.full(size, "", dtype=object)
    fields: dict[str, np.ndarray] = {}
    joined: dict[str, str] = {}

    def field(name: str) -> np.ndarray:
        if name in fields:
            return fields[name]
        if name == "order_date":
            value = _order_dates(np.array(raw[name], dtype=object), partner)
        elif name == "quantity":
            value = np.array(raw[name], dtype=np.int64).astype(str).astype(object)
        elif name == "ship_name":
            value = strip(field("ship_firstname") + " " + field("ship_lastname"))
        elif name == "shipped":
            value = np.full(size, "False", dtype=object)
        elif name in ("shipped_date", "carrier", "tracking_number"):
            value = empty
        else:
            value, joined[name] = _text(np.array(raw[name], dtype=object))
        fields[name] = value
        return value

    columns = []
    for column in layout.columns:
        values = field(column.field)
        text = joined.get(column.field)
        if column.field in UNTRUSTED_FIELDS:
            safe = neutralised(values, text)
            if safe is not values:
                values, text = safe, None
        columns.append((values, text))
    return columns


# What makes the CSV writer quote a cell (QUOTE_MINIMAL): the delimiter, the quote, and
# the characters of a line ending (a lone CR never remains: see _text).
_QUOTED_IF = ('"', "\r", "\n")


def _csv_block(columns: list[tuple[np.ndarray, str | None]], delimiter: str, newline: str) -> str:
    """A batch's rows as CSV text, exactly as ``csv.writer`` (QUOTE_MINIMAL) writes them.

    The csv module examines every character of every cell (about 7 µs a row of 22 cells:
    the largest part of an export). Almost every cell needs nothing: a column whose joined
    text holds no delimiter, quote or line break is written as it is, and in the others
    only the cells that hold one are quoted. Rows are then joined in C (str.join).
    ``columns``: the arrays of text with, where known, their values joined.
    """
    triggers = (delimiter, *_QUOTED_IF)
    ready = []
    for values, joined in columns:
        text = "".join(values) if joined is None else joined
        if any(trigger in text for trigger in triggers):
            values = _quote_where_needed(values, text, triggers)
        ready.append(values)
    return newline.join(map(delimiter.join, zip(*ready, strict=True))) + newline


def _quote_where_needed(values: np.ndarray, joined: str, triggers: tuple[str, ...]) -> np.ndarray:
    points = CodePoints.of(values, joined)
    positions = np.flatnonzero(np.isin(points.codes, [ord(trigger) for trigger in triggers]))
    # The cell owning each such character: the last one starting at or before it (an
    # empty cell starts where the next one does, and owns no character).
    owners = np.unique(np.searchsorted(points.starts, positions, side="right") - 1)
    result = values.copy()
    result[owners] = ['"' + value.replace('"', '""') + '"' for value in values[owners]]
    return result


@dataclass
class _Source:
    """Where export reads its rows, and how many items were marked meanwhile (None: not
    yet; the caller marks them after writing)."""

    reader: Any
    marked: int | None = None


@contextlib.contextmanager
def _marking_alongside(
    store: Store, connection: Any, partner: str, now: dt.datetime, new_only: bool
) -> Iterator[_Source]:
    """On SQLite, mark the items exported in a thread while the rows are read and written.

    The export's transaction holds SQLite's write lock (BEGIN IMMEDIATE): no one else can
    change the items. The rows are read through a second connection, whose snapshot cannot
    see this transaction's uncommitted marks: it reads exactly the items the one UPDATE
    marks (the same condition), and the caller compares the counts. The UPDATE runs in the
    database's C code with the GIL released, on the other core: a million-line export
    spent 2.4 s there after writing. A failure anywhere rolls both back (same transaction).
    Elsewhere (PostgreSQL; SQLite in memory or not in WAL mode, see Store.reads_beside),
    the rows are read on the export's own connection and the caller marks them after.
    """
    if store.dialect != "sqlite" or not store.reads_beside(connection):
        yield _Source(connection)
        return
    with store.connect() as reader:
        # The reader's snapshot starts with its first statement: take it before marking.
        reader.exec_driver_sql("SELECT 1 FROM items LIMIT 1").all()
        source = _Source(reader)
        outcome: dict[str, Any] = {}

        def mark() -> None:
            try:
                outcome["marked"] = mark_all_exported(connection, partner, now, new_only=new_only)
            except BaseException as exc:  # noqa: BLE001 - raised in the export's thread
                outcome["error"] = exc

        marker = threading.Thread(target=mark, name="ftpbridge-export-mark", daemon=True)
        marker.start()
        try:
            yield source
        finally:
            marker.join()
        if "error" in outcome:
            raise outcome["error"]
        source.marked = outcome["marked"]


def export_partner(
    store: Store,
    partner: PartnerSettings,
    layout: Layout,
    folder: Path,
    *,
    now: dt.datetime | None = None,
    name: str | None = None,
    mark: bool = True,
) -> ExportResult:
    """Write the partner's export into ``folder`` and record it; return what was written.

    The file appears under its final name only complete; if anything fails, nothing is
    marked exported and no file is left behind. ``mark=False``: the items are not marked
    exported here (an upload marks them once the file is on the server:
    ``store.items.mark_sent`` with ``item_ids``).
    """
    now = now or utcnow()
    name = name or file_name(partner, now)
    target = folder / name
    newline = "\r\n" if partner.line_ending == "crlf" else "\n"
    new_only = partner.export_mode == "new_only"
    exported_ids: list[str] = []
    with (
        store.begin() as connection,
        temporary_beside(target) as temporary,
        temporary.open("wb") as handle,
    ):
        if partner.bom:
            handle.write("\ufeff".encode(partner.encoding))
        text = io.TextIOWrapper(handle, encoding=partner.encoding, errors="replace", newline="")
        # RFC 4180 as the csv module writes it (QUOTE_MINIMAL, doubled quotes): the header
        # through the module, the rows through _csv_block (the same bytes, faster).
        csv.writer(text, delimiter=partner.delimiter, lineterminator=newline).writerow(
            layout.headers
        )
        item_position = EXPORT_NAMES.index("item_id")
        marking = (
            _marking_alongside(store, connection, partner.name, now, new_only)
            if mark
            else contextlib.nullcontext(_Source(connection, marked=0))
        )
        with marking as source:
            for batch in iter_exportable(source.reader, partner.name, new_only=new_only):
                columns = _batch_columns(batch, layout, partner)
                text.write(_csv_block(columns, partner.delimiter, newline))
                exported_ids.extend(map(itemgetter(item_position), batch))
        text.flush()
        text.detach()
        handle.flush()
        if not mark:
            pass
        elif source.marked is None:
            mark_exported(connection, partner.name, exported_ids, now, new_only=new_only)
        elif source.marked != len(exported_ids):
            raise RuntimeError(
                f"marked {source.marked} items as exported, but {len(exported_ids)} were"
            )
        sha256, size = sha256_of(temporary)
        day = now.astimezone(partner.zone).date().isoformat()
        file_id = ledger.record(
            connection,
            now,
            partner=partner.name,
            direction="export",
            name=name,
            sha256=sha256,
            size=size,
            state="written",
            rows_total=len(exported_ids),
            day=day,
            local_path=str(target),
        )
        # Renamed before the commit: a crash between the two leaves a complete file and
        # items still pending, which the next export sends again. The other order could
        # mark items exported that no file holds.
        replace_durably(temporary, target)
    return ExportResult(
        partner.name,
        name,
        target,
        len(exported_ids),
        sha256,
        size,
        file_id,
        day,
        tuple(exported_ids),
    )
