"""Helpers for the reliability suite: a site (store + partners on real servers), the
fulfiller's side (writing updated files onto the server's disk), and the checks every case
ends with: each file applied exactly once, no update lost, nothing half-written anywhere.

The checks measure before they assert, so the figures (``scripts/reliability``) count what
was really found: files lost, files applied twice, updates lost, partial files left. An
import is measured in the store (``tally``), an export in the partner's outbox
(``export_tally``): the same figures, counted from what is there.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from ftpbridge.exchange.jobs import run_job
from ftpbridge.exchange.status import partner_status
from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings, build_settings
from ftpbridge.store import Store, open_store
from ftpbridge.store.engine import driver_sql
from tests.servers import FTPServer, SSHServer, start_ftp_server
from tests.servers import wait_for as _wait_for

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLES = REPOSITORY / "examples" / "orders.jsonl"
FTPBRIDGE = str(Path(sys.executable).parent / "ftpbridge")
UPS = "1Z5R89390357567127"
AUDIT_ROWS_PER_SHIPMENT = 4  # status, shipped_date, carrier, tracking_number
# examples/orders.jsonl: 17 items to ship (one is cancelled); AC-* SKUs are bravo's.
ITEMS = {"acme": 13, "bravo": 4}
UPDATED = "Shop-orders-csv-updated_5.1.2011.csv"
# Fault cases look for short-lived states (a .part file mid-transfer): poll tightly.
wait_for = functools.partial(_wait_for, interval=0.002)


def ftp_table(server: FTPServer, base: str, **extra: Any) -> dict[str, Any]:
    """A partner table for ``server`` with its outbox/inbox under ``base``."""
    return {
        "transport": server.kind,
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "password": server.password,
        "outbox": f"{base}/out",
        "inbox": f"{base}/in",
        "settle_seconds": 0,
        "timeout": 2,
        **({"ca_file": str(server.ca_file)} if server.ca_file else {}),
        **extra,
    }


def sftp_table(sshd: SSHServer, base: str, **extra: Any) -> dict[str, Any]:
    """A partner table for the OpenSSH server with its outbox/inbox under ``base``."""
    return {
        "transport": "sftp",
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "password": sshd.password,
        "known_hosts": str(sshd.known_hosts),
        "outbox": f"{sshd.remote_root}{base}/out",
        "inbox": f"{sshd.remote_root}{base}/in",
        "settle_seconds": 0,
        "timeout": 2,
        **extra,
    }


@dataclass
class Site:
    """A store with the sample orders and partners on real servers.

    ``disks[partner]`` is the folder on the server's disk that holds the partner's ``in``
    and ``out`` folders; ``owners[partner]`` the uid/gid files there must belong to (SFTP).
    """

    folder: Path
    settings: Settings
    store: Store
    disks: dict[str, Path]
    owners: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    config_path: Path | None = None

    def partner(self, name: str = "acme") -> Any:
        return self.settings.partners[name]

    def inbox(self, name: str = "acme") -> Path:
        return self.disks[name] / "in"

    def outbox(self, name: str = "acme") -> Path:
        return self.disks[name] / "out"

    def give(self, path: Path, name: str = "acme") -> None:
        owner = self.owners.get(name)
        if owner is not None:
            os.chown(path, *owner)

    def drop(
        self,
        file_name: str,
        partner: str = "acme",
        *,
        padding: int = 0,
        tracking: str = UPS,
    ) -> Path:
        """Write the fulfiller's updated file (every item of ``partner`` shipped by UPS
        today) into the partner's inbox on the server's disk, complete under its name."""
        return write_updated(
            self.store,
            partner,
            self.inbox(partner) / file_name,
            padding=padding,
            tracking=tracking,
            give=lambda path: self.give(path, partner),
        )

    def rebuild(self, **partner_changes: dict[str, Any]) -> None:
        """Rebuild the settings with some partner keys changed (e.g. a server that moved)."""
        raw = self.raw
        for name, changes in partner_changes.items():
            raw["partners"][name].update(changes)
        self.settings = build_settings(raw, config_path=self.config_path)

    raw: dict[str, Any] = field(default_factory=dict)
    hung: int = 0  # jobs of this site that did not end (bounded_job)


def make_site(
    folder: Path,
    partners: dict[str, dict[str, Any]],
    disks: dict[str, Path],
    *,
    owners: dict[str, tuple[int, int] | None] | None = None,
    store_url: str | None = None,
) -> Site:
    """Settings, a store with examples/orders.jsonl loaded, and in/out folders on disk.

    The first partner is the default (takes every SKU); ``bravo`` takes the ``AC-*`` SKUs.
    """
    raw: dict[str, Any] = {
        "store": {"url": store_url or f"sqlite:///{folder / 'store.db'}"},
        "daemon": {"state_dir": str(folder / "state")},
        "partners": {},
    }
    for index, (name, table) in enumerate(partners.items()):
        table = dict(table)
        if index == 0:
            table["default"] = True
        if name == "bravo":
            table["skus"] = ["AC-*"]
        raw["partners"][name] = table
    config_path = folder / "config.toml"
    settings = build_settings(raw, config_path=config_path)
    for name, disk in disks.items():
        for sub in ("in", "out"):
            (disk / sub).mkdir(parents=True, exist_ok=True)
            if owners and owners.get(name):
                os.chown(disk / sub, *owners[name])  # type: ignore[misc]
        if owners and owners.get(name):
            os.chown(disk, *owners[name])  # type: ignore[misc]
    store = open_store(settings.store_url)
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    return Site(folder, settings, store, disks, owners or {}, config_path, raw)


PADDING_PER_ROW = 100_000


def write_updated(
    store: Store,
    partner: str,
    target: Path,
    *,
    padding: int = 0,
    tracking: str = UPS,
    give: Callable[[Path], None] = lambda _path: None,
) -> Path:
    """The updated file a fulfiller sends back for every open item of ``partner``.

    ``padding``: that many extra bytes in an extra column (to make a transfer long enough
    to cut, stall or fill a disk): up to 100 kB on each item's row, the rest on filler
    rows whose other cells are empty (an import drops them), so that no row comes near
    the 2 MB a row may take. Written to a dot-name first and renamed, as a careful
    fulfiller does.
    """
    with store.connect() as connection:
        rows = connection.exec_driver_sql(
            driver_sql(
                connection,
                "select order_id, id from items where partner = ? and status != 'cancelled'"
                " order by id",
            ),
            (partner,),
        ).fetchall()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    per_row = min(padding // max(1, len(rows)), PADDING_PER_ROW)
    filler = padding - per_row * len(rows)
    # Within 255 bytes however long the target's name (long names are a case of their own).
    temporary = target.with_name(
        "." + target.name.encode()[:200].decode("utf-8", "ignore") + ".writing"
    )
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        header = ["order_id", "item_id", "shipped", "shipped_date", "carrier", "tracking_number"]
        writer.writerow([*header, "note"] if padding else header)
        for order_id, item_id in rows:
            row = [order_id, item_id, "TRUE", today, "UPS", tracking]
            writer.writerow([*row, "x" * per_row] if padding else row)
        while filler > 0:
            writer.writerow(["", "", "", "", "", "", "y" * min(filler, PADDING_PER_ROW)])
            filler -= PADDING_PER_ROW
    give(temporary)
    temporary.rename(target)
    return target


# --------------------------------------------------------------------------- checks


@dataclass
class Tally:
    """What a case left behind, measured: the figures the suite reports.

    For imports (``tally``): files applied, lost or applied twice, and item updates lost,
    read from the store. For exports (``export_tally``): files in the outbox, lost or sent
    twice, and open items missing from them. ``partial_files``: temporary or incomplete
    files seen or left anywhere (set by the checks that look for them). None: the figure
    does not apply to the case (nothing was measured), never a zero written by hand."""

    files_expected: int
    files_applied: int
    files_lost: int
    applied_twice: int | None
    updates_expected: int | None
    updates_lost: int | None
    partial_files: int = 0
    hung: int = 0
    """Jobs that did not end by themselves (``bounded_job``): a hostile server must never
    keep one running."""


def tally(store: Store, *, files: int, shipped: int, tracking: str = UPS) -> Tally:
    """Measure exactly-once: ``files`` distinct files should be applied once each and
    ``shipped`` items shipped with ``tracking``, with one audit row per changed field."""
    with store.connect() as connection:
        keys = connection.exec_driver_sql(
            "select import_key, count(*) from files where direction = 'import'"
            " and state = 'applied' group by import_key"
        ).fetchall()
        audit_rows = connection.exec_driver_sql("select count(*) from audit").scalar() or 0
        good = (
            connection.exec_driver_sql(
                driver_sql(
                    connection,
                    "select count(*) from items where status = 'shipped' and tracking_number = ?",
                ),
                (tracking,),
            ).scalar()
            or 0
        )
    twice = sum(count - 1 for _key, count in keys)
    expected_audit = shipped * AUDIT_ROWS_PER_SHIPMENT
    # Audit rows beyond one set per shipped item mean an update was applied again.
    twice += max(0, audit_rows - expected_audit) // AUDIT_ROWS_PER_SHIPMENT
    return Tally(
        files_expected=files,
        files_applied=len(keys),
        files_lost=max(0, files - len(keys)),
        applied_twice=twice,
        updates_expected=shipped,
        updates_lost=max(0, shipped - good),
    )


def no_partial_files(*folders: Path) -> list[str]:
    """Temporary or partial files left anywhere under ``folders`` (uploads in progress,
    downloads in progress, our own ``.writing`` files excluded as they are the test's)."""
    found = []
    for folder in folders:
        if not folder.exists():
            continue
        for path in folder.rglob("*"):
            if path.name.endswith(".part") or path.name.endswith(".tmp"):
                found.append(str(path))
    return found


def local_exports(site: Site, partner: str = "acme") -> dict[str, Path]:
    """Name on the server → the local file ftpbridge wrote, for every uploaded export (an
    export's local file has a name of its own when an earlier one of the day kept it)."""
    with site.store.connect() as connection:
        rows = connection.exec_driver_sql(
            driver_sql(
                connection,
                "select name, local_path from files where partner = ? and direction = 'export'"
                " and state = 'uploaded'",
            ),
            (partner,),
        ).fetchall()
    return {str(name): Path(local_path) for name, local_path in rows}


def outbox_complete(site: Site, partner: str = "acme") -> list[str]:
    """Problems with the partner's outbox: every file under a final name must be a complete
    export, byte for byte what ftpbridge wrote locally and recorded as uploaded."""
    problems = []
    local = local_exports(site, partner)
    for path in site.outbox(partner).iterdir():
        if path.name.startswith("."):
            problems.append(f"temporary file visible in the outbox: {path.name}")
            continue
        original = local.get(path.name)
        if original is None or not original.exists() or original.read_bytes() != path.read_bytes():
            problems.append(f"{path.name} in the outbox is not the complete export")
    return problems


def open_item_ids(store: Store, partner: str) -> set[str]:
    """The ids of the partner's items an export must carry (neither shipped nor cancelled)."""
    with store.connect() as connection:
        rows = connection.exec_driver_sql(
            driver_sql(
                connection,
                "select id from items where partner = ? and status not in ('shipped', 'cancelled')",
            ),
            (partner,),
        ).fetchall()
    return {str(item_id) for (item_id,) in rows}


def export_tally(site: Site, partner: str = "acme", *, expected_items: set[str]) -> Tally:
    """Measure an export cycle in the partner's outbox: one file expected today, complete
    (byte for byte what ftpbridge wrote and recorded), carrying every item of
    ``expected_items`` (the open items before the export: exporting acknowledges them).
    A second complete file is an export sent twice; a temporary or incomplete file under
    any name counts as partial."""
    local = local_exports(site, partner)
    complete: list[Path] = []
    partial = 0
    for path in sorted(site.outbox(partner).iterdir()):
        original = local.get(path.name)
        if path.name.startswith(".") or original is None or not original.exists():
            partial += 1
        elif original.read_bytes() != path.read_bytes():
            partial += 1
        else:
            complete.append(path)
    carried: set[str] = set()
    for path in complete:
        with path.open(encoding="utf-8", newline="") as handle:
            carried |= {row["item_id"] for row in csv.DictReader(handle)}
    return Tally(
        files_expected=1,
        files_applied=len(complete),
        files_lost=max(0, 1 - len(complete)),
        applied_twice=max(0, len(complete) - 1),
        updates_expected=len(expected_items),
        updates_lost=len(expected_items - carried),
        partial_files=partial,
    )


def record_and_check(figures: Any, case: str, measured: Tally, detail: Any = None) -> None:
    """Record ``measured`` for ``case``, then assert that nothing was lost, applied (or
    sent) twice or left partial: the figures and the test say the same thing."""
    figures.fault(case, measured)
    assert measured.hung == 0, (measured, detail)
    assert measured.files_lost == 0, (measured, detail)
    assert not measured.applied_twice, (measured, detail)
    assert not measured.updates_lost, (measured, detail)
    assert measured.partial_files == 0, (measured, detail)


def assert_clean(site: Site, figures: Any, case: str, *, files: int, shipped: int) -> None:
    """The end of every import case: measured (store and leftovers), recorded, asserted."""
    measured = tally(site.store, files=files, shipped=shipped)
    leftovers = no_partial_files(*site.disks.values(), site.settings.state_dir)
    measured.partial_files = len(leftovers)
    measured.hung = site.hung
    record_and_check(figures, case, measured, leftovers)


def assert_export_clean(
    site: Site, figures: Any, case: str, *, expected_items: set[str], partner: str = "acme"
) -> None:
    """The end of every export case: the outbox measured, recorded, asserted."""
    measured = export_tally(site, partner, expected_items=expected_items)
    leftovers = no_partial_files(site.settings.state_dir)
    measured.partial_files += len(leftovers)
    record_and_check(figures, case, measured, [*outbox_complete(site, partner), *leftovers])


def archived(site: Site, name: str = UPDATED, partner: str = "acme") -> bool:
    archive = site.inbox(partner) / "archive"
    return (archive / name).exists() and (archive / (name + ".report.csv")).exists()


def acme_on(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, **server_options: Any
) -> tuple[dict[str, Any], Path, tuple[int, int] | None, Any]:
    """acme's partner table, folder on disk and owner on a fresh FTP server or on sshd."""
    if kind == "sftp":
        sshd: SSHServer = request.getfixturevalue("sshd")
        base = f"/{tmp_path.name}"
        disk = sshd.upload_dir / tmp_path.name
        disk.mkdir()
        owner = (sshd.uid, sshd.gid)
        os.chown(disk, *owner)
        request.addfinalizer(lambda: shutil.rmtree(disk, ignore_errors=True))
        return sftp_table(sshd, base), disk, owner, sshd
    home = tmp_path / "acme-ftp"
    (home / "acme").mkdir(parents=True, exist_ok=True)
    server = start_ftp_server(home, **server_options)
    request.addfinalizer(server.stop)
    return ftp_table(server, "/acme"), home / "acme", None, server


# --------------------------------------------------------------------------- jobs


@dataclass
class JobRun:
    """One daemon job (``run_job``) run in-process, with what it logged."""

    ok: bool | None
    logs: list[dict[str, Any]]

    def events(self, level: str | None = None) -> list[str]:
        return [
            str(entry.get("event"))
            for entry in self.logs
            if level is None or entry.get("log_level") == level
        ]

    def exceptions(self) -> list[dict[str, Any]]:
        """Log entries that carry an exception (``logger.exception``: something unexpected
        escaped the cycle's own error handling)."""
        return [entry for entry in self.logs if entry.get("exc_info")]

    def retries(self, partner: str | None = None) -> list[dict[str, Any]]:
        """The transport's "retrying" warnings (one before each new attempt)."""
        return [
            entry
            for entry in self.logs
            if "retrying" in str(entry.get("event"))
            and (partner is None or entry.get("partner") == partner)
        ]

    def text(self) -> str:
        return "\n".join(repr(entry) for entry in self.logs)


# A job that has not ended after this long is hung (a hang detector for bounded_job, far
# beyond any bound the job has: never a measure of speed).
HANG_SECONDS = 600


def bounded_job(site: Site, partner: str = "acme", kind: str = "poll") -> tuple[JobRun, int]:
    """``job`` in a thread of its own: (its run, 1 if it had not ended after HANG_SECONDS,
    else 0), so that a case against a hostile server records a hung job as a figure
    instead of hanging the test run."""
    outcome: dict[str, JobRun] = {}
    thread = threading.Thread(target=lambda: outcome.update(run=job(site, partner, kind)))
    thread.start()
    thread.join(timeout=HANG_SECONDS)
    if thread.is_alive():
        site.hung += 1
        return JobRun(None, []), 1
    return outcome["run"], 0


def job(site: Site, partner: str = "acme", kind: str = "poll") -> JobRun:
    """Run the daemon's own job function for ``partner`` once (records status, logs)."""
    with capture_logs(processors=[merge_contextvars]) as logs:
        ok = run_job(
            site.store, site.settings, site.partner(partner), kind, replica="reliability-test"
        )
    return JobRun(ok, logs)


def jobs_side_by_side(site: Site, runs: dict[str, str]) -> dict[str, JobRun]:
    """Run several partners' jobs at once in threads, as the daemon's pool does, and
    return each partner's JobRun (logs are shared, in the order they were written:
    capture_logs is process-wide)."""
    results: dict[str, JobRun] = {}

    def one(partner: str, kind: str) -> None:
        with structlog.contextvars.bound_contextvars():
            ok = run_job(
                site.store, site.settings, site.partner(partner), kind, replica="reliability"
            )
        results[partner] = JobRun(ok, [])

    with capture_logs(processors=[merge_contextvars]) as logs:
        threads = [
            threading.Thread(target=one, args=(partner, kind)) for partner, kind in runs.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    for result in results.values():
        result.logs = logs
    return results


def status_of(site: Site, partner: str = "acme") -> dict[str, Any]:
    return next(row for row in partner_status(site.store, site.settings) if row["name"] == partner)


# --------------------------------------------------------------------------- processes


def process_tree(pid: int) -> list[int]:
    """Every descendant of ``pid``, from one pass over /proc (a few milliseconds: the cut
    tests kill a transfer mid-way, and pgrep per level was slow enough to miss it)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        kids = children.get(queue.pop(), [])
        found += kids
        queue += kids
    return found


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


@contextmanager
def frozen_sessions(sshd: SSHServer) -> Iterator[list[int]]:
    """Freeze (SIGSTOP) every session process of ``sshd`` (not the listener), yield their
    ids; they are killed with SIGKILL on exit: the connection dies mid-operation."""
    sessions = process_tree(sshd.process.pid)
    signal_all(sessions, signal.SIGSTOP)
    try:
        yield sessions
    finally:
        signal_all(sessions, signal.SIGKILL)
        signal_all(sessions, signal.SIGCONT)


# --------------------------------------------------------------------------- bad servers


class DeadEnd:
    """A loopback port where a server is unreachable or stalls, for real.

    ``"black_hole"``: SYNs are dropped (the listener's accept queue is full and nobody
    accepts), so a connect times out exactly as behind a firewall that drops packets.
    ``"stall"``: connections are accepted and then nothing is ever said (no banner).
    """

    def __init__(self, kind: str) -> None:
        import socket

        self.kind = kind
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._closed = threading.Event()
        if kind == "black_hole":
            self._listener.listen(0)
            # One connection fills the queue; nobody accepts it, so later SYNs are dropped.
            self._held.append(socket.create_connection(("127.0.0.1", self.port), timeout=1))
        else:
            self._listener.listen(16)
            threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)  # kept open, never answered

    def close(self) -> None:
        self._closed.set()
        for connection in self._held:
            connection.close()
        self._listener.close()


def write_config(site: Site) -> Path:
    """Write the site's settings as a TOML config file (for the ``ftpbridge`` command)."""
    import json

    lines = [f"[store]\nurl = {json.dumps(site.settings.store_url)}\n"]
    lines.append(f"[daemon]\nstate_dir = {json.dumps(str(site.settings.state_dir))}\n")
    for name, table in site.raw["partners"].items():
        lines.append(f"[partners.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        lines.append("")
    assert site.config_path is not None
    site.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return site.config_path


def cli(site: Site, *args: str, crash_at: str | None = None, timeout: float = 120) -> Any:
    """Run the installed ``ftpbridge`` command on the site's config as a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FTPBRIDGE_")}
    if crash_at:
        env["FTPBRIDGE_CRASH_AT"] = crash_at
    config = write_config(site)
    return subprocess.run(
        [FTPBRIDGE, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=site.folder,
        check=False,
    )
