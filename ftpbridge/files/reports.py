"""The report of an import: one line per row of the file (``row, order_id, item_id,
outcome, reason``), or one line for a whole file rejected or already processed.

CSV in UTF-8 with CRLF, streamed chunk by chunk, written under a temporary name beside its
final name. The ids are echoed from the partner's file and the report is opened in a
spreadsheet: cells that would run as formulas are neutralised (:mod:`formulas`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd

from ftpbridge.durable import replace_durably, temporary_beside
from ftpbridge.files.formulas import neutralise_formulas

REPORT_COLUMNS = ("row", "order_id", "item_id", "outcome", "reason")
_ECHOED = ("order_id", "item_id")  # report columns copied from the partner's cells


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
        writer.write_rows([note_row(columns, outcome, reason)])
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
                neutralise_formulas(decided[name]) if name in self._echoed else decided[name]
            ).to_numpy(dtype=object)
            for name in self._columns
        ]
        csv.writer(self._text, lineterminator="\r\n").writerows(zip(*columns, strict=True))

    def write_rows(self, rows: list[tuple[Any, ...]]) -> None:
        csv.writer(self._text, lineterminator="\r\n").writerows(rows)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()
