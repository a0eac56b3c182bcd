"""The fill-in workbook: a partner's export as an .xlsx that a spreadsheet cannot damage.

Written by XlsxWriter in constant-memory mode (rows go to disk as they are written; 1.6x
faster than openpyxl's write-only mode, docs/benchmarks.md). What the warehouse gets:

- every column but ``quantity``, ``shipped`` and ``shipped_date`` holds text cells in a
  column formatted as Text (``@``): ids, SKUs, UPCs, ZIP codes, phones and the tracking
  numbers the warehouse types or pastes keep their zeros and all their digits;
- ``shipped``: TRUE/FALSE cells (FALSE written), with a drop-down of TRUE and FALSE;
- ``shipped_date``: formatted as a date (yyyy-mm-dd), so what is typed becomes a date cell;
- ``carrier``: a drop-down of the accepted carrier names (``ftpbridge.carriers``);
- the header row bold and frozen, columns as wide as their text (within bounds);
- customer text written as text cells, never as formulas: a name ``=HYPERLINK(...)`` is
  shown as typed and never evaluated (the workbook form of :mod:`formulas`' rule, so no
  apostrophe is added here).

A worksheet holds 1,048,576 rows: an export with more items is refused before writing
(:func:`check_fits`), with the hint to export CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

import numpy as np
import xlsxwriter

from ftpbridge.carriers import CARRIERS
from ftpbridge.errors import UsageError
from ftpbridge.files.layouts import Layout

WORKSHEET_ROWS = 1_048_576
"""Rows of an .xlsx worksheet (Excel, LibreOffice and Google Sheets): the header and
1,048,575 items."""
NOT_TEXT = frozenset({"quantity", "shipped", "shipped_date"})
WIDEST = 60  # characters: a long product name or address does not push the rest away
_LIST_LIMIT = 255  # characters of an inline drop-down list (Excel's limit)
_LISTS_SHEET = "Lists"


def accepted_carriers() -> tuple[str, ...]:
    """The carrier names the drop-down offers: the canonical names import accepts."""
    return tuple(CARRIERS)


def check_fits(items: int, partner: str) -> None:
    """Raise :class:`UsageError` when ``items`` rows and a header exceed a worksheet."""
    if items + 1 > WORKSHEET_ROWS:
        raise UsageError(
            f"{partner}: {items:,} items to export, more than an .xlsx worksheet holds"
            f" ({WORKSHEET_ROWS - 1:,} rows below the header); nothing was exported",
            hint=f'export CSV: set export_format = "csv" for {partner}, or run'
            f" ftpbridge export --partner {partner} --format csv",
        )


class FillInWorkbook:
    """The workbook being written to ``handle``: :meth:`write` a batch of columns at a time
    (as ``exporting`` prepares them: arrays of text), then :meth:`close`."""

    neutralises = False  # text cells are never formulas: no apostrophes (see module doc)

    def __init__(
        self,
        handle: IO[bytes],
        layout: Layout,
        partner: str,
        carriers: Sequence[str] | None = None,
    ) -> None:
        self._partner = partner
        self._book = xlsxwriter.Workbook(
            handle,
            {
                "constant_memory": True,
                # write_string is used for all text; these make sure nothing else ever
                # turns text into a formula, a number or a link.
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._fields = [column.field for column in layout.columns]
        self._sheet = self._book.add_worksheet("Orders")
        bold = self._book.add_format({"bold": True})
        self._text = self._book.add_format({"num_format": "@"})
        self._date = self._book.add_format({"num_format": "yyyy-mm-dd"})
        self._widths = [len(header) + 2 for header in layout.headers]
        self._row = 1
        for position, header in enumerate(layout.headers):
            self._sheet.write_string(0, position, header, bold)
        self._sheet.freeze_panes(1, 0)
        self._validate(carriers if carriers is not None else accepted_carriers())

    def _validate(self, carriers: Sequence[str]) -> None:
        """Drop-downs on shipped and carrier, down to the worksheet's last row."""
        last = WORKSHEET_ROWS - 1
        for position, field in enumerate(self._fields):
            if field == "shipped":
                choices: dict[str, Any] = {"source": ["TRUE", "FALSE"]}
            elif field == "carrier":
                if len(",".join(carriers)) <= _LIST_LIMIT:
                    choices = {"source": list(carriers)}
                else:  # too long for an inline list: a hidden sheet holds it
                    lists = self._book.add_worksheet(_LISTS_SHEET)
                    for number, name in enumerate(carriers):
                        lists.write_string(number, 0, name)
                    lists.hide()
                    choices = {"source": f"={_LISTS_SHEET}!$A$1:$A${len(carriers)}"}
            else:
                continue
            self._sheet.data_validation(
                1,
                position,
                last,
                position,
                {
                    "validate": "list",
                    **choices,
                    "error_title": f"Choose a {field}",
                    "error_message": f"Pick a {field} from the list.",
                },
            )

    @property
    def rows(self) -> int:
        """Item rows written so far."""
        return self._row - 1

    def write(self, columns: Sequence[tuple[np.ndarray, str | None]]) -> None:
        """Write a batch of rows: ``columns`` in layout order, arrays of text (as
        ``exporting._batch_columns`` gives them, not neutralised)."""
        if not columns or len(columns[0][0]) == 0:
            return
        count = len(columns[0][0])
        check_fits(self.rows + count, self._partner)
        sheet, text = self._sheet, self._text
        numbers: list[tuple[int, np.ndarray]] = []
        texts: list[tuple[int, np.ndarray]] = []
        shipped: list[int] = []
        for position, (field, (array, _)) in enumerate(zip(self._fields, columns, strict=True)):
            if field == "quantity":
                numbers.append((position, array.astype(np.int64)))
            elif field == "shipped":
                shipped.append(position)
            elif field != "shipped_date":  # empty: its column format is all it needs
                texts.append((position, array))
                longest = max(map(len, array), default=0)
                self._widths[position] = max(self._widths[position], min(longest + 2, WIDEST))
        # A cell at a time is XlsxWriter's interface (constant-memory mode writes each row
        # out when the next begins). Empty text cells are not written: the column's Text
        # format covers what is typed there later.
        write_string, write_number, write_boolean = (
            sheet.write_string,
            sheet.write_number,
            sheet.write_boolean,
        )
        first = self._row
        for offset in range(count):
            row = first + offset
            for position, array in texts:
                value = array[offset]
                if value:
                    write_string(row, position, value, text)
            for position, values in numbers:
                write_number(row, position, int(values[offset]))
            for position in shipped:
                write_boolean(row, position, False)
        self._row = first + count

    def close(self) -> None:
        """Set the columns' formats and widths and write the workbook out."""
        for position, field in enumerate(self._fields):
            if field == "shipped_date":
                column_format = self._date
                width = max(self._widths[position], 12)
            elif field in NOT_TEXT:
                column_format, width = None, self._widths[position]
            else:
                column_format, width = self._text, self._widths[position]
            self._sheet.set_column(position, position, width, column_format)
        self._book.close()
