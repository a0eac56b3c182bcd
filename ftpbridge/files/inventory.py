"""A warehouse's inventory file → the partner's stock, in one transaction, with a per-row
report (``row, sku, sku_id, outcome, quantity_before, quantity_after, reason``).

Read by the same careful reader as updated files (:mod:`ftpbridge.files.reading`: any
of the encodings and delimiters fulfillers send, headers by name, every cell as text, in
chunks). Columns, by name or alias (:mod:`ftpbridge.files.inventory_rows`): the SKU
(``warehouse_sku``: the warehouse's SKU, Topspin's ``factory_sku``; ``sku_id``: the shop's
sku id; ``sku``: either, the warehouse SKU first), ``quantity`` (what is in stock), and
optionally ``backorder`` (``max_backorder_quantity``) and ``reserve``
(``reserve_quantity``).

The partner's ``inventory_mode``: ``snapshot`` (the file lists all the partner's stock: a
SKU of the partner in stock that the file does not name is set to 0, and the report lists
it) or ``delta`` (only the rows listed change). A snapshot that would set more than
``inventory_max_zeroed`` of the partner's SKUs in stock to 0 is held: nothing is applied,
the report says why (``held``), and a person decides (``inventory import --force``).

The rows are checked a column at a time (``inventory_rows``, ``quantities``) and matched,
decided and applied in the database (:mod:`ftpbridge.store.stock`): memory stays flat in
the file's size. The file's sha256 is its key in the ledger: the same file again changes
nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError

from ftpbridge.durable import replace_durably, temporary_beside
from ftpbridge.errors import EXIT_ATTENTION, InputFileError, StoreError
from ftpbridge.faults import crashpoint
from ftpbridge.files.formulas import formula_cells
from ftpbridge.files.import_results import ImportResult, too_large
from ftpbridge.files.inventory_rows import KEY_FIELDS, QUANTITY_FIELDS, inventory_shape, staged_rows
from ftpbridge.files.reading import (
    CsvShape,
    inspect_bytes,
    iter_chunks,
)
from ftpbridge.files.reports import (
    ReportWriter,
    cut_cells,
    default_report_path,
    note_row,
    write_note_report,
)
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.stock import DECIDED_COLUMNS, Staging, Zeroing
from ftpbridge.wording import plural

CHUNK_ROWS = 50_000
DIRECTION = "inventory"  # the ledger's direction of an inventory file
REPORT_ECHOED = ("sku", "sku_id")


@dataclass
class InventoryResult(ImportResult):
    """What an inventory import did: an ImportResult (``status``: applied | held |
    already_processed | rejected_file | dry_run), the mode, how many SKUs a snapshot set
    to 0 (``zeroed``), and what the hold check saw (``zeroing``)."""

    mode: str = "snapshot"
    zeroed: int = 0
    zeroing: Zeroing | None = None

    def __post_init__(self) -> None:
        self.rejections.labels = ("sku", "sku id")

    @property
    def exit_code(self) -> int:
        if self.status == "held":
            return EXIT_ATTENTION
        return super().exit_code

    def describe(self) -> str:
        """One line for people: what the file did."""
        if self.status in ("already_processed", "rejected_file"):
            what = "rejected as a whole: " if self.status == "rejected_file" else ""
            return f"{self.partner}: {self.file_name}: {what}{self.message}"
        start = f"{self.partner}: {self.file_name} ({self.mode}): {plural(self.rows, 'row')}:"
        if self.status == "held":
            return f"{start} {self.message}"
        line = (
            f"{start} {self.applied:,} applied, {self.unchanged:,} unchanged,"
            f" {self.rejected:,} rejected"
        )
        if self.zeroed:
            line += f"; {plural(self.zeroed, 'SKU')} not in the snapshot set to 0"
        return line


class _RollBack(Exception):
    """Raised inside the transaction of a dry run: nothing of it is kept."""


class _Held(Exception):
    """Raised inside the transaction of a snapshot that is held: nothing is applied."""


class _Taken(Exception):
    """Raised when another process applied the same file while this one read it."""

    def __init__(self, earlier: dict[str, Any]) -> None:
        super().__init__("already imported")
        self.earlier = earlier


def import_inventory(
    store: Store,
    partner: PartnerSettings,
    path: Path,
    *,
    dry_run: bool = False,
    force: bool = False,
    report_path: Path | None = None,
    max_file_bytes: int = 200_000_000,
    now: dt.datetime | None = None,
    source_name: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> InventoryResult:
    """Apply the inventory file ``path`` to ``partner``'s stock (see the module doc).

    ``force``: apply a snapshot even if it would zero more than ``inventory_max_zeroed``.
    Never raises for a bad file (``status == "rejected_file"`` with a message); raises
    StoreError when the store cannot be used.
    """
    now = now or utcnow()
    name = source_name or path.name
    result = InventoryResult(
        partner=partner.name, file_name=name, status="applied", mode=partner.inventory_mode
    )
    result.report_path = report_path or default_report_path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return _reject(store, result, f"cannot read {name}: {exc.strerror}", None, dry_run, now, 0)
    if size > max_file_bytes:
        error = too_large(name, size, max_file_bytes, not_done="read")
        return _reject(store, result, error.message, error.hint, dry_run, now, size)
    try:
        facts = inspect_bytes(path)
        result.sha256 = facts.sha256
        with store.connect() as connection:
            earlier = ledger.find_import(connection, partner.name, facts.sha256)
        if earlier is not None:
            return _already(result, earlier)
        shape = inventory_shape(path, facts)
        crashpoint("parse")
    except InputFileError as exc:
        return _reject(store, result, exc.message, exc.hint, dry_run, now, size)
    try:
        _apply_file(
            store, partner, path, shape, result, facts.size, force, dry_run, now, chunk_rows
        )
    except _RollBack:
        result.status, result.file_id = "dry_run", None
    except _Taken as taken:
        return _already(result, taken.earlier)
    except _Held:
        result.status = "held"
        if not dry_run:
            with store.begin() as connection:
                result.file_id = ledger.record(
                    connection,
                    now,
                    partner=partner.name,
                    direction=DIRECTION,
                    name=name,
                    sha256=facts.sha256,
                    size=facts.size,
                    state="held",
                    rows_total=result.rows,
                    # What the rows would have done: none is applied (rows_applied 0),
                    # and the refused ones are counted as for an applied file.
                    rows_unchanged=result.unchanged,
                    rows_rejected=result.rejected,
                    local_path=str(path),
                    message=result.message,
                )
    except InputFileError as exc:  # found half-way (a malformed row): nothing applied
        result.rows = result.applied = result.unchanged = result.rejected = 0
        return _reject(store, result, exc.message, exc.hint, dry_run, now, size)
    except IntegrityError:  # the ledger's unique key: another process applied it first
        with store.connect() as connection:
            earlier = ledger.find_import(connection, partner.name, facts.sha256)
        if earlier is None:
            raise StoreError(f"the store refused the inventory file {name}") from None
        return _already(result, earlier)
    return result


def _apply_file(
    store: Store,
    partner: PartnerSettings,
    path: Path,
    shape: CsvShape,
    result: InventoryResult,
    size: int,
    force: bool,
    dry_run: bool,
    now: dt.datetime,
    chunk_rows: int,
) -> None:
    """The transaction: stage, decide, check the hold, write the report, apply, zero."""
    assert result.report_path is not None
    snapshot = partner.inventory_mode == "snapshot"
    fields = tuple(field for field in (*KEY_FIELDS, *QUANTITY_FIELDS) if field in shape.positions)
    with (
        store.begin() as connection,
        temporary_beside(result.report_path) as report_temporary,
        report_temporary.open("wb") as report_handle,
    ):
        earlier = ledger.find_import(connection, partner.name, result.sha256)
        if earlier is not None:  # another process took it while we read it
            raise _Taken(earlier)
        file_id = ledger.record(
            connection,
            now,
            partner=partner.name,
            direction=DIRECTION,
            name=result.file_name,
            sha256=result.sha256,
            size=size,
            state="applying",
            import_key=result.sha256,
            local_path=str(path),
        )
        result.file_id = file_id
        staging = Staging.create(connection, partner.name)
        for chunk in iter_chunks(path, shape, chunk_rows=chunk_rows, fields=fields):
            staging.add(staged_rows(chunk))
            result.rows += len(chunk)
        staging.decide()
        counts = staging.counts()
        result.applied = counts.get("applied", 0)
        result.unchanged = counts.get("unchanged", 0)
        result.rejected = counts.get("rejected", 0)
        held = False
        if snapshot:
            result.zeroing = staging.zeroing()
            held = not force and result.zeroing.share() > partner.inventory_max_zeroed
        report = ReportWriter(report_handle, columns=DECIDED_COLUMNS, echoed=REPORT_ECHOED)
        if held:
            assert result.zeroing is not None
            result.message = _held_message(partner, result.zeroing)
            result.hint = held_hint(partner.name, result.file_name)
            report.write_rows(
                [note_row(DECIDED_COLUMNS, "held", f"{result.message}; {result.hint}")]
            )
        for rows in staging.decided(held=held):
            report.write_rows(_spreadsheet_safe(rows), made_safe=True)
        if result.rejected:
            for rejected in staging.rejected():
                _count_rejections(rejected, result)
        if snapshot:
            for rows in staging.absent(held=held):
                report.write_rows(_spreadsheet_safe(rows), made_safe=True)
        report.close()
        if held:
            replace_durably(report_temporary, result.report_path)
            raise _Held
        staging.apply(file_id, now)
        crashpoint("apply")
        if snapshot:
            result.zeroed = staging.zero_absent(file_id, now)
        staging.drop()
        ledger.change(
            connection,
            file_id,
            now,
            state="applied",
            rows_total=result.rows,
            rows_applied=result.applied,
            rows_unchanged=result.unchanged,
            rows_rejected=result.rejected,
            message=(
                f"{plural(result.zeroed, 'SKU')} not in the snapshot set to 0"
                if result.zeroed
                else None
            ),
        )
        replace_durably(report_temporary, result.report_path)
        if dry_run:
            raise _RollBack
        crashpoint("commit")


def held_hint(partner: str, file: str) -> str:
    """What to do about a held snapshot (the CLI's Try:, the report's first line, the
    console's file page): ``file`` as the person can name it (its name, or a path)."""
    return (
        "if the file is right, apply it by hand: ftpbridge inventory import"
        f" --partner {partner} --force {file}"
    )


def _held_message(partner: PartnerSettings, zeroing: Zeroing) -> str:
    return (
        f"held, nothing applied: this snapshot would set {zeroing.would_zero} of the"
        f" {zeroing.in_stock} SKUs {partner.name} has in stock to 0 ({zeroing.share():.0%}),"
        f" more than inventory_max_zeroed ({partner.inventory_max_zeroed:.0%}); a cut-off"
        " file must not empty the shop"
    )


def _count_rejections(rows: list[tuple[Any, ...]], result: InventoryResult) -> None:
    """The summary's groups (``result.rejections``) from a batch of rejected rows (row,
    sku, sku_id, reason), their cells cut as in the report."""
    frame = pd.DataFrame.from_records(rows, columns=["row", "sku", "sku_id", "reason"])
    text = {
        column: cut_cells(frame[column].astype(str)).to_numpy(dtype=object)
        for column in ("reason", "sku", "sku_id")
    }
    result.rejections.add(
        text["reason"], frame["row"].to_numpy(dtype=np.int64), text["sku"], text["sku_id"]
    )


def _spreadsheet_safe(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Report lines (DECIDED_COLUMNS) with the SKU cells that would run as formulas in a
    spreadsheet written as text (files/formulas.py); the other lines as they are (their
    reasons are ours, beginning with our words, and bounded: a key is cut at KEY_MAX)."""
    for position in (1, 2):  # sku (the warehouse's cell), sku_id (the shop's)
        cells = np.empty(len(rows), dtype=object)
        cells[:] = [row[position] or "" for row in rows]
        for index in np.flatnonzero(formula_cells(cells)):
            line = list(rows[index])
            line[position] = "'" + cells[index]
            rows[index] = tuple(line)
    return rows


def _already(result: InventoryResult, earlier: dict[str, Any]) -> InventoryResult:
    result.status = "already_processed"
    result.file_id = earlier["id"]
    result.report_path = None
    result.message = (
        f"{result.file_name} was already processed on {earlier['created_at']:%Y-%m-%d %H:%M} UTC"
        f" (as {earlier['name']}); nothing changed"
    )
    return result


def _reject(
    store: Store,
    result: InventoryResult,
    message: str,
    hint: str | None,
    dry_run: bool,
    now: dt.datetime,
    size: int,
) -> InventoryResult:
    """The whole file refused: a one-line report, and a ledger row (not for a dry run)."""
    result.status, result.message, result.hint = "rejected_file", message, hint
    if result.report_path is not None:
        write_note_report(
            result.report_path,
            "rejected",
            message + (f" ({hint})" if hint else ""),
            columns=DECIDED_COLUMNS,
        )
    if not dry_run:
        with store.begin() as connection:
            result.file_id = ledger.record(
                connection,
                now,
                partner=result.partner,
                direction=DIRECTION,
                name=result.file_name,
                sha256=result.sha256 or "",
                size=size,
                state="rejected",
                message=message,
            )
    return result


def write_already_report(path: Path, message: str) -> None:
    """The one-line report of a file already processed (the poll uploads it beside the
    archived file)."""
    write_note_report(path, "unchanged", message, columns=DECIDED_COLUMNS)
