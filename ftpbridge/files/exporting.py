"""Export: a partner's items waiting to ship → one CSV file in the partner's layout, or
the fill-in workbook (``export_format = "xlsx"``, :mod:`workbook_export`).

The file is written in batches (memory does not grow with the number of items), through a
temporary file renamed onto its final name, and the items are marked ``acknowledged`` in
the same transaction that records the file in the ledger. A dry run writes the same file
and changes nothing. A file already at the target path (an earlier export of the day) is
kept: the new one gets ``-2``, ``-3`` ... before its extension (:func:`reserve_path`).

A partner's legacy encoding (cp1252) writes ``?`` for characters it lacks; every cell so
changed is reported (:mod:`ftpbridge.files.charsets`), never silent.

Cells that come from customers or the shop (names, addresses, e-mail, product names,
attributes, SKUs: ``UNTRUSTED_FIELDS``) are what a hostile buyer controls: a cell a
spreadsheet would run as a formula gets a leading apostrophe
(:mod:`ftpbridge.files.formulas`).

A lone carriage return inside a cell is written as a line feed: Python's CSV writer
quotes only cells holding a character of the line ending in use, so with ``lf`` endings a
bare ``\r`` would go out unquoted and split the row for every reader.

Over 400 lines on purpose: the export's one transaction (read, write the CSV or the
workbook, mark, record, rename; or, as a dry run, only write) is one function, with the
CSV writer's fast path it uses beside it; split, the order of its crash-safe steps would
no longer read in one place.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ftpbridge.durable import replace_durably, reserve_path, sha256_of, temporary_beside
from ftpbridge.files.charsets import (
    Replacements,
    log_replacements,
    lossless,
    note_replacements,
)
from ftpbridge.files.formulas import neutralised
from ftpbridge.files.layouts import FIELDS, Layout
from ftpbridge.files.workbook_export import FillInWorkbook, check_fits
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.exports import (
    EXPORT_NAMES,
    UNSHIPPED,
    iter_exportable,
    mark_all_exported,
    mark_exported,
)
from ftpbridge.store.items import count_by_status
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
    """What an export wrote. ``name``: the file's name for the partner (the ledger's, the
    upload's); ``path``: where it is here, which differs from ``folder/name`` when an
    earlier file there was ``kept``. ``marked``: whether this export marked its items
    exported (False for a dry run, and for an export left to its upload to mark:
    ``mark=False``). A dry run (``dry_run``) has no ledger row (``file_id`` 0).
    ``replaced``: the cells the encoding could not write whole."""

    partner: str
    name: str
    path: Path
    rows: int
    sha256: str
    size: int
    file_id: int
    day: str
    kept: Path | None = None
    marked: bool = True
    dry_run: bool = False
    replaced: Replacements | None = None
    item_ids: tuple[str, ...] = ()
    """The items the file holds, in file order (what to mark once it was uploaded)."""


def file_name(partner: PartnerSettings, now: dt.datetime, export_format: str | None = None) -> str:
    """The export's file name: the partner's template filled with its local date.

    A workbook (``export_format``, default the partner's, is ``xlsx``) is named ``.xlsx``:
    a name ending in ``.csv`` gets ``.xlsx`` in its place, any other gets ``.xlsx`` added
    (``orders_2026-11-20.csv`` → ``orders_2026-11-20.xlsx``, ``orders.txt`` →
    ``orders.txt.xlsx``), and one ending in ``.xlsx`` stays as it is.
    """
    local = now.astimezone(partner.zone)
    name = partner.filename_template.format(date=local, partner=partner.name)
    if (export_format or partner.export_format) != "xlsx" or name.lower().endswith(".xlsx"):
        return name
    if name.lower().endswith(".csv"):
        name = name[: -len(".csv")]
    return name + ".xlsx"


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
    rows: Sequence[Sequence[Any]],
    layout: Layout,
    partner: PartnerSettings,
    *,
    neutralise: bool = True,
) -> list[tuple[np.ndarray, str | None]]:
    """The layout's columns for a batch of store rows (tuples in EXPORT_NAMES order), as
    arrays of text ready for the CSV writer, each with its values joined where known.
    ``neutralise``: formula cells of UNTRUSTED_FIELDS get their apostrophe (CSV); a
    workbook writes text cells instead and passes False."""
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
        if neutralise and column.field in UNTRUSTED_FIELDS:
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


class _CsvRows:
    """The CSV export being written to ``handle``: the header now, then :meth:`write` a
    batch of columns at a time, then :meth:`close` (the same interface as
    :class:`~ftpbridge.files.workbook_export.FillInWorkbook`)."""

    neutralises = True  # formula cells get their apostrophe (see formulas)

    def __init__(self, handle: Any, layout: Layout, partner: PartnerSettings) -> None:
        self._delimiter = partner.delimiter
        self._newline = "\r\n" if partner.line_ending == "crlf" else "\n"
        if partner.bom:
            handle.write("\ufeff".encode(partner.encoding))
        self._text = io.TextIOWrapper(
            handle, encoding=partner.encoding, errors="replace", newline=""
        )
        # RFC 4180 as the csv module writes it (QUOTE_MINIMAL, doubled quotes): the header
        # through the module, the rows through _csv_block (the same bytes, faster).
        csv.writer(self._text, delimiter=self._delimiter, lineterminator=self._newline).writerow(
            layout.headers
        )

    def write(self, columns: list[tuple[np.ndarray, str | None]]) -> None:
        self._text.write(_csv_block(columns, self._delimiter, self._newline))

    def close(self) -> None:
        self._text.flush()
        self._text.detach()


def _exportable_count(connection: Any, partner: str, new_only: bool) -> int:
    statuses = ("pending",) if new_only else UNSHIPPED
    counts = count_by_status(connection)
    return sum(counts.get((partner, status), 0) for status in statuses)


def export_partner(
    store: Store,
    partner: PartnerSettings,
    layout: Layout,
    folder: Path,
    *,
    now: dt.datetime | None = None,
    name: str | None = None,
    export_format: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    mark: bool = True,
) -> ExportResult:
    """Write the partner's export into ``folder`` and record it; return what was written.

    ``export_format``: ``csv`` or ``xlsx`` (the fill-in workbook); default the partner's.
    The file appears under its final name only complete; if anything fails, nothing is
    marked exported and no file is left behind. Raises :class:`UsageError` when a
    workbook would need more rows than a worksheet holds (nothing is written).
    ``dry_run``: the same file, but nothing is marked and nothing recorded. A file already
    at ``folder/name`` is kept (see :func:`reserve_path`). ``progress(rows written)`` is
    called after each batch. ``mark=False``: the items are not marked exported here (an
    upload marks them once the file is on the server: ``store.exports.mark_sent`` with
    ``item_ids``).
    """
    now = now or utcnow()
    export_format = export_format or partner.export_format
    name = name or file_name(partner, now, export_format)
    new_only = partner.export_mode == "new_only"
    replaced = (
        None
        if export_format == "xlsx" or lossless(partner.encoding)
        else Replacements(partner.encoding)
    )
    exported_ids: list[str] = []
    target, kept = reserve_path(folder / name)
    try:
        with (
            store.connect() if dry_run else store.begin() as connection,
            temporary_beside(target) as temporary,
            temporary.open("wb") as handle,
        ):
            output: _CsvRows | FillInWorkbook
            if export_format == "xlsx":
                check_fits(_exportable_count(connection, partner.name, new_only), partner.name)
                output = FillInWorkbook(handle, layout, partner.name)
            else:
                output = _CsvRows(handle, layout, partner)
            item_position = EXPORT_NAMES.index("item_id")
            marking = (
                contextlib.nullcontext(_Source(connection))
                if dry_run
                else _marking_alongside(store, connection, partner.name, now, new_only)
                if mark
                else contextlib.nullcontext(_Source(connection, marked=0))
            )
            with marking as source:
                for batch in iter_exportable(source.reader, partner.name, new_only=new_only):
                    columns = _batch_columns(batch, layout, partner, neutralise=output.neutralises)
                    if replaced is not None:
                        note_replacements(batch, columns, layout.columns, replaced)
                    output.write(columns)
                    exported_ids.extend(map(itemgetter(item_position), batch))
                    if progress is not None:
                        progress(len(exported_ids))
            output.close()
            handle.flush()
            sha256, size = sha256_of(temporary)
            day = now.astimezone(partner.zone).date().isoformat()
            file_id = 0  # a dry run: no ledger row, nothing marked
            if not dry_run:
                if not mark:
                    pass  # marked by the upload (mark_sent), once the file is on the server
                elif source.marked is None:
                    mark_exported(connection, partner.name, exported_ids, now, new_only=new_only)
                elif source.marked != len(exported_ids):
                    raise RuntimeError(
                        f"marked {source.marked} items as exported, but {len(exported_ids)} were"
                    )
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
    except BaseException:
        # The reserved name goes (if the export never renamed its file onto it, or its
        # transaction rolled back: no ledger row names the file, and nothing is marked).
        target.unlink(missing_ok=True)
        raise
    log_replacements(name, replaced)
    return ExportResult(
        partner.name,
        name,
        target,
        len(exported_ids),
        sha256,
        size,
        file_id,
        day,
        kept=kept,
        marked=mark and not dry_run,
        dry_run=dry_run,
        replaced=replaced,
        item_ids=tuple(exported_ids),
    )
