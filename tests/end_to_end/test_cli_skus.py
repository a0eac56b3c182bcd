"""``ftpbridge skus load|list`` and ``ftpbridge inventory import`` as real processes in a
folder set up as the README says, with examples/orders.jsonl loaded: every run checked for
tracebacks, messages checked for the words people read."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parent.parent.parent
EXAMPLES = REPOSITORY / "examples"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder as the README's session has it: config.toml copied from examples/."""
    shutil.copyfile(EXAMPLES / "config.toml", tmp_path / "config.toml")
    (tmp_path / "examples").mkdir()
    for name in ("orders.jsonl", "skus.csv", "inventory.csv"):
        shutil.copyfile(EXAMPLES / name, tmp_path / "examples" / name)
    return tmp_path


@pytest.fixture
def ftpbridge(cli_subprocess, workspace: Path):
    def run(*args: str):
        finished = cli_subprocess(*args, cwd=workspace)
        for stream in (finished.stdout, finished.stderr):
            assert "Traceback" not in stream and "Internal error" not in stream, stream
        return finished

    assert ftpbridge_ok(cli_subprocess, workspace, "orders", "load", "examples/orders.jsonl")
    return run


def ftpbridge_ok(cli_subprocess, workspace: Path, *args: str) -> bool:
    return cli_subprocess(*args, cwd=workspace).returncode == 0


def skus(ftpbridge, *args: str) -> dict[str, dict]:
    finished = ftpbridge("skus", "list", "--format", "json", *args)
    assert finished.returncode == 0, finished.stderr
    return {row["id"]: row for row in json.loads(finished.stdout)}


def test_the_readme_inventory_flow(ftpbridge, workspace: Path) -> None:
    """The README's commands as written. Orders made the SKUs; the catalogue adds stock
    and a new SKU; a dry run changes nothing; the inventory file is applied with its
    report; the low-stock list and CSV output are what a person expects."""
    assert sorted(skus(ftpbridge)) == ["25", "26", "27", "28"]
    loaded = ftpbridge("skus", "load", "examples/skus.csv")
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded 5 SKUs (1 new, 4 updated, 0 unchanged)" in loaded.stdout
    before = skus(ftpbridge)
    assert before["29"]["partner"] == "acme" and before["25"]["in_stock_quantity"] == 30
    dry = ftpbridge(
        "inventory", "import", "--partner", "acme", "examples/inventory.csv", "--dry-run"
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Dry run: nothing was changed." in dry.stdout
    assert skus(ftpbridge) == before
    applied = ftpbridge("inventory", "import", "--partner", "acme", "examples/inventory.csv")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "acme: inventory.csv (snapshot): 5 rows: 3 applied, 2 unchanged" in applied.stdout
    assert (workspace / "examples" / "inventory.csv.report.csv").exists()
    after = skus(ftpbridge)
    assert {sku: row["in_stock_quantity"] for sku, row in after.items()} == {
        "25": 24,
        "26": 3,
        "27": 0,
        "28": 5,
        "29": 40,
    }
    low = ftpbridge("skus", "list", "--low-stock")
    assert low.returncode == 0
    assert [line.split()[0] for line in low.stdout.splitlines()[1:-1]] == [
        "27",
        "26",
        "28",
    ]  # free -2, -1, 0
    assert low.stdout.splitlines()[-1] == "3 SKUs"
    table = ftpbridge("skus", "list", "--format", "csv", "--partner", "acme")
    rows = {row["id"]: row for row in csv.DictReader(table.stdout.splitlines())}
    assert sorted(rows) == ["25", "26", "27", "28", "29"]
    assert rows["28"]["product_name"] == "'=Poster (signed)"  # safe to open in a spreadsheet


def test_a_truncated_snapshot_is_held_with_exit_1_until_forced(ftpbridge, workspace: Path) -> None:
    assert ftpbridge("skus", "load", "examples/skus.csv").returncode == 0
    (workspace / "cut.csv").write_text("sku,quantity\n007,2\n", encoding="utf-8")
    held = ftpbridge("inventory", "import", "--partner", "acme", "cut.csv")
    assert held.returncode == 1
    assert "held, nothing applied" in held.stdout
    assert "Try: if the file is right, apply it by hand: ftpbridge inventory import" in held.stdout
    assert skus(ftpbridge)["25"]["in_stock_quantity"] == 30
    forced = ftpbridge("inventory", "import", "--partner", "acme", "cut.csv", "--force")
    assert forced.returncode == 0
    assert "SKUs not in the snapshot set to 0" in forced.stdout
    assert skus(ftpbridge)["25"]["in_stock_quantity"] == 2


def test_bad_input_gets_error_and_try_lines(ftpbridge, workspace: Path) -> None:
    """A catalogue with bad lines lists each and loads nothing (exit 2); an inventory file
    with bad rows applies the rest and lists the rejected rows (exit 1); an unknown
    partner is a usage error naming the partners."""
    (workspace / "bad.jsonl").write_text(
        '{"id": "30", "in_stock_quantity": -1}\n{"id": "31", "weight": 2}\nnot json\n'
        '{"id": "32", "partner": "nobody"}\n{"sku_idd": "33"}\n',
        encoding="utf-8",
    )
    bad = ftpbridge("skus", "load", "bad.jsonl")
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: ")
    for fragment in (
        "line 1: in_stock_quantity must be from 0 to 1,000,000,000",
        "line 2: weight_unit must be one of lb, oz, kg, g",
        "line 3: not valid JSON",
        "line 4: partner 'nobody' is not a configured partner (acme)",
        "line 5: sku_idd is not a SKU field",
        "Try: fix these lines and load the file again",
    ):
        assert fragment in bad.stderr
    assert sorted(skus(ftpbridge)) == ["25", "26", "27", "28"]
    (workspace / "rows.csv").write_text("sku,qty\n007,5\n55665,1.2E+03\n", encoding="utf-8")
    rows = ftpbridge(
        "inventory", "import", "--partner", "acme", "rows.csv", "--report", "rows-report.csv"
    )
    assert rows.returncode == 1
    assert "Rejected 1 row, by reason:\n  row 3 (sku 55665, sku id 26): quantity '1.2E+03' was" in (
        rows.stdout
    )
    assert (workspace / "rows-report.csv").exists()
    unknown = ftpbridge("inventory", "import", "--partner", "nobody", "rows.csv")
    assert unknown.returncode == 2
    assert "Error: no partner named 'nobody'" in unknown.stderr and "Try:" in unknown.stderr
