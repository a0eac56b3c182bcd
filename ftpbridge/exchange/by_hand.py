"""A partner's files by hand, as the ops console does them: an export to download (marked
as ``ftpbridge export --out`` marks it) or to upload, and a fulfiller's file imported
through a dry run, then applied.

The import is :func:`ftpbridge.files.importing.import_file`, the CLI's and the poll's own:
the same validation, ledger, report and exactly-once (a file's sha256 is applied once per
partner). An applied file is kept where the poll keeps the files it takes,
``state_dir/archive/PARTNER/STAMP_NAME``, its report beside it as ``NAME.report.csv``, and
the ledger names that copy (``local_path``): the Files page offers both for download.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ftpbridge.errors import UsageError
from ftpbridge.exchange.export import export_and_upload
from ftpbridge.exchange.partners import CycleOutcome, partner_layout
from ftpbridge.files import events
from ftpbridge.files.exporting import ExportResult, export_partner
from ftpbridge.files.import_results import ImportResult
from ftpbridge.files.importing import import_file
from ftpbridge.files.reports import default_report_path
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.locks import job_lock
from ftpbridge.store.reads import ROW_DIRECTIONS, exportable_preview

PREVIEW_ROWS = 50


@dataclass(frozen=True)
class ExportPreview:
    partner: str
    total: int
    rows: list[dict[str, object]]
    marks: str  # what downloading does to the items, in words


def preview_export(store: Store, partner: PartnerSettings) -> ExportPreview:
    """The items the partner's export would hold now (the first PREVIEW_ROWS of them)."""
    new_only = partner.export_mode == "new_only"
    with store.connect() as connection:
        total, rows = exportable_preview(
            connection, partner.name, new_only=new_only, limit=PREVIEW_ROWS
        )
    marks = (
        "marks them as exported: the next export leaves them out (export_mode new_only)"
        if new_only
        else "marks them as exported (acknowledged); they stay in every export until shipped"
    )
    return ExportPreview(partner.name, total, rows, marks)


def export_to_folder(
    store: Store, settings: Settings, partner: PartnerSettings, folder: Path
) -> ExportResult:
    """``ftpbridge export --partner NAME --out FOLDER``: write the file, mark the items."""
    return export_partner(store, partner, partner_layout(settings, partner), folder)


def export_and_upload_now(
    store: Store, settings: Settings, partner: PartnerSettings, *, force: bool
) -> CycleOutcome:
    """``ftpbridge export --partner NAME --upload [--force]``, under the partner's export
    lock. Raises UsageError when another ftpbridge is exporting the partner right now,
    AlreadyDoneError when today's file was uploaded (unless ``force``), TransportError."""
    with job_lock(store, partner.name, "export") as locked:
        if not locked:
            raise UsageError(
                f"another ftpbridge is exporting {partner.name} right now",
                hint="wait for it to finish (the Partners page shows the last export)",
            )
        return export_and_upload(store, settings, partner, force=force)


def dry_run(
    store: Store, settings: Settings, partner: PartnerSettings, path: Path, name: str
) -> ImportResult:
    """What importing ``path`` (sent as ``name``) would do; nothing is kept but the report
    beside ``path``."""
    return import_file(
        store,
        partner,
        partner_layout(settings, partner),
        path,
        dry_run=True,
        report_path=default_report_path(path),
        max_file_bytes=settings.daemon.max_file_bytes,
        source_name=name,
    )


def apply(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    path: Path,
    name: str,
    now: dt.datetime | None = None,
) -> ImportResult:
    """Import ``path`` (sent as ``name``) for real. The file moves into the local archive
    first and is imported from there, so the ledger names the copy that stays; a file
    already processed leaves no second copy. Its changes write their outbox events (the
    shop's webhook, customers' e-mails) in the import's transaction, as the CLI's and the
    poll's do."""
    now = now or utcnow()
    archive = settings.state_dir / "archive" / partner.name
    archive.mkdir(parents=True, exist_ok=True)
    kept = archive / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}_{_safe_name(name)}"
    shutil.move(path, kept)
    result = import_file(
        store,
        partner,
        partner_layout(settings, partner),
        kept,
        report_path=default_report_path(kept),
        max_file_bytes=settings.daemon.max_file_bytes,
        source_name=name,
        now=now,
        notify=events.for_file(settings.notify, partner),
    )
    if result.status == "already_processed":
        kept.unlink(missing_ok=True)
        default_report_path(kept).unlink(missing_ok=True)
    elif result.status == "rejected_file" and result.file_id is not None:
        with store.begin() as connection:  # a file refused whole: keep it for a look too
            ledger.change(connection, result.file_id, utcnow(), local_path=str(kept))
    return result


def _safe_name(name: str) -> str:
    """A file name as sent by a browser, made safe to use in a local folder."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "file.csv"
    cleaned = "".join(
        character if character.isalnum() or character in "._- " else "_" for character in base
    )
    return cleaned.lstrip(".")[:120] or "file.csv"


def kept_files(entry: dict[str, object]) -> tuple[Path | None, Path | None]:
    """Where the ledger entry's original file and its report are kept, when they still
    are: the file at ``local_path`` (the local archive for polled files and files imported
    in the console, the given path for ``ftpbridge import`` and ``ftpbridge inventory
    import``, the written file for an export) and, for an updated or inventory file, its
    report beside it as ``NAME.report.csv``."""
    local = entry.get("local_path")
    if not isinstance(local, str) or not local:
        return None, None
    original = Path(local)
    report = default_report_path(original) if entry.get("direction") in ROW_DIRECTIONS else None
    return (
        original if original.is_file() else None,
        report if report is not None and report.is_file() else None,
    )


def download_name(name: str) -> str:
    """A file name safe to send in a Content-Disposition header."""
    return _safe_name(name)
