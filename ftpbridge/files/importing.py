"""Import: an updated file → validated rows → one transaction → per-row report.

The file is applied entirely or not at all, together with its ledger entry. A file whose
content (sha256) is already in the ledger for the partner changes nothing. The report
(``row, order_id, item_id, outcome, reason``) is written for every import, also a dry
run (whose rows say ``would apply``, never ``applied``), and also a file rejected as a
whole (one line saying why).

Memory does not grow with the file: it is read twice in chunks — first only the item ids
and a hash of each row (to find the same item on several rows), then to validate and apply.

This module holds the import's steps; what it comes back with (``ImportResult``) and how a
file ends as a whole (already processed, rejected) are in ``import_results``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Iterator
from itertools import repeat
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy.exc import IntegrityError

from ftpbridge.durable import replace_durably, temporary_beside
from ftpbridge.errors import InputFileError, StoreError
from ftpbridge.faults import crashpoint
from ftpbridge.files.duplicates import duplicate_rows
from ftpbridge.files.import_results import (
    ImportResult,
    already_processed,
    count_reasons,
    reject_file,
    too_large,
)
from ftpbridge.files.layouts import Layout
from ftpbridge.files.reading import CsvShape, detect_shape, inspect_bytes, iter_chunks
from ftpbridge.files.reports import ReportWriter, default_report_path
from ftpbridge.files.tracking_reuse import TrackingAcrossCustomers
from ftpbridge.files.validation import APPLIED, REJECTED, UNCHANGED, Terms, validate
from ftpbridge.files.verdicts import NOTE
from ftpbridge.readahead import read_ahead
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.items import LOOKUP_NAMES, lookup
from ftpbridge.store.outbox import NOTHING, Notify, add_emails
from ftpbridge.store.shipments import AuditSource, apply_shipments

# 50,000 rows a chunk: a million-line import peaks at about 250 MB RSS (100,000: 360 MB)
# and takes as long (the per-chunk statements are few; measured with python -m bench).
CHUNK_ROWS = 50_000
PREVIEW_LIMIT = 200
WOULD_APPLY = "would apply"  # a dry run's report, in place of "applied"


def import_file(
    store: Store,
    partner: PartnerSettings,
    layout: Layout,
    path: Path,
    *,
    dry_run: bool = False,
    report_path: Path | None = None,
    max_file_bytes: int = 200_000_000,
    now: dt.datetime | None = None,
    source_name: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
    notify: Notify = NOTHING,
) -> ImportResult:
    """Validate ``path`` and apply its good rows for ``partner`` (see the module doc).

    ``source_name``: the file's name as the partner sent it (default: ``path.name``);
    ``progress(rows done)`` is called after each chunk.
    ``notify``: the outbox events the applied rows write in the same transaction (one
    webhook event per item, one e-mail per order; see :mod:`ftpbridge.files.events`).
    Never raises for a bad file: a file rejected as a whole comes back with
    ``status == "rejected_file"`` and a message. Raises :class:`StoreError` when the
    store cannot be used.
    """
    now = now or utcnow()
    name = source_name or path.name
    report_path = report_path or default_report_path(path)
    result = ImportResult(partner=partner.name, file_name=name, status="applied")
    result.report_path = report_path
    try:
        size = path.stat().st_size
    except OSError as exc:
        return reject_file(
            store, result, f"cannot read {name}: {exc.strerror}", None, dry_run, now, 0
        )
    if size > max_file_bytes:
        error = too_large(name, size, max_file_bytes, not_done="read")
        return reject_file(store, result, error.message, error.hint, dry_run, now, size)
    try:
        facts = inspect_bytes(path)
        result.sha256 = facts.sha256
        with store.connect() as connection:
            earlier = ledger.find_import(connection, partner.name, facts.sha256)
        if earlier is not None:
            return already_processed(result, earlier)
        shape = detect_shape(path, facts, layout)
        duplicates = duplicate_rows(path, shape, chunk_rows)
        crashpoint("parse")
    except InputFileError as exc:
        return reject_file(store, result, exc.message, exc.hint, dry_run, now, size)

    terms = Terms(
        partner=partner.name,
        date_formats=partner.date_formats,
        timezone=partner.timezone,
        today=now.astimezone(partner.zone).date(),
        edit_window_days=partner.edit_window_days,
    )
    try:
        with (
            store.begin() as connection,
            temporary_beside(report_path) as report_temporary,
            report_temporary.open("wb") as report_handle,
        ):
            earlier = ledger.find_import(connection, partner.name, facts.sha256)
            if earlier is not None:  # another process took it while we read it
                return already_processed(result, earlier)
            file_id = ledger.record(
                connection,
                now,
                partner=partner.name,
                direction="import",
                name=name,
                sha256=facts.sha256,
                size=facts.size,
                state="applying",
                import_key=facts.sha256,
                local_path=str(path),
            )
            result.file_id = file_id
            report = ReportWriter(report_handle)
            if shape.note:  # a workbook of several sheets: which one was read
                report.write_rows([("", "", "", NOTE, shape.note)])
            audit = AuditSource(file_id, name, notify=notify)
            across = TrackingAcrossCustomers()
            for chunk in _decided_chunks(
                store, connection, path, shape, chunk_rows, duplicates, terms
            ):
                decided = _with_shared_tracking(chunk, across)
                _apply_chunk(connection, decided, audit, now, result)
                count_reasons(decided, result)
                if progress is not None:
                    progress(result.rows)
                report.write(_as_dry_run(decided) if dry_run else decided)
                crashpoint("apply")
            if notify.email and result.applied:  # one e-mail per order of the whole file
                add_emails(connection, now, source=name, file_id=file_id)
            report.close()
            ledger.change(
                connection,
                file_id,
                now,
                state="applied",
                rows_total=result.rows,
                rows_applied=result.applied,
                rows_unchanged=result.unchanged,
                rows_rejected=result.rejected,
            )
            replace_durably(report_temporary, report_path)
            if dry_run:
                raise _RollBack
            crashpoint("commit")
    except _RollBack:
        result.status = "dry_run"
        result.file_id = None
    except InputFileError as exc:
        # Found half-way (a malformed row): the transaction was rolled back, nothing applied.
        result.rows = result.applied = result.unchanged = result.rejected = 0
        result.preview = []
        return reject_file(store, result, exc.message, exc.hint, dry_run, now, size)
    except IntegrityError:
        # The unique ledger key: another process applied this very file first.
        with store.connect() as connection:
            earlier = ledger.find_import(connection, partner.name, facts.sha256)
        if earlier is None:
            raise StoreError(f"the store refused the import of {name}") from None
        return already_processed(result, earlier)
    return result


def _with_shared_tracking(decided: pd.DataFrame, across: TrackingAcrossCustomers) -> pd.DataFrame:
    """Warn (applied anyway) where a tracking number of an applied row is on an earlier
    row of the file for another customer's order (:mod:`tracking_reuse`)."""
    warnings = across.warnings(
        decided["outcome"].to_numpy(dtype=object) == APPLIED,
        decided["new_tracking_number"].to_numpy(dtype=object),
        decided["customer"].to_numpy(dtype=object),
        decided["row"].to_numpy(dtype=np.int64),
    )
    found = warnings != ""
    if not found.any():
        return decided
    reason = decided["reason"].to_numpy(dtype=object).copy()
    warning = decided["warning"].to_numpy(dtype=object).copy()
    for texts in (reason, warning):
        texts[found] = np.where(texts[found] == "", "", texts[found] + "; ") + warnings[found]
    return decided.assign(reason=reason, warning=warning)


