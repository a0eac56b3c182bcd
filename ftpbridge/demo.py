"""``ftpbridge demo``: the whole exchange on this machine, with no config and no server.

An embedded pyftpdlib FTP server on 127.0.0.1 (a free port, a temporary folder), an SQLite
store with the sample orders from ``examples/``, and the daemon's real jobs, step by step:
export and upload; a simulated fulfiller downloads the file, ships most rows (one with a
spreadsheet-damaged tracking number, one with an unknown carrier), renames it with
``updated_`` and uploads it; the poll job imports it, archives it and uploads the report;
then ``status`` and the rejected rows with their reasons.
"""

from __future__ import annotations

import datetime as dt
import ftplib
import io
import json
import secrets
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pandas as pd
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import ThreadedFTPServer

from ftpbridge.errors import EXIT_OK
from ftpbridge.exchange.jobs import run_job
from ftpbridge.exchange.status import partner_status, render
from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings, build_settings
from ftpbridge.store import Store, api_keys, ledger, open_store
from ftpbridge.store.engine import utcnow
from ftpbridge.web.server import ApiServer

PARTNER = "demo-fulfiller"
USER = "fulfiller"
# Valid numbers for their carriers (check digits included), as a warehouse would type them.
TRACKING = [
    ("UPS", "1Z5R89390357567127"),
    ("fed ex", "986578788855"),
    ("USPS", "9400111201080805483016"),
    ("Royal Mail", "RB123456785GB"),
    ("ups", "1Z879E930346834440"),
    ("DHL", "3318810025"),
]


class EmbeddedFTPServer:
    """pyftpdlib on 127.0.0.1, a free port, serving ``home`` to one user."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.password = secrets.token_urlsafe(12)
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, self.password, str(home), perm="elradfmwMT")
        handler = type(
            "DemoHandler",
            (FTPHandler,),
            {"authorizer": authorizer, "banner": "ftpbridge demo", "passive_ports": None},
        )
        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"timeout": 0.2, "handle_exit": False},
            name="demo-ftp",
            daemon=True,
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.close_all()


def demo_settings(folder: Path, port: int, password: str) -> Settings:
    return build_settings(
        {
            "store": {"url": f"sqlite:///{folder / 'ftpbridge.db'}"},
            "daemon": {"state_dir": str(folder / "state")},
            "api": {"listen": "127.0.0.1:0"},
            "partners": {
                PARTNER: {
                    "default": True,
                    "transport": "ftp",
                    "host": "127.0.0.1",
                    "port": port,
                    "username": USER,
                    "password": password,
                    "outbox": "/outbox",
                    "inbox": "/inbox",
                    "settle_seconds": 1,
                    "timeout": 10,
                    "poll_interval": 5,
                    "export_cron": "0 6 * * *",
                }
            },
        },
        config_path=folder / "config.toml",
    )


def _config_text(folder: Path, port: int, password: str) -> str:
    return f"""# Written by `ftpbridge demo --keep`: the demo server as a partner.
[store]
url = "sqlite:///{folder / "ftpbridge.db"}"

[daemon]
state_dir = "{folder / "state"}"

