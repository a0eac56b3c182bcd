"""Inventory files (files/inventory.py + store/stock.py) on SQLite and PostgreSQL:
snapshot and delta, the inventory_max_zeroed hold, the ledger (never twice), reasons a
warehouse can act on, the careful reader's encodings and delimiters, and the audit trail.

The store holds examples/orders.jsonl's SKUs: 25 (warehouse 007), 26 (55665), 27 (55666)
for acme, 28 (AC-100) for ac.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ftpbridge.files.inventory import InventoryResult, import_inventory
from ftpbridge.settings import PartnerSettings, Settings
from ftpbridge.store import Store
from ftpbridge.store.schema import files, skus, stock_changes
from ftpbridge.store.sku_catalogue import upsert_catalogue

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
COLUMNS = ["row", "sku", "sku_id", "outcome", "quantity_before", "quantity_after", "reason"]
sqlite_only = pytest.mark.parametrize("store_backend", ["sqlite"])


def stock(store: Store) -> dict[str, tuple[int, int, int]]:
    """sku id → (in stock, reserve, max backorder)."""
    with store.connect() as connection:
        rows = connection.execute(
            select(
                skus.c.id,
                skus.c.in_stock_quantity,
                skus.c.reserve_quantity,
                skus.c.max_backorder_quantity,
            )
        ).all()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def in_stock(store: Store) -> dict[str, int]:
    return {sku: values[0] for sku, values in stock(store).items()}


def set_stock(store: Store, **quantities: int) -> None:
    with store.begin() as connection:
        upsert_catalogue(
            connection,
            [
                {"id": sku.lstrip("_"), "in_stock_quantity": value}
                for sku, value in quantities.items()
            ],
            source="test setup",
            now=NOW,
        )


def partner(settings: Settings, name: str = "acme", **changes: Any) -> PartnerSettings:
    return settings.partners[name].model_copy(update=changes)


def run(store: Store, settings: Settings, path: Path, **kwargs: Any) -> InventoryResult:
    configured = kwargs.pop("configured", None) or partner(settings)
    return import_inventory(store, configured, path, now=kwargs.pop("now", NOW), **kwargs)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def report(result: InventoryResult) -> list[dict[str, str]]:
    assert result.report_path is not None
    with result.report_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


# --------------------------------------------------------------------------- modes


def test_snapshot_sets_listed_stock_zeroes_the_rest_and_says_so(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A snapshot sets what it lists (by warehouse SKU or sku id) and sets the partner's
    other SKUs in stock to 0, each listed in the report as zeroed; another partner's SKUs
    are untouched. Every change has an audit row on the file's ledger row."""
    set_stock(loaded_store, _25=10, _26=10, _27=10, _28=10)
    path = write(tmp_path / "inventory.csv", "sku,quantity\r\n007,4\r\n26,9\r\n")
    result = run(loaded_store, settings, path)
    assert (result.status, result.rows, result.applied, result.zeroed) == ("applied", 2, 2, 1)
    assert in_stock(loaded_store) == {"25": 4, "26": 9, "27": 0, "28": 10}
    lines = report(result)
    assert [(line["row"], line["sku_id"], line["outcome"]) for line in lines] == [
        ("2", "25", "applied"),
        ("3", "26", "applied"),
        ("", "27", "zeroed"),
    ]
    assert (lines[2]["quantity_before"], lines[2]["quantity_after"]) == ("10", "0")
    with loaded_store.connect() as connection:
        ledger_row = connection.execute(select(files).where(files.c.id == result.file_id)).one()
        audit = connection.execute(
            select(
                stock_changes.c.sku_id,
                stock_changes.c.row_number,
                stock_changes.c.old_in_stock_quantity,
                stock_changes.c.new_in_stock_quantity,
                stock_changes.c.file_id,
            ).where(stock_changes.c.file_id == result.file_id)
        ).all()
    assert (ledger_row.direction, ledger_row.state, ledger_row.rows_applied) == (
        "inventory",
        "applied",
        2,
    )
    assert sorted(tuple(row)[:4] for row in audit) == [
        ("25", 2, 10, 4),
        ("26", 3, 10, 9),
        ("27", None, 10, 0),
    ]