def _as_dry_run(decided: pd.DataFrame) -> pd.DataFrame:
    """A dry run's report: the rows it would apply say so ("would apply"), never
    "applied": a report read later, or sent on, must not claim a change that was not made."""
    would = decided["outcome"] == APPLIED
    if not would.any():
        return decided
    return decided.assign(outcome=decided["outcome"].where(~would, WOULD_APPLY))


class _RollBack(Exception):
    """Raised inside the transaction of a dry run so that nothing of it is kept."""


def _decided_chunks(
    store: Store,
    connection: Any,
    path: Path,
    shape: CsvShape,
    chunk_rows: int,
    duplicates: pd.DataFrame,
    terms: Terms,
) -> Iterator[pd.DataFrame]:
    """The file's chunks, read, looked up and validated: a chunk ahead in a thread with
    a connection of its own where the store allows one (see :mod:`ftpbridge.readahead`).

    The thread reads what the store held when the import began: on SQLite this import
    holds the write lock (no one else can commit meanwhile); on PostgreSQL it reads, as the
    import's own connection would, what other transactions committed. It cannot see this
    import's own uncommitted changes, and needs not: an item named on several rows is
    decided from the first pass (duplicate or conflict), never from the store.
    """

    def decide(reader: Any) -> Iterator[pd.DataFrame]:
        for chunk in iter_chunks(path, shape, chunk_rows=chunk_rows):
            yield _decide_chunk(reader, chunk, duplicates, terms)

    if not store.reads_beside(connection):
        yield from decide(connection)
        return

    def produce() -> Generator[pd.DataFrame, None, None]:
        with store.connect() as reader:
            yield from decide(reader)

    yield from read_ahead(produce)


def _decide_chunk(
    connection: Any, chunk: pd.DataFrame, duplicates: pd.DataFrame, terms: Terms
) -> pd.DataFrame:
    if not duplicates.empty:
        marks = duplicates.reindex(chunk["row"])
        chunk = chunk.assign(
            duplicate_of=marks["duplicate_of"].fillna(0).astype("int64").to_numpy(),
            conflicts_with=marks["conflicts_with"].fillna("").to_numpy(),
        )
    ids = chunk["item_id"].loc[chunk["item_id"] != ""].unique().tolist()
    state = pd.DataFrame.from_records(lookup(connection, ids), columns=list(LOOKUP_NAMES))
    state = state.set_index("item_id")
    decided = validate(chunk, state, terms)
    customer = state["customer"].reindex(decided["item_id"]).fillna("")
    return decided.assign(customer=customer.to_numpy(dtype=object))


def _apply_chunk(
    connection: Any,
    decided: pd.DataFrame,
    audit: AuditSource,
    now: dt.datetime,
    result: ImportResult,
) -> None:
    counts = decided["outcome"].value_counts()
    result.rows += len(decided)
    result.applied += int(counts.get(APPLIED, 0))
    result.unchanged += int(counts.get(UNCHANGED, 0))
    result.rejected += int(counts.get(REJECTED, 0))
    applied = decided[decided["outcome"] == APPLIED]
    if applied.empty:
        return
    changes = list(
        zip(
            applied["item_id"].tolist(),
            repeat("shipped"),
            applied["new_shipped_date"].tolist(),
            applied["new_carrier"].tolist(),
            applied["new_tracking_number"].tolist(),
            applied["row"].astype("int64").tolist(),
        )
    )
    apply_shipments(connection, changes, audit, now)
    if len(result.preview) < PREVIEW_LIMIT:
        room = PREVIEW_LIMIT - len(result.preview)
        preview = applied[
            [
                "row",
                "order_id",
                "item_id",
                "reason",
                "new_shipped_date",
                "new_carrier",
                "new_tracking_number",
            ]
        ].head(room)
        records = preview.astype(object).to_dict("records")
        result.preview.extend(cast("list[dict[str, Any]]", records))  # column names: str
