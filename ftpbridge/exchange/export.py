"""The export cycle: export the partner's items waiting to ship, upload the file atomically,
and record it in the ledger as ``uploaded``; at most one upload per partner day.

An item counts as sent only when the file that holds it is on the server under its final
name: the items are marked exported (``acknowledged``) in the transaction that records the
upload, never before. A failed or abandoned upload leaves them to go again, in
``new_only`` mode too; a crash between the upload and that transaction sends them once
more next time (at least once, never lost).

Two exports of a partner never run at once (the caller holds the export lock, on every
store: ``store.locks.job_lock``), each writes a local file of its own (a name the
partner's ``outgoing`` folder does not hold yet), and the upload writes a temporary name
of its own on the server and never deletes a file it did not write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ftpbridge import deadlines
from ftpbridge.errors import AlreadyDoneError, FtpbridgeError, TargetExistsError
from ftpbridge.exchange.partners import (
    CycleOutcome,
    free_name,
    partner_layout,
    partner_transport,
)
from ftpbridge.faults import crashpoint
from ftpbridge.files.exporting import ExportResult, export_partner, file_name
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.exports import mark_sent
from ftpbridge.transport import Transport, remote_join
from ftpbridge.wording import plural

logger = structlog.get_logger()

# Writing an export may take this long before its job counts as stuck (ftpbridge.deadlines):
# a million-line export takes about 10 s (docs/benchmarks.md).
EXPORT_ALLOWANCE_SECONDS = 600
# Names tried on a server that will not replace a file it holds under the day's name.
NAMES_TRIED = 3


def export_and_upload(
    store: Store,
    settings: Settings,
    partner: PartnerSettings,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
    export_format: str | None = None,
) -> CycleOutcome:
    """Export the partner's unshipped items and upload the file to its outbox.

    ``export_format``: ``csv`` or ``xlsx``, default the partner's ``export_format``; a
    workbook goes up under its ``.xlsx`` name (:func:`exporting.file_name`).

    Refuses (AlreadyDoneError naming ``--force``) when a file was already uploaded for the
    partner's current day, unless ``force``. A normal upload first claims the day in the
    ledger (``upload_key``, unique per partner): when another replica holds it, nothing is
    uploaded and AlreadyDoneError is raised; a failed upload gives the day back.

    The caller holds the partner's export lock (``store.locks.job_lock``, on SQLite and
    PostgreSQL alike): a claim found not uploaded was therefore left by a run that is
    gone (its lock went with it), and is released here so that today's file still goes
    out.
    """
    now = now or utcnow()
    day = now.astimezone(partner.zone).date().isoformat()
    transport = partner_transport(settings, partner)
    with store.begin() as connection:
        earlier = ledger.uploaded_on(connection, partner.name, day)
        if earlier is None and not force:
            _release_abandoned_claim(connection, partner, day)
    if earlier is not None and not force:
        raise _already_uploaded(partner, day, earlier)
    outgoing = settings.state_dir / "outgoing" / partner.name
    export_format = export_format or partner.export_format
    name = _unused_export_name(store, partner, now, export_format)
    deadlines.renew(EXPORT_ALLOWANCE_SECONDS)
    result = export_partner(
        store,
        partner,
        partner_layout(settings, partner),
        outgoing,
        now=now,
        name=_unused_local_name(outgoing, name, now),
        export_format=export_format,
        mark=False,
    )
    crashpoint("export_write")
    if not force:
        _claim_day(store, partner, result, day)
    with structlog.contextvars.bound_contextvars(file=name):
        try:
            with transport:
                transport.makedirs(partner.outbox)
                crashpoint("upload")
                name = _upload(transport, partner, result.path, name, store)
        except BaseException as exc:
            if not force:
                _give_day_back(store, result, exc)
            raise
        remote = remote_join(partner.outbox, name)
        crashpoint("rename")
        with store.begin() as connection:
            ledger.change(
                connection,
                result.file_id,
                utcnow(),
                state="uploaded",
                remote_path=remote,
                name=name,
            )
            marked = mark_sent(connection, partner.name, result.item_ids, now)
        logger.info(
            "export uploaded",
            items=result.rows,
            marked=marked,
            remote=remote,
            server=transport.describe(),
        )
    # The export as the partner sees it: its name on the server (``path``: the local file).
    outcome = CycleOutcome(
        partner.name, "export", export=dataclasses.replace(result, name=name), marked=marked
    )
    outcome.lines.append(
        f"{partner.name}: exported {plural(result.rows, 'item')} and uploaded {name}"
        f" to {transport.describe()}{remote if remote.startswith('/') else '/' + remote}"
        + (
            f"; {marked:,} of them marked sent (the others shipped or were cancelled meanwhile)"
            if marked < result.rows
            else ""
        )
    )
    return outcome


def _upload(
    transport: Transport, partner: PartnerSettings, local: Path, name: str, store: Store
) -> str:
    """Upload ``local`` to the outbox as ``name``; on a server that will not replace a
    file it already holds under that name (left by a run that stopped after its rename),
    under the next free name instead. Returns the name uploaded."""
    taken = {name}
    for _attempt in range(NAMES_TRIED - 1):
        try:
            transport.upload(local, remote_join(partner.outbox, name))
            return name
        except TargetExistsError as exc:
            logger.warning("the day's name is taken on the server; trying the next", error=exc)
            with store.connect() as connection:
                taken |= ledger.export_names_like(connection, partner.name, name)
            name = free_name(name, taken)
            taken.add(name)
    transport.upload(local, remote_join(partner.outbox, name))
    return name


def _already_uploaded(
    partner: PartnerSettings, day: str, earlier: dict[str, Any]
) -> AlreadyDoneError:
    return AlreadyDoneError(
        f"{partner.name}: today's file ({day}) was already uploaded as {earlier['name']}"
        f" at {earlier['updated_at']:%H:%M} UTC; not uploading a second one",
        hint=f"ftpbridge export --partner {partner.name} --upload --force",
    )


def _release_abandoned_claim(connection: Connection, partner: PartnerSettings, day: str) -> None:
    claim = ledger.upload_claim(connection, partner.name, day)
    if claim is None:
        return
    # Not uploaded (uploaded_on found nothing), and its run no longer holds the export
    # lock we hold: it stopped before its upload finished. Its items were never marked;
    # its file never got its final name on the server, or did (a crash right after the
    # rename) and is replaced or kept beside (see _upload).
    logger.warning(
        "releasing today's upload claim of an export that never finished",
        file=claim["name"],
        claimed_at=claim["updated_at"].isoformat(),
    )
    ledger.release_upload(
        connection,
        claim["id"],
        utcnow(),
        state="abandoned",
        message="the run that claimed today's upload stopped before it finished",
    )


def _claim_day(store: Store, partner: PartnerSettings, result: ExportResult, day: str) -> None:
    """Claim the partner's day for this export; AlreadyDoneError when another has it."""
    try:
        with store.begin() as connection:
            ledger.claim_upload(connection, result.file_id, day, utcnow())
    except IntegrityError:
        with store.begin() as connection:
            holder = ledger.upload_claim(connection, partner.name, day)
            ledger.release_upload(
                connection,
                result.file_id,
                utcnow(),
                state="not_uploaded",
                message="another ftpbridge replica claimed today's upload first",
            )
        name = holder["name"] if holder else "another file"
        raise AlreadyDoneError(
            f"{partner.name}: another ftpbridge replica is uploading or uploaded today's file"
            f" ({day}, {name}); not uploading a second one",
            hint=f"ftpbridge export --partner {partner.name} --upload --force",
        ) from None


