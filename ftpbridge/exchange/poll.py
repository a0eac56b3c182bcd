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
from dataclasses import dataclass
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
from ftpbridge.files import events
from ftpbridge.files.importing import ImportResult, import_file, refuse_unread, too_large
from ftpbridge.files.reports import write_note_report
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
                f"{partner.name}: {waiting} {'file' if waiting == 1 else 'files'} still"
                f" settling (unchanged for {partner.settle_seconds:g} s before they are taken)"
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
        f"{result.partner}: {result.file_name}: {_rows(result.rows)}: {result.applied} applied,"
        f" {result.unchanged} unchanged, {result.rejected} rejected"
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _take(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    transport: Transport,
    entry: RemoteFile,
) -> ImportResult | None:
    """Take one settled file, one crash-safe step after the other:

    download → import → report upload → archive → keep locally → forget.

    A crash may cut any step short (the reliability tests arm each crash point): until
    *archive* has moved it, the file stays in the inbox and the next poll takes it again,
    its import then found already processed (the ledger knows its sha256). A file over the
    size limit is refused instead of downloaded and imported. None when the file is gone
    from the inbox before it could be downloaded: nothing to take, not a failure.
    """
    taking = _Taking.of(settings, partner, entry)
    result = _refuse_if_too_large(store, settings, partner, taking)
    if result is None:
        if not _download(store, partner, transport, taking):
            return None
        crashpoint("download")
        result = _import(store, settings, partner, taking)
    place = _archive_place(transport, partner, result, entry.name)
    _upload_report(transport, result, taking, place)
    _archive(transport, partner, taking, place)
    _keep_locally(settings, partner, taking, place.name)
    _forget(store, partner, result, taking, place)
    return result


@dataclass(frozen=True)
class _Taking:
    """A settled file being taken: its remote path, and its copy and report in staging."""

    name: str
    size: int | None
    remote: str
    staging: Path

    @classmethod
    def of(cls, settings: Settings, partner: PartnerSettings, entry: RemoteFile) -> _Taking:
        staging = settings.state_dir / "staging" / partner.name
        staging.mkdir(parents=True, exist_ok=True)
        return cls(entry.name, entry.size, remote_join(partner.inbox_dir, entry.name), staging)

    @property
    def local(self) -> Path:
        return self.staging / self.name

    @property
    def report(self) -> Path:
        return self.staging / (self.name + REPORT_SUFFIX)


@dataclass(frozen=True)
class _Place:
    """Where a taken file goes on the server: ``archive_dir`` (``errors_dir`` for a file
    rejected as a whole) under a name free there, and what that folder held before."""

    directory: str
    name: str
    present: frozenset[str]

    @property
    def path(self) -> str:
        return remote_join(self.directory, self.name)

    @property
    def report_name(self) -> str:
        return self.name + REPORT_SUFFIX


def _refuse_if_too_large(
    store: Store, settings: Settings, partner: PartnerSettings, taking: _Taking
) -> ImportResult | None:
    """A file listed over ``max_file_bytes`` is rejected as a whole before it is read:
    never download what we would refuse anyway. None for a file to download."""
    limit = settings.daemon.max_file_bytes
    if taking.size is None or taking.size <= limit:
        return None
    error = too_large(taking.name, taking.size, limit, not_done="downloaded")
    result = refuse_unread(
        store,
        partner.name,
        taking.name,
        taking.size,
        error,
        report_path=taking.report,
        now=utcnow(),
    )
    _log_imported(result)
    return result


def _download(
    store: Store, partner: PartnerSettings, transport: Transport, taking: _Taking
) -> bool:
    """Step 1, download into staging. False when the partner renamed or removed the file
    since the listing (its sighting is forgotten)."""
    try:
        transport.download(taking.remote, taking.local)
    except RemoteNotFoundError:
        if _still_listed(transport, partner.inbox_dir, taking.name):
            raise
        logger.warning("file gone from the inbox before it was downloaded; skipped")
        with store.begin() as connection:
            forget(connection, partner.name, taking.name)
        return False
    return True