def test_delta_changes_only_what_it_lists(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A delta file changes the SKUs listed, and nothing else."""
    set_stock(loaded_store, _25=10, _26=10, _27=10)
    path = write(tmp_path / "inventory.csv", "sku,qty\n55666,1\n")
    result = run(loaded_store, settings, path, configured=partner(settings, inventory_mode="delta"))
    assert (result.status, result.applied, result.zeroed) == ("applied", 1, 0)
    assert in_stock(loaded_store) == {"25": 10, "26": 10, "27": 1, "28": 0}
    assert [line["outcome"] for line in report(result)] == ["applied"]


def test_backorder_and_reserve_columns_set_their_quantities(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Optional backorder and reserve columns set max_backorder_quantity and
    reserve_quantity; an empty cell leaves that quantity as it was."""
    path = write(
        tmp_path / "inventory.csv",
        "Item Number,On Hand,Backorder,Reserve\n007,5,3,1\n55665,6,,2\n55666,7,0,\n",
    )
    result = run(loaded_store, settings, path, configured=partner(settings, inventory_mode="delta"))
    assert result.applied == 3
    current = stock(loaded_store)
    assert (current["25"], current["26"], current["27"]) == ((5, 1, 3), (6, 2, 0), (7, 0, 0))


# --------------------------------------------------------------------------- the hold


def test_a_truncated_snapshot_is_held_and_force_applies_it(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A snapshot that would zero 2 of 3 SKUs in stock (67% > 50%) is held: nothing
    changes, the ledger says held (not keyed: it may be applied later), the report says
    why and lists what would be zeroed. With force it is applied."""
    set_stock(loaded_store, _25=10, _26=10, _27=10)
    path = write(tmp_path / "inventory.csv", "sku,quantity\n007,4\n")
    held = run(loaded_store, settings, path)
    assert held.status == "held" and held.exit_code == 1
    assert held.zeroing is not None and (held.zeroing.in_stock, held.zeroing.would_zero) == (3, 2)
    assert "2 of the 3 SKUs acme has in stock" in held.message
    assert "--force" in (held.hint or "")
    assert in_stock(loaded_store) == {"25": 10, "26": 10, "27": 10, "28": 0}
    lines = report(held)
    assert lines[0]["outcome"] == "held" and "inventory_max_zeroed" in lines[0]["reason"]
    assert [(line["sku_id"], line["outcome"]) for line in lines[1:]] == [
        ("25", "held"),
        ("26", "held"),
        ("27", "held"),
    ]
    with loaded_store.connect() as connection:
        row = connection.execute(select(files).where(files.c.id == held.file_id)).one()
    assert (row.state, row.import_key) == ("held", None)
    forced = run(loaded_store, settings, path, force=True)
    assert (forced.status, forced.zeroed) == ("applied", 2)
    assert in_stock(loaded_store) == {"25": 4, "26": 0, "27": 0, "28": 0}


def test_listed_zeros_count_towards_the_hold_and_the_limit_is_configurable(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Rows that say 0 count as zeroing too (a broken export of zeros is held), and
    inventory_max_zeroed = 1 holds nothing."""
    set_stock(loaded_store, _25=10, _26=10, _27=10)
    path = write(tmp_path / "inventory.csv", "sku,quantity\n007,0\n55665,0\n55666,3\n")
    assert run(loaded_store, settings, path).status == "held"
    relaxed = partner(settings, inventory_max_zeroed=1.0)
    assert run(loaded_store, settings, path, configured=relaxed).status == "applied"


def test_a_snapshot_of_a_partner_with_nothing_in_stock_is_not_held(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Nothing in stock, nothing to protect: a first snapshot applies."""
    path = write(tmp_path / "inventory.csv", "sku,quantity\n007,3\n")
    assert run(loaded_store, settings, path).status == "applied"


# --------------------------------------------------------------------------- never twice


def test_the_same_file_again_changes_nothing(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The same bytes again, under another name: already processed, nothing changes (an
    API addition made since stays)."""
    path = write(tmp_path / "a_inventory.csv", "sku,quantity\n007,4\n55665,5\n55666,6\n")
    assert run(loaded_store, settings, path).status == "applied"
    set_stock(loaded_store, _25=40)
    again = write(tmp_path / "b_inventory.csv", path.read_text())
    result = run(loaded_store, settings, again)
    assert result.status == "already_processed" and "a_inventory.csv" in result.message
    assert in_stock(loaded_store)["25"] == 40


@sqlite_only
def test_a_dry_run_reports_and_changes_nothing(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A dry run writes the report and leaves the stock and the ledger alone; the file
    can then be applied."""
    path = write(tmp_path / "inventory.csv", "sku,quantity\n007,4\n55665,5\n55666,6\n")
    dry = run(loaded_store, settings, path, dry_run=True)
    assert (dry.status, dry.applied) == ("dry_run", 3)
    assert [line["outcome"] for line in report(dry)] == ["applied"] * 3
    assert in_stock(loaded_store)["25"] == 0
    with loaded_store.connect() as connection:
        assert connection.execute(select(files)).all() == []
    assert run(loaded_store, settings, path).status == "applied"


# --------------------------------------------------------------------------- rows


def test_bad_rows_get_reasons_a_warehouse_can_act_on(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Every kind of bad row, in one file: each rejected with its reason, the good rows
    applied; a SKU whose row was rejected is listed, so a snapshot does not zero it."""
    set_stock(loaded_store, _25=10, _26=10, _27=10, _28=10)
    rows = [
        "007,12.0",  # 2: a spreadsheet's decimals: 12
        "55665,1.2E+03",  # 3: scientific notation
        "55666,-3",  # 4: negative
        "AC-100,5",  # 5: another partner's
        "NOPE,5",  # 6: unknown
        ",5",  # 7: no SKU
        "007,12",  # 8: duplicate of row 2 (12.0 is 12)
        "55666,",  # 9: empty quantity
        "26,2.5",  # 10: not whole
        '55665,"1,200"',  # 11: a separator
    ]
    path = write(tmp_path / "inventory.csv", "sku,quantity\n" + "\n".join(rows) + "\n")
    result = run(loaded_store, settings, path)
    lines = {line["row"]: line for line in report(result)}
    assert lines["2"]["outcome"] == "applied"
    reasons = {row: lines[row]["reason"] for row in lines if lines[row]["outcome"] == "rejected"}
    assert "scientific notation" in reasons["3"]
    assert "negative" in reasons["4"]
    assert "stocked by partner ac, not acme" in reasons["5"]
    assert "no SKU NOPE is known" in reasons["6"]
    assert "SKU is empty" in reasons["7"]
    assert "quantity is empty" in reasons["9"]
    assert "not a whole number" in reasons["10"]
    assert "separator" in reasons["11"]
    assert (lines["8"]["outcome"], lines["8"]["reason"]) == ("unchanged", "duplicate of row 2")
    assert (result.applied, result.unchanged, result.rejected) == (1, 1, 8)
    assert in_stock(loaded_store) == {"25": 12, "26": 10, "27": 10, "28": 10}
    assert result.zeroed == 0


def test_the_same_sku_with_different_quantities_is_rejected_on_every_row(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Two rows naming one SKU (once by warehouse SKU, once by sku id) with different
    quantities: both rejected naming the first row; the SKU keeps its stock."""
    set_stock(loaded_store, _25=10, _26=10, _27=10)
    path = write(tmp_path / "inventory.csv", "sku,quantity\n007,4\n26,5\n25,6\n55666,7\n")
    result = run(loaded_store, settings, path)
    lines = {line["row"]: line for line in report(result)}
    for row in ("2", "4"):
        assert lines[row]["outcome"] == "rejected"
        assert (
            "SKU 25 is on 2 rows with different quantities (the first is row 2)"
            in (lines[row]["reason"])
        )
    assert in_stock(loaded_store) == {"25": 10, "26": 5, "27": 7, "28": 0}


def test_columns_name_what_a_key_is_matched_by(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """warehouse_sku matches only warehouse SKUs, sku_id only sku ids, the first filled
    key column of a row is its key; a warehouse SKU two SKUs carry is named as such."""
    with loaded_store.begin() as connection:
        upsert_catalogue(
            connection,
            [{"id": "29", "factory_sku": "55665", "partner": "acme"}],
            source="test",
            now=NOW,
        )
    path = write(
        tmp_path / "inventory.csv",
        "warehouse_sku,sku_id,quantity\n007,,1\n26,,2\n,27,3\n55665,,4\n",
    )
    result = run(loaded_store, settings, path, configured=partner(settings, inventory_mode="delta"))
    lines = {line["row"]: line for line in report(result)}
    assert lines["2"]["sku_id"] == "25" and lines["2"]["outcome"] == "applied"
    assert "no SKU 26 is known" in lines["3"]["reason"]  # 26 is a sku id, not a warehouse SKU
    assert lines["4"]["sku_id"] == "27" and lines["4"]["outcome"] == "applied"
    assert "carried by several of the shop's SKUs" in lines["5"]["reason"]


# --------------------------------------------------------------------------- files


@sqlite_only
@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("\ufeffSKU;Qty On Hand\r\n007;4\r\n55665;5\r\n55666;6\r\n", "utf-8"),
        ("Item #\tAvailable\r\n007\t4\r\n55665\t5\r\n55666\t6\r\n", "utf-16"),
        ("Warehouse SKU|Stock\r55665|5\r007|4\r55666|6\r", "cp1252"),
    ],
)
def test_files_as_warehouses_write_them(
    loaded_store: Store, settings: Settings, tmp_path: Path, content: str, encoding: str
) -> None:
    """Excel's CSV with a BOM and semicolons, UTF-16 with tabs, Mac line ends with pipes:
    read by name and alias, applied the same."""
    path = write(tmp_path / "inventory.csv", content, encoding)
    result = run(loaded_store, settings, path)
    assert (result.status, result.applied) == ("applied", 3)
    assert in_stock(loaded_store) == {"25": 4, "26": 5, "27": 6, "28": 0}


@sqlite_only
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "is empty"),
        (b"sku,colour\n007,red\n", "lacks a quantity column"),
        (b"name,quantity\nx,1\n", "lacks a SKU column"),
        (b'sku,quantity\n007,"4\n', "not a well-formed CSV"),
        (b"PK\x03\x04 workbook", "ZIP archive"),
    ],
)
def test_unreadable_files_are_rejected_as_a_whole(
    loaded_store: Store, settings: Settings, tmp_path: Path, content: bytes, fragment: str
) -> None:
    """Empty, wrong columns, malformed, a workbook: rejected as a whole (exit 2), a
    one-line report, a ledger row, nothing changed."""
    set_stock(loaded_store, _25=10)
    path = tmp_path / "inventory.csv"
    path.write_bytes(content)
    result = run(loaded_store, settings, path)
    assert result.status == "rejected_file" and result.exit_code == 2
    assert fragment in result.message
    assert [line["outcome"] for line in report(result)] == ["rejected"]
    assert in_stock(loaded_store)["25"] == 10


@sqlite_only
def test_a_file_over_the_size_limit_is_not_read(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = write(tmp_path / "inventory.csv", "sku,quantity\n007,4\n")
    result = run(loaded_store, settings, path, max_file_bytes=10)
    assert result.status == "rejected_file" and "max_file_bytes" in result.message
    assert in_stock(loaded_store)["25"] == 0


@sqlite_only
def test_report_cells_that_would_run_as_formulas_are_neutralised(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A SKU cell like =HYPERLINK(...) is echoed in the report as text."""
    path = write(tmp_path / "inventory.csv", 'sku,quantity\n"=HYPERLINK(""x"")",1\n')
    result = run(loaded_store, settings, path, configured=partner(settings, inventory_mode="delta"))
    assert report(result)[0]["sku"].startswith("'=")


@sqlite_only
def test_a_workbook_is_refused_with_what_to_send_instead(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A real .xlsx sent as an inventory file (the updated files' reader takes workbooks,
    this one reads CSV): rejected as a whole, saying to send CSV; nothing changed."""
    import xlsxwriter

    set_stock(loaded_store, _25=10)
    path = tmp_path / "inventory.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Stock")
    sheet.write_row(0, 0, ["sku", "quantity"])
    sheet.write_row(1, 0, ["007", 4])
    book.close()
    result = run(loaded_store, settings, path)
    assert result.status == "rejected_file" and result.exit_code == 2
    assert "is a workbook (xlsx), not a CSV file" in result.message
    assert result.hint is not None and "CSV UTF-8" in result.hint
    assert in_stock(loaded_store)["25"] == 10


@sqlite_only
def test_excel_sep_line_before_the_header_is_read(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """Excel's ``sep=;`` first line names the delimiter; the header is the next line."""
    path = write(tmp_path / "inventory.csv", "sep=;\r\nsku;quantity\r\n007;4\r\n55665;5\r\n")
    result = run(loaded_store, settings, path, configured=partner(settings, inventory_mode="delta"))
    assert (result.status, result.applied) == ("applied", 2)
    assert in_stock(loaded_store)["25"] == 4 and in_stock(loaded_store)["26"] == 5


# --------------------------------------------------------------------------- summary


def test_the_summary_groups_rejected_rows_by_reason_like_the_import(
    loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """3,002 rows, 3,000 of them with one reason: counts written 3,002, the rows grouped by
    reason (count and first rows), a one-row reason with its SKU, a control character in a
    SKU escaped for the terminal. Collected while the file is read: the summary is the same
    with the report gone."""
    import io

    from ftpbridge.cli.skus import print_inventory

    rows = ["007,12", "55665,oops\x1b[31m"] + ["55666,-3"] * 3_000
    path = write(tmp_path / "inventory.csv", "sku,quantity\n" + "\n".join(rows) + "\n")
    result = run(loaded_store, settings, path, configured=partner(settings, inventory_mode="delta"))
    assert (result.rows, result.applied, result.rejected) == (3_002, 1, 3_001)
    assert result.report_path is not None
    result.report_path.unlink()
    shown = io.StringIO()
    print_inventory(result, shown)
    lines = shown.getvalue().splitlines()
    assert lines[0] == (
        "acme: inventory.csv (delta): 3,002 rows: 1 applied, 0 unchanged, 3,001 rejected"
    )
    assert lines[1] == "Rejected 3,001 rows, by reason:"
    [many] = [line for line in lines if line.startswith("  3,000 rows: ")]
    assert many.endswith("(rows 4, 5, 6, 7, 8 and 2,995 more)")
    assert "quantity" in many and "negative" in many
    [one] = [line for line in lines if line.startswith("  row 3 (sku 55665")]
    assert "\x1b" not in one and "\\x1b" in one
    assert all("\x1b" not in line for line in lines)
