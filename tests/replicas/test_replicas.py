"""Three ``ftpbridge run`` replicas (real subprocesses) on one PostgreSQL store and one
pyftpdlib server, with several partners and second-scale intervals: every updated file is
applied exactly once, each partner gets one export a day, and a replica killed with
SIGKILL in the middle of a job changes nothing but who does the work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

_CHECKOUT = str(Path(__file__).resolve().parents[2])
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)

from ftpbridge.store.locks import lock_key  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.runs import FTPBRIDGE, FtpbridgeRun  # noqa: E402
from tests.servers import FTPServer, start_ftp_server  # noqa: E402
from tests.servers import wait_for as _wait_for  # noqa: E402

PARTNERS = ("north", "south", "east", "west")
ORDERS_PER_PARTNER = 300  # two lines each: 600 items per partner
REPLICAS = 3
UPS = "1Z5R89390357567127"
SHIP_FIELDS = 4  # status, shipped_date, carrier, tracking_number: one audit row each


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """tests.servers.wait_for with a minute by default: three replicas start slowly."""
    return _wait_for(condition, what, timeout)


def write_orders(path: Path) -> int:
    """Orders JSON Lines: per partner ORDERS_PER_PARTNER orders of two lines, routed to the
    partner by warehouse SKU prefix. Returns the number of items."""
    lines = []
    item = 100_000
    for number, partner in enumerate(PARTNERS):
        for index in range(ORDERS_PER_PARTNER):
            order_id = (number + 1) * 100_000 + index
            entries = []
            for line in range(2):
                item += 1
                entries.append(
                    {
                        "id": item,
                        "sku_id": 10 + line,
                        "product_name": f"Record {line}",
                        "product_type": "merchandise",
                        "sku_attributes": {},
                        "factory_sku": f"{partner.upper()}-{line}",
                        "sku_upc": f"22-2222-{line:03d}",
                        "quantity": 1,
                        "status": "pending",
                    }
                )
            lines.append(
                json.dumps(
                    {
                        "id": order_id,
                        "created_at": "2026-11-11T09:15:00Z",
                        "fan": f"fan{order_id}@example.com",
                        "shipping_address": {
                            "firstname": "Ada",
                            "lastname": "Lovelace",
                            "address1": f"{index} Main Street",
                            "address2": "",
                            "city": "London",
                            "state": "",
                            "postal_code": "SW1A 1AA",
                            "country": "GB",
                            "phone": "+44 20 7946 0958",
                        },
                        "items": entries,
                    }
                )
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return item - 100_000


def config_text(store_url: str, state_dir: Path, server: FTPServer) -> str:
    parts = [
        f'[store]\nurl = "{store_url}"\n',
        f'[daemon]\nstate_dir = "{state_dir}"\nlog_level = "debug"\n'
        "export_retry_seconds = 0.5\nworkers = 4\n",
    ]
    for partner in PARTNERS:
        parts.append(
            f"[partners.{partner}]\n"
            'transport = "ftp"\nhost = "127.0.0.1"\n'
            f'port = {server.port}\nusername = "{server.username}"\n'
            f'password = "{server.password}"\n'
            f'outbox = "/{partner}/out"\ninbox = "/{partner}/in"\n'
            "settle_seconds = 0\npoll_interval = 1\ntimeout = 5\n"
            # Midnight UTC has always passed today: the missed export runs at start-up.
            'export_cron = "0 0 * * *"\ntimezone = "UTC"\n'
            f'skus = ["{partner.upper()}-*"]\n'
        )
    return "\n".join(parts)


def start_replica(folder: Path, number: int) -> FtpbridgeRun:
    """Replica ``number``: its own config and state folder (``folder/replica-N``), and log."""
    return FtpbridgeRun(folder / f"replica-{number}")


@pytest.fixture
def site(tmp_path: Path, pg_server: PostgresServer) -> Iterator[dict[str, Any]]:
    """A pyftpdlib server with an inbox and outbox per partner, a PostgreSQL store with the
    orders loaded, one config per replica (same store, own state folder)."""
    home = tmp_path / "ftp"
    for partner in PARTNERS:
        for folder in ("in", "out"):
            (home / partner / folder).mkdir(parents=True)
    server = start_ftp_server(home)
    url = pg_server.create_database()
    replicas: list[FtpbridgeRun] = []
    for number in range(1, REPLICAS + 1):
        folder = tmp_path / f"replica-{number}"
        folder.mkdir()
        (folder / "config.toml").write_text(config_text(url, folder / "state", server))
    first_config = tmp_path / "replica-1" / "config.toml"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FTPBRIDGE, "--config", str(first_config), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    orders = tmp_path / "orders.jsonl"
    items = write_orders(orders)
    loaded = cli("orders", "load", str(orders))
    assert loaded.returncode == 0, loaded.stderr
    yield {
        "home": home,
        "folder": tmp_path,
        "items": items,
        "cli": cli,
        "replicas": replicas,
        "database": pg_server.conninfo(url.rsplit("/", 1)[1]),
    }
    for replica in replicas:
        replica.close()
    server.stop()
    pg_server.drop_database(url.rsplit("/", 1)[1])


def query(site: dict[str, Any], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(site["database"], autocommit=True) as connection:
        return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]


def exports_in(home: Path, partner: str) -> list[Path]:
    return sorted(path for path in (home / partner / "out").iterdir() if path.is_file())


def drop_updated(export: Path, target: Path, rows: slice) -> int:
    """Write a fulfiller's file with the export's ``rows`` shipped today; return its rows."""
    frame = pd.read_csv(export, dtype=str, keep_default_na=False).iloc[rows].copy()
    frame["shipped"] = "TRUE"
    frame["shipped_date"] = pd.Timestamp.now(tz="UTC").date().isoformat()
    frame["carrier"] = "UPS"
    frame["tracking_number"] = UPS
    temporary = target.with_name("." + target.name + ".tmp")
    frame.to_csv(temporary, index=False)
    temporary.rename(target)
    return len(frame)


def all_archived(home: Path, names: list[tuple[str, str]]) -> bool:
    return all((home / partner / "in" / "archive" / name).exists() for partner, name in names)


def ledger_counts(site: dict[str, Any]) -> dict[str, int]:
    """What the store says, for the exactly-once assertions."""
    ((shipped,),) = query(site, "SELECT count(*) FROM items WHERE status = 'shipped'")
    ((audit,),) = query(site, "SELECT count(*) FROM audit")
    ((audit_distinct,),) = query(
        site, "SELECT count(*) FROM (SELECT DISTINCT item_id, field FROM audit) AS a"
    )
    ((imports,),) = query(
        site, "SELECT count(*) FROM files WHERE direction = 'import' AND state = 'applied'"
    )
    ((applied_rows,),) = query(
        site,
        "SELECT coalesce(sum(rows_applied), 0) FROM files"
        " WHERE direction = 'import' AND state = 'applied'",
    )
    ((uploads,),) = query(
        site, "SELECT count(*) FROM files WHERE direction = 'export' AND state = 'uploaded'"
    )
    return {
        "shipped": shipped,
        "audit": audit,
        "audit_distinct": audit_distinct,
        "imports": imports,
        "applied_rows": int(applied_rows),
        "uploads": uploads,
    }


def export_settled(replica: FtpbridgeRun, partner: str) -> bool:
    """True when ``replica`` is done with today's export of ``partner``: it logged the
    export finished or skipped (already done), or never scheduled it (it logs "missed"
    before "ftpbridge running", so once running that decision is in its log)."""
    mine = [e.get("event") for e in replica.events() if e.get("partner") == partner]
    missed = "today's export was missed; running it now" in mine
    return not missed or "export finished" in mine or "export skipped" in mine


def poll_lock_holders(site: dict[str, Any], partners: list[str]) -> dict[int, str]:
    """Client pid → partner, for the sessions holding a partner's poll lock right now.

    (An advisory lock's key shows in pg_locks as classid = high 32 bits, objid = low.)"""
    wanted = {}
    for partner in partners:
        key = lock_key(partner, "poll") & 0xFFFF_FFFF_FFFF_FFFF
        wanted[(key >> 32, key & 0xFFFF_FFFF)] = partner
    rows = query(
        site,
        "SELECT l.classid::oid::bigint, l.objid::oid::bigint, a.client_port"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted",
    )
    holders: dict[int, str] = {}
    for classid, objid, port in rows:
        partner = wanted.get((classid, objid))
        if partner is not None and port is not None:
            holders[port] = partner
    return holders


def replica_by_client_port(replicas: list[FtpbridgeRun], port: int) -> FtpbridgeRun | None:
    """The replica whose process owns the local TCP port ``port`` (from /proc)."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inode = fields[9]
    if inode is None:
        return None
    for replica in replicas:
        folder = Path(f"/proc/{replica.pid}/fd")
        try:
            links = [os.readlink(path) for path in folder.iterdir()]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return replica
    return None


@pytest.mark.slow
def test_three_replicas_apply_every_file_once_and_survive_a_kill(site: dict[str, Any]) -> None:
    """Three replicas export each partner once, apply every updated file exactly once,
    and when one is killed (SIGKILL) while it holds a poll job, the other two take over:
    nothing lost, nothing doubled; status names the replicas that ran the jobs."""
    home, replicas = site["home"], site["replicas"]
    for number in range(1, REPLICAS + 1):
        replicas.append(start_replica(site["folder"], number))
    wait_for(lambda: all(replica.running() for replica in replicas), "three running replicas")

    # One export per partner, although every replica found today's export missing.
    wait_for(lambda: all(exports_in(home, partner) for partner in PARTNERS), "the exports")
    wait_for(lambda: ledger_counts(site)["uploads"] == len(PARTNERS), "the uploads in the ledger")
    # Every replica that found an export missing at start-up has since finished it or
    # found it done (its retries ended): still one file each.
    wait_for(
        lambda: all(export_settled(r, p) for r in replicas for p in PARTNERS),
        "every replica's export check to end",
    )
    exports = {}
    for partner in PARTNERS:
        files = exports_in(home, partner)
        assert len(files) == 1, f"{partner}: {[path.name for path in files]}"
        exports[partner] = files[0]
    assert ledger_counts(site)["uploads"] == len(PARTNERS)

    # Phase 1: the first half of every partner's lines comes back shipped.
    half = ORDERS_PER_PARTNER  # two lines per order: half of the lines
    dropped: list[tuple[str, str]] = []
    rows_dropped = 0
    for partner in PARTNERS:
        name = f"{partner}-orders-updated_1.csv"
        rows_dropped += drop_updated(exports[partner], home / partner / "in" / name, slice(0, half))
        dropped.append((partner, name))
    wait_for(lambda: all_archived(home, dropped), "phase 1 files archived")
    counts = ledger_counts(site)
    assert counts["imports"] == len(PARTNERS)
    assert counts["shipped"] == counts["applied_rows"] == rows_dropped
    assert counts["audit"] == counts["audit_distinct"] == rows_dropped * SHIP_FIELDS

    # Phase 2: the rest comes back; a replica is killed while it holds a partner's poll.
    phase_two: list[tuple[str, str]] = []
    for partner in PARTNERS:
        name = f"{partner}-orders-updated_2.csv"
        rows_dropped += drop_updated(
            exports[partner], home / partner / "in" / name, slice(half, None)
        )
        phase_two.append((partner, name))

    def busy_replica() -> tuple[FtpbridgeRun, str] | None:
        waiting = [p for p, name in phase_two if (home / p / "in" / name).exists()]
        for port, partner in poll_lock_holders(site, waiting).items():
            replica = replica_by_client_port(replicas, port)
            if replica is not None:
                return replica, partner
        return None

    victim, partner_mid_poll = wait_for(busy_replica, "a replica in the middle of a poll", 30)
    victim.process.send_signal(signal.SIGKILL)
    assert victim.process.wait(timeout=10) == -signal.SIGKILL
    survivors = [replica for replica in replicas if replica is not victim]
    dropped += phase_two
    wait_for(lambda: all_archived(home, dropped), "phase 2 files archived by the survivors", 90)

    counts = ledger_counts(site)
    print(f"\nreplica test: killed pid {victim.pid} during {partner_mid_poll}'s poll; {counts}")
    assert counts["imports"] == len(dropped) == 2 * len(PARTNERS)
    assert counts["shipped"] == counts["applied_rows"] == rows_dropped == site["items"]
    assert counts["audit"] == counts["audit_distinct"] == site["items"] * SHIP_FIELDS
    assert counts["uploads"] == len(PARTNERS)
    for partner in PARTNERS:
        assert len(exports_in(home, partner)) == 1
        leftovers = [p.name for p in (home / partner / "in").iterdir() if p.is_file()]
        assert leftovers == []
    assert (
        query(
            site,
            "SELECT partner, import_key, count(*) FROM files WHERE import_key IS NOT NULL"
            " GROUP BY partner, import_key HAVING count(*) > 1",
        )
        == []
    )

    # The survivors keep polling every partner, including the victim's.
    def polled_after_kill(partner: str) -> bool:
        return any(
            event.get("event") == "poll finished" and event.get("partner") == partner
            for replica in survivors
            for event in replica.events()
        )

    wait_for(lambda: all(polled_after_kill(partner) for partner in PARTNERS), "survivors' polls")

    # status: which replica last ran each job (host:pid of one of ours).
    status = site["cli"]("status", "--format", "json")
    assert status.returncode == 0, status.stdout + status.stderr
    pids = {replica.pid for replica in replicas}
    living = {replica.pid for replica in survivors}
    for row in json.loads(status.stdout):
        export_pid = int(row["replica"]["export"].rsplit(":", 1)[1])
        poll_pid = int(row["replica"]["poll"].rsplit(":", 1)[1])
        assert export_pid in pids, row
        assert poll_pid in living, row  # every partner was polled since the kill

    for replica in survivors:
        replica.process.send_signal(signal.SIGTERM)
        assert replica.process.wait(timeout=40) == 0
        text = replica.log_path.read_text(errors="replace")
        assert "Traceback" not in text


def test_a_second_run_on_one_sqlite_store_refuses_to_start(tmp_path: Path) -> None:
    """SQLite has no replicas: a second ``ftpbridge run`` on the same file (even from another
    config and state folder) exits with a message naming the store and PostgreSQL, while
    the first keeps running."""

    share = tmp_path / "share"
    share.mkdir()

    def config_with_state(state: Path) -> str:
        # A partner on a local folder: run refuses to start with nothing to serve.
        return (
            f'[store]\nurl = "sqlite:///{tmp_path / "store.db"}"\n[daemon]\nstate_dir = "{state}"\n'
            f'[partners.acme]\ntransport = "local"\npath = "{share}"\n'
        )

    (tmp_path / "replica-1").mkdir()
    (tmp_path / "replica-1" / "config.toml").write_text(config_with_state(tmp_path / "one"))
    config = tmp_path / "config.toml"
    config.write_text(config_with_state(tmp_path / "two"))  # same store, other state folder
    first = start_replica(tmp_path, 1)
    try:
        wait_for(first.running, "the first daemon")
        second = subprocess.run(
            [FTPBRIDGE, "--config", str(config), "run"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode != 0
        assert "already uses this SQLite store" in second.stderr + second.stdout
        assert "PostgreSQL" in second.stderr + second.stdout
        assert first.process.poll() is None
    finally:
        first.stop(timeout=40)
