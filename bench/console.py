"""The console's Partners page at scale: a real ``ftpbridge serve`` over a copy of the
benchmark store with its items spread over 50 partners, 30 days of ledger (4 imports and
one export per partner and day) and job states, asked for the page by a signed-in client.

Floor: the page's own queries (``partner_status``'s and the overview's: job states,
24-hour totals, items per partner and status, past-due counts, each partner's last export
and import, 30 days of imports) run alone through the same store code, in one process, no
HTTP, no session, no template. The ratio is the page's median time over the queries'.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

PARTNERS = 50
DAYS = 30


def _spread(database: Path, now: dt.datetime) -> int:
    """Items over PARTNERS partners (some shipped, some acknowledged), the ledger and job
    states; returns the number of items."""
    connection = sqlite3.connect(database)
    with connection:
        connection.execute(
            "UPDATE items SET partner = printf('p%02d', rowid % ?),"
            " status = CASE rowid % 10 WHEN 0 THEN 'shipped' WHEN 1 THEN 'acknowledged'"
            " ELSE status END",
            (PARTNERS,),
        )
        rows = []
        for partner in range(PARTNERS):
            for day in range(DAYS):
                for run in range(5):
                    at = now - dt.timedelta(days=day, hours=run * 4)
                    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f")
                    export = run == 4
                    rows.append(
                        (
                            f"p{partner:02d}",
                            "export" if export else "import",
                            f"f{partner}-{day}-{run}.csv",
                            f"{partner}-{day}-{run}",
                            1000,
                            "uploaded" if export else "applied",
                            None if export else f"{partner}-{day}-{run}",
                            400,
                            0 if export else 390,
                            0 if export else 10,
                            stamp,
                            stamp,
                        )
                    )
        connection.executemany(
            "INSERT INTO files (partner, direction, name, sha256, size, state, import_key,"
            " rows_total, rows_applied, rows_rejected, rows_unchanged, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            rows,
        )
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        connection.executemany(
            "INSERT INTO job_state (partner, job, last_run_at, last_success_at,"
            " consecutive_failures, last_error, last_error_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (f"p{p:02d}", job, stamp, stamp, 3 if p % 7 == 0 else 0, "refused", stamp)
                for p in range(PARTNERS)
                for job in ("poll", "export")
            ],
        )
    total = connection.execute("SELECT count(*) FROM items").fetchone()[0]
    connection.close()
    return int(total)


def _partner_tables(work: Path) -> str:
    folder = work / "partners-server"
    folder.mkdir(exist_ok=True)
    return "".join(
        f'[partners.p{p:02d}]\nskus = ["P{p:02d}-*"]\ntransport = "local"\npath = "{folder}"\n'
        for p in range(PARTNERS)
    )


def _queries_alone(work: Path, database: Path, rounds: int) -> list[float]:
    from ftpbridge.exchange.overview import PAST_DUE_CAP
    from ftpbridge.settings import load_settings
    from ftpbridge.store import ledger, open_store
    from ftpbridge.store.engine import utcnow
    from ftpbridge.store.items import count_by_status
    from ftpbridge.store.reads import count_past_due, daily_import_rows
    from ftpbridge.store.state import all_job_states

    settings = load_settings(work / "api-config.toml")
    store = open_store(settings.store_url)
    times = []
    for _ in range(rounds + 2):
        started = time.perf_counter()
        now = utcnow()
        with store.connect() as connection:
            all_job_states(connection)
            ledger.import_totals(connection, now - dt.timedelta(hours=24))
            count_by_status(connection)
            count_past_due(
                connection,
                {
                    name: now - dt.timedelta(days=partner.past_due_days)
                    for name, partner in settings.partners.items()
                },
                cap=PAST_DUE_CAP,
            )
            for name in settings.partners:
                ledger.recent(connection, partner=name, direction="export", limit=1)
                ledger.recent(connection, partner=name, direction="import", limit=1)
        with store.connect() as connection:
            all_job_states(connection)
            daily_import_rows(connection, list(settings.partners), now - dt.timedelta(days=30))
        times.append(time.perf_counter() - started)
    store.close()
    return times[2:]  # the first two warm the caches, as the page's first two requests do


def console_bench(work: Path, database: Path, rounds: int) -> dict[str, Any]:
    """The Partners page's figures (see the module doc); runs in its own process."""
    import httpx

    from bench.api import _served
    from ftpbridge.store import api_keys, open_store
    from ftpbridge.store.engine import utcnow

    now = dt.datetime.now(dt.UTC)
    items = _spread(database, now)
    store = open_store(f"sqlite:///{database}")
    with store.begin() as connection:
        _made, key = api_keys.create(
            connection, f"console-{time.time_ns()}", partner=None, read_only=False, now=utcnow()
        )
    store.close()
    page_times = []
    with (
        _served(work, f"sqlite:///{database}", _partner_tables(work)) as url,
        httpx.Client(base_url=url, timeout=300) as client,
    ):
        form = client.get("/console/sign-in").text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token is not None
        signed = client.post("/console/sign-in", data={"csrf": token.group(1), "key": key})
        if signed.status_code not in (200, 303):
            raise RuntimeError(f"sign-in answered {signed.status_code}")
        for round_ in range(rounds + 2):
            started = time.perf_counter()
            page = client.get("/console/")
            seconds = time.perf_counter() - started
            if page.status_code != 200 or page.text.count('class="card partner') != PARTNERS:
                raise RuntimeError(f"the Partners page answered {page.status_code}")
            if round_ >= 2:
                page_times.append(seconds)
        floor_times = _queries_alone(work, database, rounds)
    return {
        "items": items,
        "partners": PARTNERS,
        "page_s": statistics.median(page_times),
        "floor_s": statistics.median(floor_times),
        "page_runs_s": [round(value, 4) for value in page_times],
        "floor_runs_s": [round(value, 4) for value in floor_times],
        "bytes": len(page.text.encode()),
    }
