"""What an import did: ``ImportResult`` (its status, counts, report, preview, and the
summary's reasons, counted from each chunk by ``count_reasons``), and how a file ends as a
whole without rows applied: already processed (``already_processed``), or rejected
(``reject_file``: its one-line report and its ledger row; ``refuse_unread`` for a file
refused before it is read, ``too_large`` the error saying so).

The import's steps, which fill these in, are in ``importing``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ftpbridge.errors import EXIT_ATTENTION, EXIT_OK, EXIT_USAGE, InputFileError
from ftpbridge.files.reports import cut_cells, write_note_report
from ftpbridge.files.summaries import ReasonGroups
from ftpbridge.files.validation import APPLIED, REJECTED
from ftpbridge.store import Store, ledger


@dataclass
class ImportResult:
    """What an import did. ``status``: applied | already_processed | rejected_file | dry_run."""

    partner: str
    file_name: str
    status: str
    sha256: str = ""
    rows: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: int = 0
    report_path: Path | None = None
    file_id: int | None = None
    message: str = ""
    hint: str | None = None
    preview: list[dict[str, Any]] = field(default_factory=list)
    rejections: ReasonGroups = field(default_factory=ReasonGroups)
    warnings: ReasonGroups = field(default_factory=ReasonGroups)
    """Rejected rows and rows applied with a warning, grouped by reason (the summary's)."""

    @property
    def exit_code(self) -> int:
        if self.status == "rejected_file":
            return EXIT_USAGE
        return EXIT_ATTENTION if self.rejected else EXIT_OK


def too_large(name: str, size: int, limit: int, *, not_done: str) -> InputFileError:
    """The error for a file of ``size`` bytes over ``limit`` (``max_file_bytes``);
    ``not_done`` says what was spared: "read", "downloaded"."""
    return InputFileError(
        f"{name} is {size / 1e6:.1f} MB, over the limit of {limit / 1e6:.0f} MB"
        f" (max_file_bytes); it was not {not_done}",
        hint="split the file, or raise [daemon] max_file_bytes",
    )


def refuse_unread(
    store: Store,
    partner: str,
    name: str,
    size: int,
    error: InputFileError,
    *,
    report_path: Path,
    now: dt.datetime,
) -> ImportResult:
    """Record the file ``name`` as rejected as a whole without reading it (the poll refuses
    a file over the size limit before downloading it), with its one-line report."""
    result = ImportResult(partner=partner, file_name=name, status="rejected_file")
    result.report_path = report_path
    return reject_file(store, result, error.message, error.hint, False, now, size)


def count_reasons(decided: pd.DataFrame, result: ImportResult) -> None:
    """The summary's groups: rejected rows by reason, applied rows by their warnings; cells
    cut as in the report (a 150 MB cell must not reach the summary whole)."""
    outcome = decided["outcome"].to_numpy(dtype=object)
    rows = decided["row"].to_numpy(dtype=np.int64)
    orders = cut_cells(decided["order_id"].astype(str)).to_numpy(dtype=object)
    items = cut_cells(decided["item_id"].astype(str)).to_numpy(dtype=object)
    rejected = outcome == REJECTED
    if rejected.any():
        reasons = cut_cells(decided["reason"].astype(str)).to_numpy(dtype=object)
        result.rejections.add(reasons[rejected], rows[rejected], orders[rejected], items[rejected])
    warning = cut_cells(decided["warning"].astype(str)).to_numpy(dtype=object)
    warned = (outcome == APPLIED) & (warning != "")
    if warned.any():
        result.warnings.add(warning[warned], rows[warned], orders[warned], items[warned])


def already_processed(result: ImportResult, earlier: dict[str, Any]) -> ImportResult:
    result.status = "already_processed"
    result.file_id = earlier["id"]
    result.report_path = None
    result.message = (
        f"{result.file_name} was already processed on {earlier['created_at']:%Y-%m-%d %H:%M} UTC"
        f" (as {earlier['name']}); nothing changed"
    )
    return result


def reject_file(
    store: Store,
    result: ImportResult,
    message: str,
    hint: str | None,
    dry_run: bool,
    now: dt.datetime,
    size: int,
) -> ImportResult:
    result.status = "rejected_file"
    result.message = message
    result.hint = hint
    if result.report_path is not None:
        write_note_report(result.report_path, REJECTED, message + (f" ({hint})" if hint else ""))
    if not dry_run:
        with store.begin() as connection:
            result.file_id = ledger.record(
                connection,
                now,
                partner=result.partner,
                direction="import",
                name=result.file_name,
                sha256=result.sha256 or "",
                size=size,
                state="rejected",
                message=message,
            )
    return result