def _import(
    store: Store, settings: Settings, partner: PartnerSettings, taking: _Taking
) -> ImportResult:
    """Step 2, import: validate and apply in one transaction, the report written beside
    the staged copy (a file already processed gets a one-line report saying so)."""
    result = import_file(
        store,
        partner,
        partner_layout(settings, partner),
        taking.local,
        report_path=taking.report,
        max_file_bytes=settings.daemon.max_file_bytes,
        source_name=taking.name,
        notify=events.for_file(settings.notify, partner),
    )
    if result.status == "already_processed":
        write_note_report(taking.report, UNCHANGED, result.message)
    _log_imported(result)
    return result


def _log_imported(result: ImportResult) -> None:
    logger.info(
        "file imported",
        status=result.status,
        rows=result.rows,
        applied=result.applied,
        unchanged=result.unchanged,
        rejected=result.rejected,
    )


def _archive_place(
    transport: Transport, partner: PartnerSettings, result: ImportResult, name: str
) -> _Place:
    """Where the file and its report go: ``errors_dir`` for a file rejected as a whole,
    else ``archive_dir``; the file's own name unless the folder holds it already."""
    wanted = partner.errors_dir if result.status == "rejected_file" else partner.archive_dir
    directory = remote_dir(partner.inbox_dir, wanted)
    transport.makedirs(directory)
    present = frozenset(existing.name for existing in transport.list(directory))
    # A name taken only by its report is free: that report is ours, left by a crash between
    # the report's upload and the move, and the file goes next to it.
    free = free_name(name, present, tag=utcnow().strftime(".%Y%m%dT%H%M%SZ"))
    return _Place(directory, free, present)


def _upload_report(
    transport: Transport, result: ImportResult, taking: _Taking, place: _Place
) -> None:
    """Step 3, report upload, before the file moves: a crash in between leaves the file in
    the inbox, and the next poll (already processed) moves it next to that same report.
    The other order could archive a file whose report never reaches the fulfiller."""
    crashpoint("report_upload")
    if result.status == "already_processed" and place.report_name in place.present:
        return
    transport.upload(taking.report, remote_join(place.directory, place.report_name))


def _archive(
    transport: Transport, partner: PartnerSettings, taking: _Taking, place: _Place
) -> None:
    """Step 4, archive: move the file out of the inbox (by copy where the server will not
    rename across folders), then delete its ``.done`` marker."""
    crashpoint("archive")
    try:
        move(transport, taking.remote, place.path, taking.staging)
    except RemoteNotFoundError:
        if _still_listed(transport, partner.inbox_dir, taking.name):
            raise
        # Renamed or removed by the partner while we took it: what we applied is in the
        # ledger and the local archive; under a new name it is found already processed.
        logger.warning(
            "file gone from the inbox before it could be archived", report=place.report_name
        )
    if partner.done_marker:
        with contextlib.suppress(RemoteNotFoundError):
            transport.delete(taking.remote + DONE_SUFFIX)


def _keep_locally(settings: Settings, partner: PartnerSettings, taking: _Taking, name: str) -> None:
    """Step 5, keep locally: the staged copy and its report go to the local archive."""
    archive = settings.state_dir / "archive" / partner.name
    archive.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    for source, suffix in ((taking.local, ""), (taking.report, REPORT_SUFFIX)):
        if source.exists():
            _move_file(source, archive / f"{stamp}_{name}{suffix}")


def _forget(
    store: Store, partner: PartnerSettings, result: ImportResult, taking: _Taking, place: _Place
) -> None:
    """Step 6, forget: drop the file's sighting, and note in the ledger where it went."""
    with store.begin() as connection:
        forget(connection, partner.name, taking.name)
        if result.file_id is not None and result.status != "already_processed":
            ledger.change(connection, result.file_id, utcnow(), remote_path=place.path)


def _still_listed(transport: Transport, inbox: str, name: str) -> bool:
    """Whether ``name`` is still in the inbox: a server saying "not found" about a file it
    still lists means something else (some answer 550 for a refused permission)."""
    return any(entry.name == name for entry in transport.list(inbox))


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
