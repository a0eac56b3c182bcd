"""Taking one settled file from a partner's inbox, one crash-safe step after the other:
download → import → report upload → archive → keep locally → forget (``take``); and giving
up on a file that cannot be taken (``give_up``: rejected as a whole, to ``errors_dir``).

The poll cycle (``poll``) lists the inbox and calls these for each file; the steps were in
poll.py until issue 12 made both halves grow. Every step is the same for each kind of file
a poll takes (:class:`~ftpbridge.exchange.partners.PollKind`: updated files, inventory
files); the kind says whose sightings, how a file is applied (``import_updated`` for
updated files) and how one is refused unread. (About 400 lines: the six steps and the two
refusals read best in order, in one place.)

Crash safety comes from the order of the steps: the remote file is archived only after
the import committed, and an import is keyed on the file's sha256. A process killed
anywhere leaves the remote file in the inbox; the next poll downloads it again and either
imports it (nothing was committed) or finds it already processed and archives it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import structlog

from ftpbridge import deadlines
from ftpbridge.durable import fitted_name, temporary_beside
from ftpbridge.errors import (
    InputFileError,
    RemoteNotFoundError,
    TooLargeError,
    TransportError,
)
from ftpbridge.exchange.partners import PollKind, free_name, partner_layout, remote_dir
from ftpbridge.faults import crashpoint
from ftpbridge.files import events
from ftpbridge.files.import_results import ImportResult, too_large
from ftpbridge.files.importing import import_file
from ftpbridge.files.reports import write_note_report
from ftpbridge.files.validation import UNCHANGED
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.state import forget
from ftpbridge.transport import RemoteFile, Transport, move, remote_join

logger = structlog.get_logger()

REPORT_SUFFIX = ".report.csv"
DONE_SUFFIX = ".done"
# An import may take this long per byte of its file before its job counts as stuck
# (ftpbridge.deadlines): 100 kB/s, thirty times slower than measured (docs/benchmarks.md).
IMPORT_SECONDS_PER_BYTE = 1 / 100_000


class CannotTake(Exception):
    """Raised by ``take`` when this file could not be downloaded although the server
    works (a refusal, a link to a folder, a FIFO, a transfer too slow): the poll counts
    it for this file and goes on with the others. ``error`` is the transport's error."""

    def __init__(self, error: TransportError) -> None:
        super().__init__(error.message)
        self.error = error


def take(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    transport: Transport,
    entry: RemoteFile,
    kind: PollKind,
) -> ImportResult | None:
    """Take one settled file, one crash-safe step after the other:

    download → import → report upload → archive → keep locally → forget.

    A crash may cut any step short (the reliability tests arm each crash point): until
    *archive* has moved it, the file stays in the inbox and the next poll takes it again,
    its import then found already processed (the ledger knows its sha256). A file over the
    size limit is refused instead of downloaded and imported: listed over it, or sending
    more than it while it downloads, whatever size the server announced (the download
    stops there, and nothing of it is kept). None when the file is gone from the inbox
    before it could be downloaded: nothing to take, not a failure. Raises CannotTake when
    this file's download failed while the server still answers; TransportError when the
    server does not. ``kind`` applies the file (and refuses one over the limit).
    """
    taking = _Taking.of(settings, partner, entry)
    result = _refuse_if_too_large(store, settings, partner, taking, kind)
    if result is None:
        try:
            downloaded = _download(store, settings, partner, transport, taking, kind)
        except TooLargeError as exc:
            result = _refuse_sent_too_much(store, partner, taking, exc, kind)
        else:
            if not downloaded:
                return None
            crashpoint("download")
            # Step 2, import: the job may take this long more (ftpbridge.deadlines).
            size = taking.local.stat().st_size
            deadlines.renew(partner.timeout + size * IMPORT_SECONDS_PER_BYTE)
            result = kind.apply(store, settings, partner, taking.local, taking.report, taking.name)
    place = _archive_place(transport, partner, result, entry.name)
    _upload_report(transport, result, taking, place)
    _archive(transport, partner, taking, place, settings.daemon.max_file_bytes)
    kept = _keep_locally(settings, partner, taking, place.name)
    _forget(store, partner, result, taking, place, kept, kind)
    return result


def give_up(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    transport: Transport,
    entry: RemoteFile,
    kind: PollKind,
    *,
    tries: int,
    reason: str,
) -> ImportResult:
    """A file that could not be taken ``tries`` times in a row: rejected as a whole (a
    ledger entry and a one-line report saying why), moved to ``errors_dir`` with its
    report by the same steps as a file refused as too large. Raises TransportError when
    the server will not let it be moved either."""
    taking = _Taking.of(settings, partner, entry)
    refusal = InputFileError(
        f"{entry.name} could not be taken in {tries} polls in a row and was given up on: {reason}",
        hint="fix the file on the server (or its permissions) and put it back in the inbox",
    )
    result = kind.refuse(
        store,
        partner.name,
        entry.name,
        entry.size or 0,
        refusal,
        report_path=taking.report,
        now=utcnow(),
    )
    place = _archive_place(transport, partner, result, entry.name)
    _upload_report(transport, result, taking, place)
    _archive(transport, partner, taking, place, settings.daemon.max_file_bytes)
    kept = _keep_locally(settings, partner, taking, place.name)
    _forget(store, partner, result, taking, place, kept, kind)
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
        return self.staging / fitted_name(self.name)

    @property
    def report(self) -> Path:
        # Within the 255 bytes of a file name, for any name the server can hold.
        return self.staging / fitted_name(self.name, REPORT_SUFFIX)


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
        return fitted_name(self.name, REPORT_SUFFIX)


