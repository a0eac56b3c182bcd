"""The shop's drop folder for orders (``[orders] inbox``), polled by ``ftpbridge run``.

A file there is JSON Lines (one order per line, as ``orders load`` reads) or a Topspin View
Orders response (``{"response": [...]}``). It is taken once it has settled (not modified
for ``settle_seconds``; dot files and ``*.tmp``/``*.part`` names are uploads in progress and
left alone), loaded in one transaction together with its ledger row (keyed by its sha256:
the same content is never loaded twice, even by two replicas at once), and moved to
``done/`` or, when refused, to ``errors/``, with ``NAME.report.txt`` beside it saying what
was loaded or every problem found.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from ftpbridge.durable import sha256_of
from ftpbridge.errors import FtpbridgeError, InputFileError, OrdersFileError
from ftpbridge.files.intake import LoadResult, parse_file_orders, store_orders
from ftpbridge.files.order_checks import ParsedOrders, parse_orders
from ftpbridge.settings import OrdersSettings, PartnerSettings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.wording import plural

logger = structlog.get_logger()

# The ledger rows of the drop folder: no partner sends these files, the shop does.
INBOX_PARTNER = "(orders inbox)"
DIRECTION = "orders"
DONE, ERRORS = "done", "errors"
REPORT_SUFFIX = ".report.txt"
# At most this many files are looked at per poll (the first by name); the rest wait.
MAX_LISTED = 1_000
_IN_PROGRESS = (".tmp", ".part", ".partial", ".crdownload", REPORT_SUFFIX)


@dataclass(frozen=True)
class InboxOutcome:
    """What happened to one file: ``status`` loaded | already_loaded | rejected."""

    name: str
    status: str
    message: str


def settled_files(folder: Path, settle_seconds: float, now: float | None = None) -> list[Path]:
    """The files of ``folder`` ready to be taken, by name (at most MAX_LISTED looked at)."""
    now = time.time() if now is None else now
    ready: list[Path] = []
    with os.scandir(folder) as entries:
        names = sorted(
            entry.name
            for entry in entries
            if entry.is_file(follow_symlinks=False)
            and not entry.name.startswith(".")
            and not entry.name.lower().endswith(_IN_PROGRESS)
        )[:MAX_LISTED]
    for name in names:
        path = folder / name
        try:
            modified = path.stat().st_mtime
        except FileNotFoundError:
            continue
        if now - modified >= settle_seconds:
            ready.append(path)
    return ready


def poll_orders_inbox(
    store: Store,
    settings: OrdersSettings,
    folder: Path,
    partners: list[PartnerSettings],
) -> list[InboxOutcome]:
    """Take every settled file of the drop folder once; return what became of each.

    Raises InputFileError when the folder cannot be read; a bad file never raises (it goes
    to errors/ with its report)."""
    try:
        for name in (DONE, ERRORS):
            (folder / name).mkdir(parents=True, exist_ok=True)
        ready = settled_files(folder, settings.settle_seconds)
    except OSError as exc:
        raise InputFileError(
            f"cannot read the orders inbox {folder}: {exc.strerror}",
            hint="check [orders] inbox and that the service user may read and write there",
        ) from None
    outcomes = []
    for path in ready:
        outcome = _take(store, settings, path, partners)
        logger.info(
            "orders file " + outcome.status.replace("_", " "),
            file=outcome.name,
            message=outcome.message,
        )
        outcomes.append(outcome)
    return outcomes


def _take(
    store: Store, settings: OrdersSettings, path: Path, partners: list[PartnerSettings]
) -> InboxOutcome:
    name = path.name
    now = utcnow()
    sha256 = ""
    try:
        sha256, size = sha256_of(path)
        if size > settings.max_file_bytes:
            raise InputFileError(
                f"{name} is {size / 1e6:.1f} MB, over the limit of"
                f" {settings.max_file_bytes / 1e6:.0f} MB ([orders] max_file_bytes)",
                hint="split it into several files",
            )
        with store.connect() as connection:
            earlier = ledger.find_import(connection, INBOX_PARTNER, sha256)
        if earlier is not None:
            return _already(path, earlier)
        parsed = parse_inbox_file(path, partners)
        if not parsed.orders:
            raise InputFileError(f"{name} holds no orders")

        def record(connection: Any) -> None:
            ledger.record(
                connection,
                now,
                partner=INBOX_PARTNER,
                direction=DIRECTION,
                name=name[:300],
                sha256=sha256,
                size=size,
                state="applied",
                import_key=sha256,
                rows_total=len(parsed.orders),
                rows_applied=len(parsed.orders),
                local_path=str(path.parent / DONE / name),
            )

        try:
            loaded = store_orders(store, parsed, also=record)
        except IntegrityError:  # another replica loaded this very content first
            with store.connect() as connection:
                earlier = ledger.find_import(connection, INBOX_PARTNER, sha256)
            if earlier is None:
                raise
            return _already(path, earlier)
    except (InputFileError, OrdersFileError) as exc:
        problems = getattr(exc, "problems", [])
        lines = [exc.message.splitlines()[0], *(f"  - {p}" for p in problems)]
        if exc.hint:
            lines.append(f"Try: {exc.hint}")
        _reject_in_ledger(store, name, sha256, path, now, lines[0])
        _move(path, ERRORS, lines)
        return InboxOutcome(name, "rejected", lines[0])
    text = _loaded_text(name, loaded)
    _move(path, DONE, [text])
    return InboxOutcome(name, "loaded", text)


def parse_inbox_file(path: Path, partners: list[PartnerSettings]) -> ParsedOrders:
    """A Topspin View Orders response (``{"response": [...]}``), a JSON array or a single
    order as one document; otherwise JSON Lines. OrdersFileError lists every bad order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(
            f"{path.name} is not UTF-8 text", hint="orders files are JSON in UTF-8"
        ) from None
    try:
        document = json.loads(text)  # JSON Lines fail fast, at the end of the first line
    except (ValueError, RecursionError):  # JSONDecodeError, a number of 4,300+ digits
        return parse_file_orders(path, partners)
    if isinstance(document, dict) and isinstance(document.get("response"), list):
        records = [(f"response[{n}]", n, order) for n, order in enumerate(document["response"])]
    elif isinstance(document, list):
        records = [(f"[{n}]", n, order) for n, order in enumerate(document)]
    else:
        records = [("line 1", 1, document)]
    parsed = parse_orders(records, partners)
    if parsed.problems:
        raise OrdersFileError(
            f"{path.name}: {plural(len(parsed.problems), 'invalid order')}; nothing was loaded:",
            problems=[str(problem) for problem in parsed.problems],
            hint="fix these orders and put the file in the inbox again",
        )
    return parsed


