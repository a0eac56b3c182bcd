"""The report of an import: one line per row of the file (``row, order_id, item_id,
outcome, reason``), or one line for a whole file rejected or already processed.

CSV in UTF-8 with CRLF, streamed chunk by chunk, written under a temporary name beside its
final name. The ids are echoed from the partner's file and the report is opened in a
spreadsheet: cells that would run as formulas are neutralised (:mod:`formulas`), and every
cell is cut to ``MAX_REPORT_CELL`` characters with a marker saying how long it was (a
150 MB item id must not make a 150 MB report, nor a cell no CSV reader takes: Python's
own stops at 128 KB).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ftpbridge.durable import replace_durably, temporary_beside
from ftpbridge.files.formulas import neutralise_formulas

REPORT_COLUMNS = ("row", "order_id", "item_id", "outcome", "reason")
# Report columns holding someone else's text: the partner's ids, and reasons, which quote
# the partner's cells and file names ("=cmd|... is 300 MB, over the limit").
_ECHOED = ("order_id", "item_id", "reason")
MAX_REPORT_CELL = 1_000  # characters of a cell echoed into a report or a message


def cut_cells(values: pd.Series) -> pd.Series:
    """``values`` (text) with each cell longer than MAX_REPORT_CELL cut there, followed by
    `` … [cut: N characters]``; a column without such a cell comes back as it is."""
    lengths = values.str.len()
    long = lengths > MAX_REPORT_CELL
    if not long.any():
        return values
    marker = " … [cut: " + lengths[long].map("{:,}".format) + " characters]"
    cut = values.copy()
    cut[long] = values[long].str.slice(0, MAX_REPORT_CELL) + marker
    return cut


def cut_text(text: str) -> str:
    """One cell or message cut like ``cut_cells``."""
    if len(text) <= MAX_REPORT_CELL:
        return text
    return f"{text[:MAX_REPORT_CELL]} … [cut: {len(text):,} characters]"


def default_report_path(path: Path) -> Path:
    return path.with_name(path.name + ".report.csv")


def write_note_report(
    path: Path,
    outcome: str,
    reason: str,
    *,
    columns: tuple[str, ...] = REPORT_COLUMNS,
) -> None:
    """Write a report of one line saying ``outcome`` and ``reason`` for the whole file (no
    row: the file was rejected as a whole, or already processed), atomically. ``columns``:
    the report's columns (an inventory report has its own), with outcome and reason."""
    with temporary_beside(path) as temporary, temporary.open("wb") as handle:
        writer = ReportWriter(handle, columns=columns)
        writer.write_rows([note_row(columns, outcome, cut_text(reason))])
        writer.close()
        replace_durably(temporary, path)


def note_row(columns: tuple[str, ...], outcome: str, reason: str) -> tuple[str, ...]:
    """A report line about the whole file: only ``outcome`` and ``reason`` filled in."""
    values = {"outcome": outcome, "reason": reason}
    return tuple(values.get(name, "") for name in columns)


class ReportWriter:
    """The per-row report, as CSV (UTF-8, CRLF) streamed chunk by chunk. ``columns``: the
    report's columns (the import's by default); ``echoed``: those copied from someone
    else's cells, which are made safe to open in a spreadsheet."""

    def __init__(
        self,
        handle: Any,
        *,
        columns: tuple[str, ...] = REPORT_COLUMNS,
        echoed: tuple[str, ...] = _ECHOED,
    ) -> None:
        self._columns = columns
        self._echoed = echoed
        self._text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        csv.writer(self._text, lineterminator="\r\n").writerow(columns)

    def write(self, decided: pd.DataFrame) -> None:
        # What to_csv writes through, given the columns directly: the same bytes, faster.
        # The ids are echoed from the partner's file and the report is opened in a
        # spreadsheet: a cell like =HYPERLINK(...) is written as text (CSV injection).
        columns = [
            (
                neutralise_formulas(cut_cells(decided[name]))
                if name in self._echoed or name == "reason"
                else decided[name]
            ).to_numpy(dtype=object)
            for name in self._columns
        ]
        csv.writer(self._text, lineterminator="\r\n").writerows(zip(*columns, strict=True))

    def write_rows(self, rows: list[tuple[Any, ...]], *, made_safe: bool = False) -> None:
        """Write whole lines, each text cell made safe to open in a spreadsheet (one at a
        time: for a few lines). ``made_safe``: the caller made them so already, column by
        column (the inventory report's many lines: files/inventory.py)."""
        if made_safe:
            csv.writer(self._text, lineterminator="\r\n").writerows(rows)
            return
        safe = [
            tuple(
                neutralise_formulas(pd.Series([cell], dtype=object)).iloc[0]
                if isinstance(cell, str)
                else cell
                for cell in row
            )
            for row in rows
        ]
        csv.writer(self._text, lineterminator="\r\n").writerows(safe)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()


@dataclass
class ReportView:
    """A report as the console shows it: refused rows first (with their reasons), then
    the others in file order, at most ``limit`` rows; the counts are of the whole report.
    ``columns``: the report's own (an import's REPORT_COLUMNS, an inventory file's
    ``row, sku, sku_id, outcome, quantity_before, quantity_after, reason``); ``notes``:
    per outcome, the lines about the whole file (no row number and no key) among them."""

    rows: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    columns: list[str] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def shown_all(self) -> bool:
        return len(self.rows) >= self.total

    def rows_with(self, outcome: str) -> int:
        """How many lines of the file's rows (or SKUs) have ``outcome``, notes left out."""
        return self.counts.get(outcome, 0) - self.notes.get(outcome, 0)


# The outcomes shown first: a refused row, and an inventory snapshot's row held with it.
FIRST_OUTCOMES = ("rejected", "held")


def read_report(path: Path, limit: int, chunk_rows: int = 50_000) -> ReportView:
    """Read the report at ``path`` (an import's or an inventory file's) in chunks (memory
    bounded by ``limit``): every refused or held line first, up to ``limit``, in file
    order, then the other lines while room is left.
    Raises OSError when the file cannot be read."""
    view = ReportView()
    refused: list[pd.DataFrame] = []
    others: list[pd.DataFrame] = []
    kept_refused = kept_others = 0
    reader = pd.read_csv(
        path, dtype=str, keep_default_na=False, chunksize=chunk_rows, encoding="utf-8"
    )
    with reader:
        for chunk in reader:
            if not view.columns:
                view.columns = [str(name) for name in chunk.columns]
            view.total += len(chunk)
            _count(view.counts, chunk["outcome"])
            keys = [name for name in chunk.columns if name not in ("outcome", "reason")]
            _count(view.notes, chunk["outcome"][(chunk[keys] == "").all(axis=1)])
            is_refused = chunk["outcome"].isin(FIRST_OUTCOMES)
            if kept_refused < limit:
                taken = chunk[is_refused].head(limit - kept_refused)
                refused.append(taken)
                kept_refused += len(taken)
            if kept_others < limit:
                taken = chunk[~is_refused].head(limit - kept_others)
                others.append(taken)
                kept_others += len(taken)
    frames = [frame for frame in (*refused, *others) if not frame.empty]
    if frames:
        shown = pd.concat(frames).head(limit)
        view.rows = [
            {str(key): str(value) for key, value in record.items()}
            for record in shown.to_dict("records")
        ]
    return view


def _count(counts: dict[str, int], outcomes: pd.Series) -> None:
    for outcome, count in outcomes.value_counts().items():
        counts[str(outcome)] = counts.get(str(outcome), 0) + int(count)
