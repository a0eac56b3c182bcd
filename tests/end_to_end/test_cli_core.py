"""The README's manual flow through the installed ``ftpbridge`` command, as real processes in
a temporary folder: load, export, edit as a fulfiller would, import, list, upgrade.

Every run is checked for tracebacks: errors must reach people as ``Error:``/``Try:`` lines.
The clock is the real one here (the command line has no "now" option), so shipped dates
are taken as today in the partner's time zone.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPOSITORY / "examples"
UPS = "1Z5R89390357567127"
FEDEX = "986578788855"
ZONE = ZoneInfo("America/New_York")  # examples/config.toml's partner "acme"
ACME_EXPORTED = 17  # the 18 sample items but the cancelled one


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder set up as the README says: config.toml copied from examples/, orders file."""
    shutil.copyfile(EXAMPLES / "config.toml", tmp_path / "config.toml")
    (tmp_path / "examples").mkdir()
    shutil.copyfile(EXAMPLES / "orders.jsonl", tmp_path / "examples" / "orders.jsonl")
    return tmp_path


@pytest.fixture
def ftpbridge(cli_subprocess, workspace: Path):
    """Run ``ftpbridge ARGS`` in the workspace; assert no traceback ever reaches a person."""

    def run(*args: str, env: dict[str, str] | None = None):
        finished = cli_subprocess(*args, cwd=workspace, env=env)
        assert "Traceback" not in finished.stderr, finished.stderr
        assert "Traceback" not in finished.stdout, finished.stdout
        assert "Internal error" not in finished.stderr, finished.stderr
        return finished

    return run


def today() -> dt.date:
    return dt.datetime.now(ZONE).date()


def listed(ftpbridge, *args: str) -> list[dict]:
    finished = ftpbridge("orders", "list", "--format", "json", *args)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def load_and_export(ftpbridge, workspace: Path) -> Path:
    loaded = ftpbridge("orders", "load", "examples/orders.jsonl")
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded 12 orders (12 new, 0 updated) with 18 items" in loaded.stdout
    exported = ftpbridge("export", "--partner", "acme")
    assert exported.returncode == 0, exported.stderr
    assert f"Exported {ACME_EXPORTED} items for acme" in exported.stdout
    [path] = workspace.glob("orders_*.csv")
    return path