def _loaded_text(name: str, loaded: LoadResult) -> str:
    summary = loaded.summary
    return (
        f"{name}: loaded {_count(loaded.orders, 'order')} ({summary.orders_new} new,"
        f" {summary.orders_updated} updated) with {_count(loaded.items, 'item')}"
        f" ({summary.items_new} new, {summary.items_updated} updated,"
        f" {summary.items_kept_shipped} already shipped and kept)"
        + (f"; {_count(loaded.unrouted, 'item')} match no partner" if loaded.unrouted else "")
    )


def _count(number: int, word: str) -> str:
    return f"{number} {word}" + ("" if number == 1 else "s")


def _already(path: Path, earlier: dict[str, Any]) -> InboxOutcome:
    text = (
        f"{path.name} was already loaded on {earlier['created_at']:%Y-%m-%d %H:%M} UTC"
        f" (as {earlier['name']}); nothing changed"
    )
    _move(path, DONE, [text])
    return InboxOutcome(path.name, "already_loaded", text)


def _reject_in_ledger(
    store: Store, name: str, sha256: str, path: Path, now: dt.datetime, message: str
) -> None:
    try:
        with store.begin() as connection:
            ledger.record(
                connection,
                now,
                partner=INBOX_PARTNER,
                direction=DIRECTION,
                name=name[:300],
                sha256=sha256,
                size=path.stat().st_size if path.exists() else 0,
                state="rejected",
                message=message,
                local_path=str(path.parent / ERRORS / name),
            )
    except FtpbridgeError as exc:  # the file's own problem is the one to report
        logger.error("cannot record a rejected orders file", file=name, error=exc.message)


def _move(path: Path, folder: str, report: list[str]) -> None:
    """Move ``path`` into ``folder`` (a free name) with its report beside it."""
    target_folder = path.parent / folder
    target = target_folder / path.name
    number = 1
    while target.exists():
        number += 1
        stem, dot, suffix = path.name.rpartition(".")
        target = target_folder / (f"{stem}-{number}.{suffix}" if dot else f"{path.name}-{number}")
    report_path = target.with_name(target.name + REPORT_SUFFIX)
    report_path.write_text("\n".join(report) + "\n", encoding="utf-8")
    try:
        os.replace(path, target)
    except FileNotFoundError:  # another replica moved it first
        report_path.unlink(missing_ok=True)