def _refuse_if_too_large(
    store: Store, settings: Settings, partner: PartnerSettings, taking: _Taking, kind: PollKind
) -> ImportResult | None:
    """A file listed over ``max_file_bytes`` is rejected as a whole before it is read:
    never download what we would refuse anyway. None for a file to download."""
    limit = settings.daemon.max_file_bytes
    if taking.size is None or taking.size <= limit:
        return None
    error = too_large(taking.name, taking.size, limit, not_done="downloaded")
    result = kind.refuse(
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


def _refuse_sent_too_much(
    store: Store, partner: PartnerSettings, taking: _Taking, error: TooLargeError, kind: PollKind
) -> ImportResult:
    """The server sent more than ``max_file_bytes`` (whatever it announced): the download
    was stopped, nothing of it kept; the file is rejected as a whole, like one listed
    over the limit, and goes to ``errors_dir`` with its report."""
    announced = f"; it was listed as {taking.size:,} bytes" if taking.size is not None else ""
    refusal = InputFileError(
        f"{taking.name} is over the limit of {error.limit / 1e6:.0f} MB (max_file_bytes):"
        f" the server sent more than {error.limit:,} bytes{announced}; the download was"
        " stopped and nothing of it was kept",
        hint="split the file, or raise [daemon] max_file_bytes",
    )
    result = kind.refuse(
        store,
        partner.name,
        taking.name,
        error.size,
        refusal,
        report_path=taking.report,
        now=utcnow(),
    )
    logger.warning("file over the size limit while downloading; refused", sent=error.size)
    _log_imported(result)
    return result


def _download(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    transport: Transport,
    taking: _Taking,
    kind: PollKind,
) -> bool:
    """Step 1, download into staging, stopped past ``max_file_bytes`` (TooLargeError).
    False when the partner renamed or removed the file since the listing (its sighting is
    forgotten). CannotTake when this file failed and the server still lists the inbox
    (so it is the file, not the server: a transient error, already retried, is asked
    about that way too); a TransportError from that listing says it is the server."""
    try:
        transport.download(taking.remote, taking.local, max_bytes=settings.daemon.max_file_bytes)
    except TooLargeError:
        raise
    except TransportError as exc:
        if not _still_listed(transport, partner.inbox_dir, taking.name):
            logger.warning("file gone from the inbox before it was downloaded; skipped")
            with store.begin() as connection:
                forget(connection, kind.sightings_key(partner.name), taking.name)
            return False
        raise CannotTake(exc) from exc
    return True


def import_updated(
    store: Store, settings: Settings, partner: PartnerSettings, local: Path, report: Path, name: str
) -> ImportResult:
    """Step 2 for an updated file (``UPDATED``'s apply): validate and apply in one
    transaction, the report written beside the staged copy (a file already processed gets
    a one-line report saying so)."""
    result = import_file(
        store,
        partner,
        partner_layout(settings, partner),
        local,
        report_path=report,
        max_file_bytes=settings.daemon.max_file_bytes,
        source_name=name,
        notify=events.for_file(settings.notify, partner),
    )
    if result.status == "already_processed":
        write_note_report(report, UNCHANGED, result.message)
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
    """Where the file and its report go: ``errors_dir`` for a file rejected as a whole (or
    an inventory snapshot held), else ``archive_dir``; the file's own name unless the
    folder holds it already."""
    refused = result.status in ("rejected_file", "held")
    wanted = partner.errors_dir if refused else partner.archive_dir
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
    transport: Transport,
    partner: PartnerSettings,
    taking: _Taking,
    place: _Place,
    max_bytes: int,
) -> None:
    """Step 4, archive: move the file out of the inbox (by copy where the server will not
    rename across folders), then delete its ``.done`` marker."""
    crashpoint("archive")
    try:
        move(transport, taking.remote, place.path, taking.staging, max_bytes=max_bytes)
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


def _keep_locally(
    settings: Settings, partner: PartnerSettings, taking: _Taking, name: str
) -> Path | None:
    """Step 5, keep locally: the staged copy and its report go to the local archive.
    Returns where the copy went (a file refused unread has only its report there), or
    None when nothing was moved."""
    archive = settings.state_dir / "archive" / partner.name
    archive.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    kept = None
    for source, suffix in ((taking.local, ""), (taking.report, REPORT_SUFFIX)):
        if source.exists():
            _move_file(source, archive / fitted_name(f"{stamp}_{name}", suffix))
            kept = kept or archive / fitted_name(f"{stamp}_{name}", "")
    return kept


def _forget(
    store: Store,
    partner: PartnerSettings,
    result: ImportResult,
    taking: _Taking,
    place: _Place,
    kept: Path | None,
    kind: PollKind,
) -> None:
    """Step 6, forget: drop the file's sighting, and note in the ledger where it went: the
    remote archive, and the local copy (the console offers it for download, its report
    beside it as ``NAME.report.csv``)."""
    with store.begin() as connection:
        forget(connection, kind.sightings_key(partner.name), taking.name)
        if result.file_id is not None and result.status != "already_processed":
            where = {"local_path": str(kept)} if kept is not None else {}
            ledger.change(connection, result.file_id, utcnow(), remote_path=place.path, **where)


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
