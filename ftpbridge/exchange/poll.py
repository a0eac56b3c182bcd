"""The poll cycle: list the inbox → keep settled files matching the pattern → take each
(``taking``: download to staging → import in one transaction → archive remotely, in
``archive_dir`` or, for a file rejected as a whole, ``errors_dir``, with its report next to
it → keep a local copy).

A file that cannot be taken (a refused download, a link to a folder, a FIFO, a transfer
too slow) never blocks the others: it is reported with its reason, counted on its
sighting, tried again at the next poll, and given up on once it failed ``alert_after``
polls in a row: moved to ``errors_dir`` with a report saying why, or, when the server will
not let it be moved either, skipped from then on with an alert. Crash safety is the
steps' (see ``taking``).

A poll takes one kind of file (:class:`~ftpbridge.exchange.partners.PollKind`): updated
files (``UPDATED``, the default) or a warehouse's inventory files (``exchange/inventory.py``),
each with its own pattern, sightings, apply and refusal; every other step is the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import fnmatch
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog

from ftpbridge.errors import EXIT_ATTENTION, TransportError
from ftpbridge.exchange.partners import CycleOutcome, PollKind, partner_transport
from ftpbridge.exchange.taking import (
    DONE_SUFFIX,
    REPORT_SUFFIX,
    CannotTake,
    give_up,
    import_updated,
    take,
)
from ftpbridge.faults import crashpoint
from ftpbridge.files.import_results import ImportResult, refuse_unread
from ftpbridge.logs import shown
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.state import Seen, failures_of, forget_unlisted, observe, record_failure
from ftpbridge.transport import RemoteFile, Transport, is_partial_upload

logger = structlog.get_logger()

__all__ = ["DONE_SUFFIX", "REPORT_SUFFIX", "UPDATED", "is_candidate", "poll_once"]


def is_candidate(entry: RemoteFile, partner: PartnerSettings, kind: PollKind | None = None) -> bool:
    """A file in the inbox that the partner means for us: matches the kind's pattern
    (``updated_pattern`` by default), is not a directory, an upload in progress, a marker
    or one of our reports. A file named like an inventory file is never an updated file."""
    name = entry.name
    if entry.is_dir or is_partial_upload(name):
        return False
    lowered = name.casefold()
    if lowered.endswith(REPORT_SUFFIX) or lowered.endswith(DONE_SUFFIX):
        return False
    kind = kind or UPDATED
    pattern = kind.pattern(partner)
    if not pattern or not fnmatch.fnmatchcase(lowered, pattern.casefold()):
        return False
    inventory = partner.inventory_pattern
    return kind.name != "updated" or not (
        inventory and fnmatch.fnmatchcase(lowered, inventory.casefold())
    )


def poll_once(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    *,
    now: dt.datetime | None = None,
    stop: Callable[[], bool] = lambda: False,
    kind: PollKind | None = None,
) -> CycleOutcome:
    """List the partner's inbox once and take every settled file of ``kind`` (updated
    files by default).

    ``stop`` is asked between files: a daemon shutting down takes no new file. A file
    that cannot be taken is counted and reported (exit code 1); the others are taken.
    Raises TransportError when the server cannot be used (files already taken stay done).
    """
    now = now or utcnow()
    kind = kind or UPDATED
    outcome = CycleOutcome(partner.name, kind.job)
    transport = partner_transport(settings, partner)
    inbox = partner.inbox_dir
    key = kind.sightings_key(partner.name)
    with _staging(settings, partner), transport:
        crashpoint("list")
        entries = transport.list(inbox)
        candidates = {e.name: e for e in entries if is_candidate(e, partner, kind)}
        ready = _settled(store, partner, key, entries, candidates, now)
        with store.begin() as connection:
            forget_unlisted(connection, key, (entry.name for entry in entries))
            failed = failures_of(connection, key)
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
            with structlog.contextvars.bound_contextvars(file=shown(name)):
                line = _take_one(
                    store, settings, partner, transport, candidates[name], failed, kind
                )
            if isinstance(line, ImportResult):
                outcome.imports.append(line)
                outcome.lines.append(kind.describe(line))
                if line.status in ("rejected_file", "held") or line.rejected:
                    outcome.exit_code = max(outcome.exit_code, EXIT_ATTENTION)
            else:
                outcome.lines.append(line)
                if not line.endswith(": gone before it was downloaded"):
                    outcome.exit_code = max(outcome.exit_code, EXIT_ATTENTION)
    if not outcome.imports and not outcome.lines:
        outcome.lines.append(f"{partner.name}: no {kind.name} files waiting in {shown(inbox)}")
    return outcome


def _settled(
    store: Store,
    partner: PartnerSettings,
    key: str,
    entries: list[RemoteFile],
    candidates: dict[str, RemoteFile],
    now: dt.datetime,
) -> list[str]:
    """The candidates ready to take: with their ``.done`` marker, or settled (sightings
    recorded under ``key``, the kind's)."""
    if partner.done_marker:
        markers = {
            entry.name[: -len(DONE_SUFFIX)] for entry in entries if entry.name.endswith(DONE_SUFFIX)
        }
        return sorted(name for name in candidates if name in markers)
    listed = [
        Seen(entry.name, entry.size, entry.mtime.isoformat() if entry.mtime else None)
        for entry in candidates.values()
    ]
    with store.begin() as connection:
        return sorted(observe(connection, key, listed, now, partner.settle_seconds))


def _take_one(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    transport: Transport,
    entry: RemoteFile,
    failed: dict[str, tuple[int, str | None]],
    kind: PollKind,
) -> ImportResult | str:
    """Take one file; what it came to, or a line saying why it was not taken."""
    name = entry.name
    tries, last_error = failed.get(name, (0, None))
    if tries >= partner.alert_after:
        logger.warning("file skipped: it could not be taken nor moved", tries=tries)
        return (
            f"{partner.name}: {shown(name)}: skipped: it failed {tries} polls in a row and"
            f" could not be moved to {partner.errors_dir} ({last_error}); move or rename it"
            " on the server to have it taken again"
        )
    try:
        result = take(store, settings, partner, transport, entry, kind)
    except CannotTake as exc:
        return _failed(store, settings, partner, transport, entry, exc.error, kind)
    if result is None:
        return f"{partner.name}: {shown(name)}: gone before it was downloaded"
    return result


def _failed(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    transport: Transport,
    entry: RemoteFile,
    error: TransportError,
    kind: PollKind,
) -> ImportResult | str:
    """Count a failed take of ``entry``; at ``alert_after`` give it up (errors_dir)."""
    key = kind.sightings_key(partner.name)
    with store.begin() as connection:
        tries = record_failure(connection, key, entry.name, utcnow(), error=error.message)
    logger.warning(
        "file could not be taken; the others are",
        error=error.message,
        tries=tries,
        alert_after=partner.alert_after,
    )
    line = (
        f"{partner.name}: {shown(entry.name)}: could not be taken"
        f" ({tries} of {partner.alert_after} tries): {error.message}"
    )
    if tries < partner.alert_after:
        return line + "; tried again at the next poll"
    message = f"{partner.name}: {shown(entry.name)} could not be taken in {tries} polls in a row"
    try:
        result = give_up(
            store, settings, partner, transport, entry, kind, tries=tries, reason=error.message
        )
    except TransportError as exc:
        with store.begin() as connection:
            record_failure(connection, key, entry.name, utcnow(), error=exc.message)
        logger.error(
            "alert",
            message=f"{message}, nor moved to {partner.errors_dir}: skipped from now on",
            error=exc.message,
        )
        return f"{line}; it cannot be moved to {partner.errors_dir} either: {exc.message}"
    logger.error("alert", message=f"{message}; moved to {partner.errors_dir}", error=error.message)
    return result


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
    name = shown(result.file_name)
    if result.status == "already_processed":
        return f"{result.partner}: {name}: already processed; archived again"
    if result.status == "rejected_file":
        return f"{result.partner}: {name}: rejected as a whole: {shown(result.message)}"
    return (
        f"{result.partner}: {name}: {_rows(result.rows)}: {result.applied} applied,"
        f" {result.unchanged} unchanged, {result.rejected} rejected"
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


UPDATED = PollKind(
    name="updated",
    job="poll",
    pattern=lambda partner: partner.updated_pattern,
    apply=import_updated,
    refuse=refuse_unread,
    describe=_describe,
)