[partners.{PARTNER}]
default = true
transport = "ftp"
host = "127.0.0.1"
port = {port}
username = "{USER}"
password_file = "{folder / "ftp-password"}"
outbox = "/outbox"
inbox = "/inbox"
settle_seconds = 1
poll_interval = 5
"""


def simulate_fulfiller(port: int, password: str, today: dt.date) -> str:
    """Download the export, ship most rows like a warehouse would, upload it renamed.

    Returns the name it was uploaded under.
    """
    ftp = ftplib.FTP()  # noqa: S321 - the demo's own loopback server, a stand-in fulfiller
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login(USER, password)
    name = sorted(n for n in ftp.nlst("/outbox") if n.endswith(".csv"))[-1].rsplit("/", 1)[-1]
    buffer = io.BytesIO()
    ftp.retrbinary(f"RETR /outbox/{name}", buffer.write)
    frame = pd.read_csv(io.BytesIO(buffer.getvalue()), dtype=str, keep_default_na=False)
    count = len(frame)
    shipped = ["TRUE"] * count
    carriers = [TRACKING[index % len(TRACKING)][0] for index in range(count)]
    numbers = [TRACKING[index % len(TRACKING)][1] for index in range(count)]
    if count >= 3:
        numbers[1] = "1.23457E+21"  # Excel turned a long number into scientific notation
        carriers[2] = "Pigeon Post"  # not a carrier anyone knows
    if count >= 4:
        shipped[-1] = "FALSE"  # still in the warehouse
        carriers[-1] = numbers[-1] = ""
    frame["shipped"] = shipped
    frame["shipped_date"] = [today.isoformat() if flag == "TRUE" else "" for flag in shipped]
    frame["carrier"] = carriers
    frame["tracking_number"] = numbers
    updated = f"Shop-orders-csv-updated_{today.day}.{today.month}.{today.year}.csv"
    data = frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
    ftp.storbinary(f"STOR /inbox/{updated}", io.BytesIO(data))
    ftp.quit()
    return updated


def _start_api(settings: Settings, store: Store, say: Callable[[str], None]) -> ApiServer:
    """Serve the Orders API on a free port with a key for the fulfiller, and show a curl
    line that asks it for the items not shipped yet (the fulfiller's first request)."""
    with store.begin() as connection:
        _key, key = api_keys.create(
            connection, "demo-fulfiller-api", partner=PARTNER, read_only=False, now=utcnow()
        )
    api = ApiServer(settings, store)
    api.start()
    url = f"{api.url}/api/v1/order"
    request = urllib.request.Request(  # noqa: S310 - our own loopback server
        url,
        data=b'search={"filter":"not_shipped"}',
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        body = json.loads(answer.read())
    waiting = sum(len(order["items"]) for order in body["response"])
    say(
        f"9. The Orders API serves the same store on {api.url}; a key for {PARTNER} was made."
        f" Its items not shipped yet ({waiting}), as a fulfiller's software asks for them:"
    )
    say(f"""   curl -s -u {PARTNER}:{key} -d 'search={{"filter":"not_shipped"}}' {url}""")
    return api


def _ftpbridge_command() -> str:
    """How to type ftpbridge in another terminal: the bare name when it is on PATH and
    is this one, else its full path (the quick start's .venv/bin/ftpbridge is not on PATH
    until the venv is activated)."""
    import shutil
    import sys

    here = Path(sys.executable).parent / "ftpbridge"
    found = shutil.which("ftpbridge")
    if found is not None and (not here.exists() or Path(found).resolve() == here.resolve()):
        return "ftpbridge"
    return str(here) if here.exists() else "ftpbridge"


def run_demo(*, keep: bool, say: Callable[[str], None], folder: Path | None = None) -> int:
    """Run the demo, narrating through ``say``; return the exit code (0)."""
    started = time.monotonic()
    own_folder = folder is None
    folder = folder or Path(tempfile.mkdtemp(prefix="ftpbridge-demo-"))
    home = folder / "ftp"
    (home / "outbox").mkdir(parents=True, exist_ok=True)
    (home / "inbox").mkdir(parents=True, exist_ok=True)
    server = EmbeddedFTPServer(home)
    server.start()
    try:
        settings = demo_settings(folder, server.port, server.password)
        partner = settings.partners[PARTNER]
        say(f"1. An FTP server for the fulfiller is listening on 127.0.0.1:{server.port} ({home}).")
        store = open_store(settings.store_url)
        orders = resources.files("ftpbridge._examples") / "orders.jsonl"
        with resources.as_file(orders) as orders_path:
            loaded = load_orders(store, orders_path, list(settings.partners.values()))
        say(
            f"2. Loaded the sample orders into {settings.store_url.removeprefix('sqlite:///')}:"
            f" {loaded.orders} orders, {loaded.items} items (one order is cancelled)."
        )
        run_job(store, settings, partner, "export", replica="demo")
        with store.connect() as connection:
            export = ledger.recent(connection, partner=PARTNER, direction="export", limit=1)[0]
        say(
            f"3. Export job: {export['rows_total']} items waiting to ship,"
            f" uploaded as {export['remote_path']}."
        )
        today = dt.datetime.now(partner.zone).date()
        updated = simulate_fulfiller(server.port, server.password, today)
        say(
            "4. The fulfiller downloaded it, filled in shipped, shipped_date, carrier and"
            f" tracking_number for most rows, and uploaded /inbox/{updated}."
        )
        say(
            "5. Poll job: the file is seen, and left alone until it has stopped changing for"
            f" {partner.settle_seconds:g} s (a fulfiller may still be uploading it)."
        )
        run_job(store, settings, partner, "poll", replica="demo")
        time.sleep(partner.settle_seconds + 0.2)
        run_job(store, settings, partner, "poll", replica="demo")
        with store.connect() as connection:
            taken = ledger.recent(connection, partner=PARTNER, direction="import", limit=1)[0]
        say(
            f"6. Poll job again: took {taken['name']}: {taken['rows_applied']} applied,"
            f" {taken['rows_unchanged']} unchanged, {taken['rows_rejected']} rejected."
        )
        say(
            "   The file went to /inbox/archive/ with its report next to it"
            f" ({updated}.report.csv),\n   and a local copy is in"
            f" {settings.state_dir / 'archive' / PARTNER}."
        )
        say("7. Status:")
        for line in render(partner_status(store, settings)):
            say("   " + line)
        report_files = sorted((settings.state_dir / "archive" / PARTNER).glob("*.report.csv"))
        if report_files:
            report = pd.read_csv(report_files[-1], dtype=str, keep_default_na=False)
            refused = report[report["outcome"] == "rejected"]
            say(f"8. Rejected rows ({len(refused)}), as the fulfiller sees them in the report:")
            for row in refused.itertuples(index=False):
                say(f"   row {row.row} (order {row.order_id}, item {row.item_id}): {row.reason}")
        api = _start_api(settings, store, say)
        say(f"Done in {time.monotonic() - started:.1f} s.")
        if keep:
            (folder / "ftp-password").write_text(server.password + "\n", encoding="utf-8")
            (folder / "ftp-password").chmod(0o600)
            config = folder / "config.toml"
            config.write_text(_config_text(folder, server.port, server.password), encoding="utf-8")
            say("")
            say(
                f"The FTP server keeps running on 127.0.0.1:{server.port}."
                " Connect with any FTP client:"
            )
            say(f"   user {USER}, password in {folder / 'ftp-password'}")
            command = _ftpbridge_command()
            say("Run the daemon against it (in another terminal):")
            say(f"   {command} --config {config} run")
            say(f"   {command} --config {config} status")
            say(f"The Orders API keeps serving on {api.url} (the curl line above works).")
            say("Press Ctrl+C to stop the servers (the folder above is removed then).")
            _wait_for_stop()
            say("Stopped.")
        api.request_stop()
        api.join(10)
        store.close()
    finally:
        server.stop()
        if own_folder:
            # Also after --keep: the folder holds the store and the FTP password file.
            shutil.rmtree(folder, ignore_errors=True)
    return EXIT_OK


def _wait_for_stop() -> None:
    """Block until Ctrl+C (SIGINT) or SIGTERM, then return so that the caller cleans up."""
    import signal
    import threading

    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(3600):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
