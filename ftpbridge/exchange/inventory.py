"""The inventory poll: a warehouse's inventory files in the partner's inbox (names
matching ``inventory_pattern``), taken by the very steps of the updated-file poll
(:mod:`ftpbridge.exchange.poll`: settled files only, download to staging, one
transaction, the report ``NAME.report.csv`` uploaded next to the archived file, a local
copy kept; crash-safe at every step), each applied by
:func:`ftpbridge.files.inventory.import_inventory`.

A snapshot held by ``inventory_max_zeroed`` goes to ``errors_dir`` with its report, and
an ``alert`` is logged at error level: a person looks at it (``inventory import --force``
applies it). The service runs this every ``inventory_interval`` (job ``inventory``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import structlog

from ftpbridge.errors import InputFileError
from ftpbridge.exchange.partners import CycleOutcome, PollKind
from ftpbridge.exchange.poll import poll_once
from ftpbridge.files.import_results import ImportResult
from ftpbridge.files.inventory import (
    DIRECTION,
    InventoryResult,
    import_inventory,
    write_already_report,
)
from ftpbridge.files.reports import write_note_report
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.stock import DECIDED_COLUMNS

logger = structlog.get_logger()


def _apply(
    store: Store, settings: Settings, partner: PartnerSettings, local: Path, report: Path, name: str
) -> ImportResult:
    result = import_inventory(
        store,
        partner,
        local,
        report_path=report,
        max_file_bytes=settings.daemon.max_file_bytes,
        source_name=name,
    )
    if result.status == "already_processed":
        write_already_report(report, result.message)
    logger.info(
        "inventory file imported",
        status=result.status,
        mode=result.mode,
        rows=result.rows,
        applied=result.applied,
        unchanged=result.unchanged,
        rejected=result.rejected,
        zeroed=result.zeroed,
    )
    if result.status == "held":
        logger.error(
            "alert",
            message=f"{partner.name}: inventory file {name} held: {result.message}",
            hint=result.hint,
        )
    return result


def _refuse(
    store: Store,
    partner: str,
    name: str,
    size: int,
    error: InputFileError,
    *,
    report_path: Path,
    now: dt.datetime,
) -> ImportResult:
    """An inventory file over ``max_file_bytes``, recorded as rejected without being read."""
    write_note_report(
        report_path,
        "rejected",
        error.message + (f" ({error.hint})" if error.hint else ""),
        columns=DECIDED_COLUMNS,
    )
    with store.begin() as connection:
        file_id = ledger.record(
            connection,
            now,
            partner=partner,
            direction=DIRECTION,
            name=name,
            sha256="",
            size=size,
            state="rejected",
            message=error.message,
        )
    result = InventoryResult(partner=partner, file_name=name, status="rejected_file")
    result.report_path, result.file_id = report_path, file_id
    result.message, result.hint = error.message, error.hint
    return result


def _describe(result: ImportResult) -> str:
    return result.describe() if isinstance(result, InventoryResult) else result.file_name


INVENTORY = PollKind(
    name="inventory",
    job="inventory",
    pattern=lambda partner: partner.inventory_pattern,
    apply=_apply,
    refuse=_refuse,
    describe=_describe,
)


def poll_inventory_once(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    *,
    now: dt.datetime | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> CycleOutcome:
    """List the partner's inbox once and apply every settled inventory file. Raises
    TransportError when the server cannot be used (files already taken stay done)."""
    return poll_once(store, settings, partner, now=now, stop=stop, kind=INVENTORY)
