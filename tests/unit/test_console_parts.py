"""The console's parts without a server: the SVG chart, the report as a table, the kept
uploads, and the Partners page's figures."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from pathlib import Path

from ftpbridge.exchange.overview import CHART_DAYS, partners_overview
from ftpbridge.files.reports import read_report
from ftpbridge.settings import build_settings
from ftpbridge.store import Store, ledger
from ftpbridge.store.engine import utcnow
from ftpbridge.store.state import job_finished
from ftpbridge.web.console.charts import daily_bars
from ftpbridge.web.console.session import Session
from ftpbridge.web.console.uploads import MAX_AGE, Uploads


def test_the_chart_escapes_the_name_and_scales_the_bars() -> None:
    """A name with markup is escaped in the chart's title and label; the highest day
    reaches the top, a day with nothing draws no bar; refused rows are stacked above."""
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(3)]
    svg = str(daily_bars("<script>x</script>", days, [10, 0, 5], [0, 0, 5]))
    assert "<script>" not in svg and "&lt;script&gt;x&lt;/script&gt;" in svg
    assert svg.count('class="applied"') == 2 and svg.count('class="refused"') == 1
    assert 'height="58.0"' in svg  # 10 rows: the peak, BASELINE - 2
    assert "15 applied, 5 refused" in svg


def test_a_report_shows_refused_rows_first_within_the_limit(tmp_path: Path) -> None:
    """Refused rows come first (in file order), then the others; at most ``limit`` rows
    are kept while the counts cover the whole report, read a chunk at a time."""
    lines = ["row,order_id,item_id,outcome,reason"]
    for row in range(2, 1002):
        outcome = "rejected" if row % 100 == 0 else "applied"
        lines.append(f"{row},1,{row},{outcome},why {row}")
    path = tmp_path / "r.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    view = read_report(path, limit=15, chunk_rows=128)
    assert view.total == 1000
    assert view.counts == {"applied": 990, "rejected": 10}
    assert [row["row"] for row in view.rows[:10]] == [str(n) for n in range(100, 1001, 100)]
    assert [row["row"] for row in view.rows[10:]] == ["2", "3", "4", "5", "6"]
    assert not view.shown_all


def test_an_inventory_report_shows_refused_and_held_lines_first(tmp_path: Path) -> None:
    """An inventory file's report (its own columns) puts refused and held lines first, in
    file order; the line about the whole file is counted apart from the rows and SKUs."""
    lines = [
        "row,sku,sku_id,outcome,quantity_before,quantity_after,reason",
        ",,,held,,,held: would zero too much",
        "2,007,25,held,6,7,would be updated",
        "3,X,,rejected,,,no SKU X is known",
        "4,55665,26,unchanged,9,9,no change",
        ",55666,27,held,5,0,not in this snapshot: would be set to 0",
    ]
    path = tmp_path / "inventory.csv.report.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    view = read_report(path, limit=10, chunk_rows=2)
    assert view.columns == [
        "row",
        "sku",
        "sku_id",
        "outcome",
        "quantity_before",
        "quantity_after",
        "reason",
    ]
    assert [(row["row"], row["sku"], row["outcome"]) for row in view.rows] == [
        ("", "", "held"),
        ("2", "007", "held"),
        ("3", "X", "rejected"),
        ("", "55666", "held"),
        ("4", "55665", "unchanged"),
    ]
    assert view.counts == {"held": 3, "rejected": 1, "unchanged": 1}
    assert view.notes == {"held": 1} and view.rows_with("held") == 2


def test_a_held_inventory_file_is_a_warning_with_its_next_poll(store: Store) -> None:
    """A partner whose last inventory file was held is flagged in words (the poll
    alerted: a person decides); its inventory poll's last and next runs are given, and a
    partner without an inventory job has none."""
    settings = build_settings(
        {
            "partners": {
                "acme": {"default": True, "transport": "local", "path": "/tmp"},
                "quiet": {
                    "skus": ["Q-*"],
                    "transport": "local",
                    "path": "/tmp",
                    "inventory_pattern": "",
                },
            }
        }
    )
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    with store.begin() as connection:
        ledger.record(
            connection,
            now - dt.timedelta(minutes=5),
            partner="acme",
            direction="inventory",
            name="cut_inventory.csv",
            sha256="cut",
            size=1,
            state="held",
            message="held, nothing applied: ...",
        )
        job_finished(connection, "acme", "inventory", now - dt.timedelta(minutes=5), error=None)
        job_finished(connection, "acme", "poll", now, error=None)
        job_finished(connection, "quiet", "poll", now, error=None)
    rows = {row.status["name"]: row for row in partners_overview(store, settings, now)}
    acme, quiet = rows["acme"], rows["quiet"]
    assert (acme.state, acme.state_text) == (
        "warning",
        "Working, but its last inventory file was held",
    )
    assert acme.last_inventory_run == now - dt.timedelta(minutes=5)
    assert acme.next_inventory == now + dt.timedelta(minutes=55)  # every 3600 s
    assert quiet.state == "ok" and quiet.next_inventory is None


def _session(name: str) -> Session:
    from ftpbridge.store.api_keys import ApiKey

    key = ApiKey(1, "shop", None, False, utcnow(), None, None)
    return Session(name, key, utcnow(), "token")


def test_uploads_belong_to_their_session_and_expire(tmp_path: Path) -> None:
    """A kept upload is found only by its session and token; a new upload of the same
    session replaces it; an upload older than MAX_AGE goes at anyone's next upload; a
    token that is not one of ours never becomes a path."""
    uploads = Uploads(tmp_path / "uploads")
    first = uploads.keep(_session("a"), io.BytesIO(b"one"), "../../etc/passwd", "acme")
    assert first.path.parent == tmp_path / "uploads" and first.path.read_bytes() == b"one"
    assert uploads.held(_session("a"), first.token) == first
    assert uploads.held(_session("b"), first.token) is None
    assert uploads.held(_session("a"), "../" + first.token) is None
    second = uploads.keep(_session("a"), io.BytesIO(b"two"), "x.csv", "acme")
    assert uploads.held(_session("a"), first.token) is None
    old = time.time() - MAX_AGE.total_seconds() - 60
    os.utime(second.path, (old, old))
    assert uploads.held(_session("a"), second.token) is None  # too old to apply
    assert second.path.exists()
    uploads.keep(_session("b"), io.BytesIO(b"three"), "y.csv", "acme")
    assert not second.path.exists()  # removed at anyone's next upload
    uploads.drop(first)  # already gone: no error


def test_the_overview_sums_days_and_puts_trouble_first(store: Store) -> None:
    """Imports are summed per UTC day over 30 days (older ones left out); a partner with
    alert_after failures in a row comes first, in words; a manual partner has no next run."""
    settings = build_settings(
        {
            "partners": {
                "acme": {"default": True, "transport": "local", "path": "/tmp"},
                "zed": {"skus": ["Z-*"], "transport": "local", "path": "/tmp"},
                "manual": {"skus": ["M-*"]},
            }
        }
    )
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    with store.begin() as connection:
        for days_ago, applied, refused in ((0, 3, 1), (0, 2, 0), (1, 5, 2), (40, 9, 9)):
            ledger.record(
                connection,
                now - dt.timedelta(days=days_ago),
                partner="acme",
                direction="import",
                name=f"f{days_ago}-{applied}.csv",
                sha256=f"{days_ago}{applied}",
                size=1,
                state="applied",
                rows_applied=applied,
                rows_rejected=refused,
            )
        for _ in range(3):
            job_finished(connection, "zed", "poll", now, error="refused")
    rows = partners_overview(store, settings, now)
    assert rows[0].status["name"] == "zed"
    assert rows[0].state == "failing" and rows[0].state_text == "Failing: 3 failures in a row"
    acme = next(row for row in rows if row.status["name"] == "acme")
    assert len(acme.days) == CHART_DAYS and acme.days[-1] == now.date()
    assert acme.applied[-2:] == [5, 5] and acme.refused[-2:] == [2, 1]
    assert sum(acme.applied) == 10
    manual = next(row for row in rows if row.status["name"] == "manual")
    assert manual.next_poll is None and manual.next_export is None
    assert acme.next_export == dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)


def test_past_due_counts_exact_or_capped(loaded_store: Store) -> None:
    """Counted exactly, or up to cap + 1 per partner (more than cap): the console's
    Partners page shows "1,000+" without counting a million rows."""
    from ftpbridge.store.reads import count_past_due

    cutoffs = {
        "acme": dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
        "ac": dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    }
    with loaded_store.connect() as connection:
        exact = count_past_due(connection, cutoffs)
        capped = count_past_due(connection, cutoffs, cap=2)
    assert exact == {"acme": 13}  # 14 items, one of them cancelled
    assert capped == {"acme": 3}
