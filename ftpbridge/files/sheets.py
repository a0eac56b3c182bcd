"""One sheet of a workbook as CSV text: the program ``workbooks.read_sheet`` runs in a child
process (``python -m ftpbridge.files.sheets``), under limits of memory, file size and CPU.

Why a child: python-calamine builds a sheet's whole rectangle in memory (32 bytes a cell)
from its first to its last cell, in Rust. A 5 kB .xlsx holding only ``A1`` and
``XFD1048576`` asks for 512 GB, and Rust's answer to a failed allocation is to abort the
process: no exception to catch, the daemon gone. Here the abort ends the child only, and
the limit of its address space makes it fail at once instead of swapping.

The request comes as JSON on standard input (``path``, ``accepted``: normalised header →
field, ``max_columns``, ``max_text``, ``memory``, ``cpu_seconds``); the sheet's required
columns go to standard output as CSV (UTF-8, a header of field names, then one record for
every row of the sheet below its header, empty rows included, so that a record's position
gives its row number); the last line on standard error is a JSON answer:
``{"ok": true, "sheet": ..., "sheets": ..., "header_row": ...}`` or
``{"ok": false, "message": ..., "hint": ...}``.

Cells become text the way the warehouse sees them (:func:`cell_text`). Only the standard
library, python-calamine and :mod:`ftpbridge.files.layouts` are imported: the child starts
in a few tens of milliseconds.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import resource
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from operator import itemgetter
from typing import IO, Any

from ftpbridge.errors import InputFileError
from ftpbridge.files.layouts import REQUIRED_ON_IMPORT, match_headers

# Excel keeps 15 significant digits: a whole number below 10**15 is exactly what was typed;
# from there on a number cell may have lost digits (a 22-digit tracking number stored as a
# float). Such a cell is written as Excel's General format shows it ("9.40011E+21"), which
# validation refuses as spreadsheet damage with the hint to format the column as text.
EXACT_BELOW = 10**15
BLOCK_ROWS = 10_000


def cell_text(value: Any) -> str:
    """A cell as text, the way the warehouse sees it.

    Text stays as it is; TRUE/FALSE cells become ``TRUE``/``FALSE``; a date cell its
    ISO date (``2026-11-20``, with `` HH:MM:SS`` when it holds a time of day); a whole
    number below 10**15 its digits (``02134`` typed into a number cell is ``2134``:
    the zero was lost in the spreadsheet, as the warehouse sees); a larger number
    ``9.40011E+21`` (damage, see EXACT_BELOW); other numbers their 15 significant digits.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]  # checked just above
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is float or kind is int:
        number = float(value)
        if not math.isfinite(number):
            return str(value)
        if abs(number) >= EXACT_BELOW:
            return format(number, ".6G")
        if number == int(number):
            return str(int(number))
        return format(number, ".15G")
    if kind is dt.datetime:
        if value.time() == dt.time():
            return str(value.date().isoformat())
        return str(value.isoformat(sep=" ", timespec="seconds"))
    if kind is dt.date or kind is dt.time:
        return str(value.isoformat())
    return str(value)


def _texts(column: Sequence[Any]) -> Sequence[Any]:
    """A column of cells as text; a column of text only (the common case) as it is."""
    if set(map(type, column)) <= {str}:
        return column
    return list(map(cell_text, column))