def write_updated(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def store_rows(workspace: Path, sql: str) -> list[tuple]:
    """Rows straight from the SQLite store the commands used (for checks only)."""
    with sqlite3.connect(workspace / "ftpbridge.db") as connection:
        return connection.execute(sql).fetchall()


def shipped_items(workspace: Path) -> list[str]:
    return [
        row[0]
        for row in store_rows(
            workspace, "SELECT id FROM items WHERE status = 'shipped' ORDER BY id"
        )
    ]


def test_readme_flow(ftpbridge, workspace: Path) -> None:
    """load → export (to a file and to stdout) → edit → dry run → import with a rejected row
    → list as JSON → fix → import clean → same file again → a file missing a column →
    past_due → db upgrade, each with its documented exit code."""
    export_path = load_and_export(ftpbridge, workspace)
    assert export_path.name == f"orders_{today():%Y-%m-%d}.csv"
    assert export_path.read_bytes().startswith(b"order_id,order_date,item_id,sku,")
    to_stdout = ftpbridge("export", "--partner", "acme", "--out", "-")
    assert to_stdout.returncode == 0
    assert to_stdout.stdout.splitlines()[0].startswith("order_id,order_date,item_id")
    assert len(to_stdout.stdout.splitlines()) == ACME_EXPORTED + 1
    assert f"Exported {ACME_EXPORTED} items for acme" in to_stdout.stderr

    # A fulfiller opens the file (every cell as text), ships three items, mistypes a carrier.
    frame = pd.read_csv(export_path, dtype=str, keep_default_na=False)
    assert len(frame) == ACME_EXPORTED
    assert set(frame.loc[frame["order_id"] == "4", "ship_postal_code"]) == {"02134"}
    assert set(frame.loc[frame["order_id"] == "3", "warehouse_sku"]) == {"007"}
    rows = {item: frame.index[frame["item_id"] == item][0] for item in ("1001", "1004", "1009")}
    columns = ["shipped", "shipped_date", "carrier", "tracking_number"]
    frame.loc[rows["1001"], columns] = ["TRUE", today().isoformat(), "ups", UPS]
    frame.loc[rows["1004"], columns] = ["Yes", today().strftime("%m/%d/%Y"), "fed ex", FEDEX]
    frame.loc[rows["1009"], columns] = ["y", today().isoformat(), "Pigeon Post", UPS]
    updated = write_updated(frame, workspace / f"orders_updated_{today():%Y-%m-%d}.csv")

    dry = ftpbridge("import", "--partner", "acme", updated.name, "--dry-run")
    assert dry.returncode == 1, dry.stdout
    assert "17 rows: 2 would apply, 14 unchanged, 1 rejected" in dry.stdout
    assert "Dry run: nothing was changed" in dry.stdout
    dry_report = pd.read_csv(updated.with_name(updated.name + ".report.csv"), dtype=str)
    assert sorted(set(dry_report["outcome"])) == ["rejected", "unchanged", "would apply"]
    assert (dry_report["outcome"] == "would apply").sum() == 2
    assert shipped_items(workspace) == []
    assert store_rows(workspace, "SELECT count(*) FROM files WHERE direction = 'import'") == [(0,)]

    imported = ftpbridge("import", "--partner", "acme", updated.name)
    assert imported.returncode == 1, imported.stdout
    assert "2 applied, 14 unchanged, 1 rejected" in imported.stdout
    spreadsheet_row = rows["1009"] + 2
    assert (
        f"Rejected 1 row, by reason:\n  row {spreadsheet_row} (order 6, item 1009): carrier"
        " 'Pigeon Post' is unknown"
    ) in imported.stdout
    report = pd.read_csv(updated.with_name(updated.name + ".report.csv"), dtype=str)
    assert list(report.columns) == ["row", "order_id", "item_id", "outcome", "reason"]
    assert (report["outcome"] == "applied").sum() == 2  # the real import's report
    assert report.loc[report["item_id"] == "1009", "row"].item() == str(spreadsheet_row)

    everything = {item["item_id"]: item for item in listed(ftpbridge, "--filter", "all")}
    assert len(everything) == 18
    assert everything["1001"] == everything["1001"] | {
        "order_id": "1",
        "partner": "acme",
        "status": "shipped",
        "shipped_date": today().isoformat(),
        "carrier": "UPS",
        "tracking_number": UPS,
    }
    assert (everything["1004"]["carrier"], everything["1004"]["tracking_number"]) == (
        "FEDEX",
        FEDEX,
    )
    for item in everything.values():
        for key in ("order_id", "item_id", "sku_id", "warehouse_sku"):
            assert isinstance(item[key], str), (key, item)
        if item["status"] == "shipped":
            assert dt.date.fromisoformat(item["shipped_date"])
        else:
            assert item["shipped_date"] is None
            assert item["carrier"] is None
    assert sorted(key for key, item in everything.items() if item["status"] == "shipped") == [
        "1001",
        "1004",
    ]
    assert everything["1018"]["status"] == "cancelled"
    assert everything["1006"]["warehouse_sku"] == "007"

    # The fulfiller fixes the carrier and sends the whole file again under a new name.
    frame.loc[rows["1009"], "carrier"] = "UPS"
    fixed = write_updated(frame, workspace / f"orders_updated_{today():%Y-%m-%d}_2.csv")
    clean = ftpbridge("import", "--partner", "acme", fixed.name)
    assert clean.returncode == 0, clean.stdout
    assert "1 applied, 16 unchanged, 0 rejected" in clean.stdout
    again = ftpbridge("import", "--partner", "acme", fixed.name)
    assert again.returncode == 0
    assert "already processed" in again.stdout
    assert shipped_items(workspace) == ["1001", "1004", "1009"]

    # A file without the tracking_number column is rejected as a whole.
    frame.loc[rows["1001"] + 1, columns[:3]] = ["TRUE", today().isoformat(), "UPS"]
    no_tracking = write_updated(frame.drop(columns=["tracking_number"]), workspace / "upd_x.csv")
    missing = ftpbridge("import", "--partner", "acme", no_tracking.name)
    assert missing.returncode == 2
    assert "Rejected upd_x.csv" in missing.stdout
    assert "tracking_number" in missing.stdout
    assert shipped_items(workspace) == ["1001", "1004", "1009"]

    # past_due: unshipped items of orders older than past_due_days (3).
    before = dt.datetime.now(dt.UTC)
    past_due = {item["item_id"] for item in listed(ftpbridge, "--filter", "past_due")}
    after = dt.datetime.now(dt.UTC)
    orders = [json.loads(line) for line in (EXAMPLES / "orders.jsonl").read_text().splitlines()]
    for order in orders:
        created = dt.datetime.fromisoformat(order["created_at"].replace("Z", "+00:00"))
        for item in order["items"]:
            item_id = str(item["id"])
            if item["status"] == "cancelled" or item_id in ("1001", "1004", "1009"):
                assert item_id not in past_due
            elif created < before - dt.timedelta(days=3):
                assert item_id in past_due
            elif created > after - dt.timedelta(days=3):
                assert item_id not in past_due
    assert past_due, "the sample orders should include past-due items"

    upgrade = ftpbridge("db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "up to date" in upgrade.stdout


def test_killed_import_applies_nothing(ftpbridge, workspace: Path) -> None:
    """An import killed (SIGKILL) after applying its rows but before the commit leaves the
    store as it was; the same file then imports normally."""
    assert ftpbridge("orders", "load", "examples/orders.jsonl").returncode == 0
    path = workspace / "orders_updated_kill.csv"
    path.write_text(
        "order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n"
        f"1,1001,TRUE,{today().isoformat()},UPS,{UPS}\r\n",
        encoding="utf-8",
    )
    killed = ftpbridge(
        "import", "--partner", "acme", path.name, env={"FTPBRIDGE_CRASH_AT": "apply"}
    )
    assert killed.returncode == -9
    assert shipped_items(workspace) == []
    assert store_rows(workspace, "SELECT count(*) FROM audit") == [(0,)]
    assert store_rows(workspace, "SELECT count(*) FROM files") == [(0,)]
    finished = ftpbridge("import", "--partner", "acme", path.name)
    assert finished.returncode == 0, finished.stdout
    assert "1 applied" in finished.stdout
    assert shipped_items(workspace) == ["1001"]


def test_invalid_orders_file_lists_lines_and_loads_nothing(ftpbridge, workspace: Path) -> None:
    """orders load with bad lines: exit 2, each line named, nothing loaded."""
    lines = (workspace / "examples" / "orders.jsonl").read_text().splitlines()
    lines[1] = "{broken"
    lines[4] = lines[4].replace('"status": "pending"', '"status": 5', 1)
    (workspace / "bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    finished = ftpbridge("orders", "load", "bad.jsonl")
    assert finished.returncode == 2
    assert finished.stderr.startswith("Error: bad.jsonl: 2 invalid lines; nothing was loaded")
    assert "line 2: not valid JSON" in finished.stderr
    assert "line 5: items[1]: status must be text" in finished.stderr
    assert store_rows(workspace, "SELECT count(*) FROM items") == [(0,)]


@pytest.mark.parametrize(
    ("config_text", "args", "messages"),
    [
        (None, ("--config", "missing.toml", "orders", "list"), ["missing.toml does not exist"]),
        (
            '[partners.acme]\ndefault = "yes please"\nhots = "x"\n',
            ("orders", "list"),
            [
                "2 problems",
                "partners.acme.default: must be true or false (no quotes) (it is 'yes please')",
                "partners.acme.hots: unknown key (did you mean 'host'?)",
            ],
        ),
        (None, ("export", "--partner", "nobody"), ["no partner named 'nobody'", "acme"]),
    ],
)
def test_usage_and_config_errors_exit_2(
    ftpbridge, workspace: Path, config_text, args, messages
) -> None:
    """A missing or wrong config and an unknown partner: exit 2, an Error: line naming the
    problem (every problem of the file at once) and a Try: line, no traceback."""
    if config_text is not None:
        (workspace / "config.toml").write_text(config_text, encoding="utf-8")
    finished = ftpbridge(*args)
    assert finished.returncode == 2
    assert finished.stderr.startswith("Error: "), finished.stderr
    assert "\nTry: " in finished.stderr
    for message in messages:
        assert message in finished.stderr
