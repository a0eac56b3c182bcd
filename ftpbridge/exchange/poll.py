"""The poll cycle: list the inbox → keep settled files matching the pattern → download to
staging → import (one transaction) → archive remotely (``archive_dir``, or ``errors_dir``
for a file rejected as a whole) with its report next to it → keep a local copy.

Crash safety comes from the order of the steps: the remote file is archived only after
the import committed, and an import is keyed on the file's sha256. A process killed
anywhere leaves the remote file in the inbox; the next poll downloads it again and either
imports it (nothing was committed) or finds it already processed and archives it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import fnmatch
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog

from ftpbridge.durable import temporary_beside
from ftpbridge.errors import EXIT_ATTENTION, RemoteNotFoundError
from ftpbridge.exchange.partners import (
    CycleOutcome,
    free_name,
    partner_layout,
    partner_transport,
    remote_dir,
)
from ftpbridge.faults import crashpoint
from ftpbridge.files.importing import (
    ImportResult,
    import_file,
    refuse_unread,
    too_large,
    write_note_report,
)
from ftpbridge.files.validation import UNCHANGED
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.state import Seen, forget, observe
from ftpbridge.transport import (
    RemoteFile,
    Transport,
    is_partial_upload,
    move,
    remote_join,
)

logger = structlog.get_logger()

REPORT_SUFFIX = ".report.csv"
DONE_SUFFIX = ".done"


def is_candidate(entry: RemoteFile, partner: PartnerSettings) -> bool:
    """A file in the inbox that the partner means for us: matches ``updated_pattern``,
    is not a directory, an upload in progress, a marker or one of our reports."""
    name = entry.name
    if entry.is_dir or is_partial_upload(name):
        return False
    lowered = name.casefold()
    if lowered.endswith(REPORT_SUFFIX) or lowered.endswith(DONE_SUFFIX):
        return False
    return fnmatch.fnmatchcase(lowered, partner.updated_pattern.casefold())


def poll_once(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    *,
    now: dt.datetime | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> CycleOutcome:
    """List the partner's inbox once and take every settled updated file.

    ``stop`` is asked between files: a daemon shutting down takes no new file.
    Raises TransportError when the server cannot be used (files already taken stay done).
    """
    now = now or utcnow()
    outcome = CycleOutcome(partner.name, "poll")
    transport = partner_transport(settings, partner)
    inbox = partner.inbox_dir
    with _staging(settings, partner), transport:
        crashpoint("list")
        entries = transport.list(inbox)
        candidates = {entry.name: entry for entry in entries if is_candidate(entry, partner)}
        if partner.done_marker:
            markers = {
                entry.name[: -len(DONE_SUFFIX)]
                for entry in entries
                if entry.name.endswith(DONE_SUFFIX)
            }
            ready = sorted(name for name in candidates if name in markers)
        else:
            listed = [
                Seen(entry.name, entry.size, entry.mtime.isoformat() if entry.mtime else None)
                for entry in candidates.values()
            ]
            with store.begin() as connection:
                ready = sorted(
                    observe(connection, partner.name, listed, now, partner.settle_seconds)
                )
        waiting = len(candidates) - len(ready)
        if waiting:
            logger.info(
                "files not settled yet", waiting=waiting, settle_seconds=partner.settle_seconds
            )
            outcome.lines.append(
                f"{partner.name}: {waiting} file(s) still settling (unchanged for"
                f" {partner.settle_seconds:g} s before they are taken)"
            )
        for name in ready:
            if stop():
                break
            with structlog.contextvars.bound_contextvars(file=name):
                result = _take(store, settings, partner, transport, candidates[name])
            if result is None:  # gone from the inbox since the listing
                outcome.lines.append(f"{partner.name}: {name}: gone before it was downloaded")
                continue
            outcome.imports.append(result)
            outcome.lines.append(_describe(result))
            if result.status == "rejected_file" or result.rejected:
                outcome.exit_code = max(outcome.exit_code, EXIT_ATTENTION)
    if not outcome.imports and not outcome.lines:
        outcome.lines.append(f"{partner.name}: no updated files waiting in {inbox}")
    return outcome


@contextlib.contextmanager
def _staging(settings: Settings, partner: PartnerSettings) -> Iterator[Path]:
    """The partner's staging folder, held for one poll (polls of a partner on this machine
    take turns: the daemon's and a manual ``poll``).

    Temporary files found there (``.NAME.*.part``: a download or report in progress) were
    left by a poll that was killed (the lock says no other poll runs): they are removed,
    so that crashes do not pile up partial files.
    """
    staging = settings.state_dir / "staging" / partner.name
    staging.mkdir(parents=True, exist_ok=True)
    locks = settings.state_dir / "locks"
    locks.mkdir(exist_ok=True)
    with (locks / f"poll-{partner.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in staging.glob(".*.part"):
            stale.unlink(missing_ok=True)
            logger.info("removed a partial file left by an interrupted poll", path=stale.name)
        yield staging


def _describe(result: ImportResult) -> str:
    if result.status == "already_processed":
        return f"{result.partner}: {result.file_name}: already processed; archived again"
    if result.status == "rejected_file":
        return f"{result.partner}: {result.file_name}: rejected as a whole: {result.message}"
    return (
        f"{result.partner}: {result.file_name}: {result.rows} rows: {result.applied} applied,"
        f" {result.unchanged} unchanged, {result.rejected} rejected"
    )


def _take(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    transport: Transport,
    entry: RemoteFile,
) -> ImportResult | None:
    """Download, import, archive and report one settled file.

    None when the file is gone from the inbox before it could be downloaded (the partner
    renamed or removed it since the listing): nothing to take, not a failure.
    """
    name = entry.name
    inbox = partner.inbox_dir
    remote = remote_join(inbox, name)
    staging = settings.state_dir / "staging" / partner.name
    staging.mkdir(parents=True, exist_ok=True)
    local = staging / name
    report = staging / (name + REPORT_SUFFIX)
    limit = settings.daemon.max_file_bytes
    if entry.size is not None and entry.size > limit:
        # Rejected before it is read: never download what we would refuse anyway.
        error = too_large(name, entry.size, limit, not_done="downloaded")
        result = refuse_unread(
            store, partner.name, name, entry.size, error, report_path=report, now=utcnow()
        )
    else:
        try:
            transport.download(remote, local)
        except RemoteNotFoundError:
            if _still_listed(transport, inbox, name):
                raise
            logger.warning("file gone from the inbox before it was downloaded; skipped")
            with store.begin() as connection:
                forget(connection, partner.name, name)
            return None
        crashpoint("download")
        result = import_file(
            store,
            partner,
            partner_layout(settings, partner),
            local,
            report_path=report,
            max_file_bytes=limit,
            source_name=name,
        )
        if result.status == "already_processed":
            write_note_report(report, UNCHANGED, result.message)
    logger.info(
        "file imported",
        status=result.status,
        rows=result.rows,
        applied=result.applied,
        unchanged=result.unchanged,
        rejected=result.rejected,
    )
    destination = remote_dir(
        inbox, partner.errors_dir if result.status == "rejected_file" else partner.archive_dir
    )
    transport.makedirs(destination)
    # A name taken only by its report is free: that report is ours, left by a crash between
    # the report's upload and the move, and the file goes next to it.
    taken = {existing.name for existing in transport.list(destination)}
    target_name = free_name(name, taken, tag=utcnow().strftime(".%Y%m%dT%H%M%SZ"))
    target = remote_join(destination, target_name)
    report_name = target_name + REPORT_SUFFIX
    # The report goes up before the file moves: a crash in between leaves the file in the
    # inbox, and the next poll (already processed) moves it next to that same report. The
    # other order could archive a file whose report never reaches the fulfiller.
    crashpoint("report_upload")
    if not (result.status == "already_processed" and report_name in taken):
        transport.upload(report, remote_join(destination, report_name))
    crashpoint("archive")
    try:
        move(transport, remote, target, staging)
    except RemoteNotFoundError:
        if _still_listed(transport, inbox, name):
            raise
        # Renamed or removed by the partner while we took it: what we applied is in the
        # ledger and the local archive; under a new name it is found already processed.
        logger.warning("file gone from the inbox before it could be archived", report=report_name)
    if partner.done_marker:
        try:
            transport.delete(remote + DONE_SUFFIX)
        except RemoteNotFoundError:
            pass
    _keep_locally(settings, partner, local, report, target_name)
    with store.begin() as connection:
        forget(connection, partner.name, name)
        if result.file_id is not None and result.status != "already_processed":
            ledger.change(connection, result.file_id, utcnow(), remote_path=target)
    return result


def _still_listed(transport: Transport, inbox: str, name: str) -> bool:
    """Whether ``name`` is still in the inbox: a server saying "not found" about a file it
    still lists means something else (some answer 550 for a refused permission)."""
    return any(entry.name == name for entry in transport.list(inbox))


def _keep_locally(
    settings: Settings, partner: PartnerSettings, local: Path, report: Path, name: str
) -> None:
    archive = settings.state_dir / "archive" / partner.name
    archive.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    for source, suffix in ((local, ""), (report, REPORT_SUFFIX)):
        if source.exists():
            _move_file(source, archive / f"{stamp}_{name}{suffix}")


def _move_file(source: Path, target: Path) -> None:
    """Move ``source`` onto ``target``; across file systems (staging on a tmpfs of its
    own) by copying to a temporary name next to ``target`` first, so that ``target`` is
    never a partial copy, then deleting ``source``."""
    try:
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    with temporary_beside(target) as temporary:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    source.unlink()