class _Answer(Exception):
    """The whole file is refused: ``message`` and ``hint`` go back to the parent."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _limit(request: dict[str, Any]) -> None:
    """Lower this process's limits before the reader starts; refuse the file when they
    cannot be set (a seccomp filter denying setrlimit): no workbook is read unbounded."""
    memory, cpu_seconds, max_text = request["memory"], request["cpu_seconds"], request["max_text"]
    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        # Standard output is a regular file: past max_text the kernel stops the writes.
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_text + 1_000_000, max_text + 1_000_000))
    except (OSError, ValueError) as exc:
        raise _Answer(
            f"{request['name']} is a workbook, and workbooks cannot be read safely here: the"
            f" reader's memory limit could not be set ({exc})",
            "allow setrlimit and prlimit64 in the service's SystemCallFilter (as"
            " systemd/ftpbridge.service does), or send the file as CSV",
        ) from None


def _blocks(rows: Iterator[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    while block := list(islice(rows, size)):
        yield block


def _write_sheet(
    rows: Iterator[list[Any]],
    positions: dict[str, int],
    output: IO[str],
    max_text: int,
    name: str,
) -> None:
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(REQUIRED_ON_IMPORT)
    pick = itemgetter(*(positions[field] for field in REQUIRED_ON_IMPORT))
    written = 0
    for block in _blocks(rows, BLOCK_ROWS):
        columns: Iterable[Sequence[Any]] = zip(*map(pick, block), strict=True)
        records = list(zip(*map(_texts, columns), strict=True))
        writer.writerows(records)
        written += sum(map(len, map("".join, records)))
        if written > max_text:
            raise _Answer(
                f"{name}: the sheet's columns hold more than {max_text:,} bytes of text",
                "save the sheet as CSV and send that",
            )


def convert(request: dict[str, Any], output: IO[str]) -> dict[str, Any]:
    """Write the sheet to read (see the module doc) to ``output``; return the answer."""
    from python_calamine import CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

    name = request["name"]
    try:
        workbook = CalamineWorkbook.from_path(request["path"])
    except PasswordError:
        raise _Answer(
            f"{name} is protected by a password and cannot be read",
            "remove the password in the spreadsheet (or save the sheet as CSV) and send it again",
        ) from None
    worksheets = [meta for meta in workbook.sheets_metadata if meta.typ == SheetTypeEnum.WorkSheet]
    # Visible sheets first, in the workbook's order: a hidden sheet is read only when no
    # visible one has the columns.
    worksheets.sort(key=lambda meta: meta.visible != SheetVisibleEnum.Visible)
    if not worksheets:
        raise _Answer(f"{name} holds no worksheet", "send the workbook with its sheet of orders")
    first_problem: InputFileError | None = None
    for number, meta in enumerate(worksheets, start=1):
        sheet = workbook.get_sheet_by_name(meta.name)
        if sheet.width > request["max_columns"]:
            first_problem = first_problem or InputFileError(
                f"{name}: the sheet {meta.name!r} uses {sheet.width:,} columns, more than"
                f" the {request['max_columns']:,} a workbook may use here",
                hint="delete the columns that are not needed, or save the sheet as CSV",
            )
            continue
        # iter_rows starts at the sheet's first row (empty rows above the data included)
        # and at its first used column: the header is the first row that holds something.
        start = sheet.start or (0, 0)
        rows = islice(sheet.iter_rows(), start[0], None)
        header = next(rows, None)
        if header is None:
            first_problem = first_problem or InputFileError(
                f"{name}: the sheet {meta.name!r} is empty",
                hint="the first row must name the columns: " + ", ".join(REQUIRED_ON_IMPORT),
            )
            continue
        try:
            where = name if len(worksheets) == 1 else f"{name} (sheet {meta.name!r})"
            positions = match_headers(where, list(map(cell_text, header)), request["accepted"])
        except InputFileError as problem:
            first_problem = first_problem or problem
            continue
        _write_sheet(rows, positions, output, request["max_text"], name)
        return {
            "ok": True,
            "sheet": meta.name,
            "number": number,
            "sheets": len(worksheets),
            "header_row": start[0] + 1,
        }
    assert first_problem is not None
    raise _Answer(first_problem.message, first_problem.hint or "")


def main() -> int:
    request = json.loads(sys.stdin.read())
    output = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="", closefd=False)
    try:
        _limit(request)
        answer = convert(request, output)
        output.flush()
    except _Answer as refused:
        answer = {"ok": False, "message": refused.message, "hint": refused.hint}
    except MemoryError:
        answer = {"ok": False, "memory": True}
    except BaseException as exc:  # noqa: BLE001 - a reader failure (pyo3 panics are
        # BaseException) is the file's: said once, as the answer
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    sys.stderr.write("\n" + json.dumps(answer) + "\n")
    return 0 if answer["ok"] else 3


if __name__ == "__main__":
    sys.exit(main())