def _give_day_back(store: Store, result: ExportResult, error: BaseException) -> None:
    """The upload failed: release the claim so that a retry (any replica) can upload; the
    items were never marked, so the retry carries them all again."""
    message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
    try:
        with store.begin() as connection:
            ledger.release_upload(
                connection, result.file_id, utcnow(), state="failed", message=message
            )
    except FtpbridgeError as exc:  # the upload's own error is the one to report
        logger.error("cannot release today's upload claim", error=exc.message)


def _unused_export_name(
    store: Store, partner: PartnerSettings, now: dt.datetime, export_format: str
) -> str:
    """The template's name, with -2, -3 ... when that name was already used (a forced
    second upload must never overwrite a file the fulfiller may not have fetched yet)."""
    name = file_name(partner, now, export_format)
    with store.connect() as connection:
        used = ledger.export_names_like(connection, partner.name, name)
    return free_name(name, used)


def _unused_local_name(outgoing: Path, name: str, now: dt.datetime) -> str:
    """A name ``outgoing`` does not hold yet: ``name``, else tagged with the export's
    time (an earlier export of the day, uploaded or failed, keeps its own file)."""
    present = {path.name for path in outgoing.iterdir()} if outgoing.is_dir() else set()
    return free_name(name, present, tag=now.strftime(".%Y%m%dT%H%M%S%fZ"))
