"""Import: an updated fulfiller file → validated rows → one transaction → per-row report.

The corpus under tests/data (see its README) holds files as fulfillers really send them;
the other tests write their files here, naming items of examples/orders.jsonl.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import insert, select

from ftpbridge.files import (
    duplicates,
    import_results,
    importing,
    item_rules,
    reports,
    row_rules,
    shipment_checks,
    validation,
    verdicts,
)
from ftpbridge.files import reading as csvread
from ftpbridge.files import rows as rows_module
from ftpbridge.files.exporting import export_partner
from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.settings import build_settings
from ftpbridge.store.engine import utcnow
from ftpbridge.store.schema import audit, files, item_changes, items, orders

DATA = Path(__file__).resolve().parent.parent / "data"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
REQUIRED = ["order_id", "item_id", "shipped", "shipped_date", "carrier", "tracking_number"]
UPS1 = "1Z5R89390357567127"
UPS2 = "1Z879E930346834440"
FEDEX = "986578788855"
REPORT_COLUMNS = ["row", "order_id", "item_id", "outcome", "reason"]
# Row rules and file parsing do not depend on the store's backend: these tests run on SQLite
# only (parametrizing the conftest's store_backend fixture), while the corpus, corrections,
# ledger and transaction tests run on SQLite and PostgreSQL.
sqlite_only = pytest.mark.parametrize("store_backend", ["sqlite"])


# ----------------------------------------------------------------------------- helpers


def write_csv(path: Path, rows: list[list[str]], header: list[str] = REQUIRED) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def run_import(store, settings, path: Path, partner: str = "acme", **kwargs: Any):
    configured = kwargs.pop("configured", None) or settings.partners[partner]
    return import_file(
        store,
        configured,
        load_layout(configured.layout),
        path,
        now=kwargs.pop("now", NOW),
        **kwargs,
    )


def read_report(result) -> list[dict[str, str]]:
    with result.report_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == REPORT_COLUMNS
        return list(reader)


def outcomes(result) -> list[tuple[int, str, str]]:
    return [(int(row["row"]), row["item_id"], row["outcome"]) for row in read_report(result)]


def item_state(store) -> dict[str, tuple[Any, ...]]:
    with store.connect() as connection:
        return {
            row.id: (row.status, row.shipped_date, row.carrier, row.tracking_number)
            for row in connection.execute(select(items))
        }


def audit_rows(store) -> list[dict[str, Any]]:
    """The audit trail as people read it (the view: source and time from the ledger)."""
    with store.connect() as connection:
        query = select(audit).order_by(audit.c.id, audit.c.position)
        return [dict(row) for row in connection.execute(query).mappings()]


def ledger_rows(store) -> list[dict[str, Any]]:
    with store.connect() as connection:
        query = select(files).order_by(files.c.id)
        return [dict(row) for row in connection.execute(query).mappings()]


def snapshot(store) -> tuple[Any, ...]:
    """Everything an import may touch: items, audit trail, ledger."""
    return item_state(store), audit_rows(store), ledger_rows(store)


def shipped(date: str, carrier: str, tracking: str) -> tuple[Any, ...]:
    return ("shipped", dt.date.fromisoformat(date), carrier, tracking)


# ----------------------------------------------------------------------------- corpus

# file → (partner, status, exit code, [(row, item_id, outcome, fragment of the reason)])
CORPUS: dict[str, tuple[str, str, int, list[tuple[int, str, str, str]]]] = {
    "bom_utf8.csv": (
        "acme",
        "applied",
        0,
        [(2, "1001", "applied", "shipped"), (3, "1002", "unchanged", "not shipped yet")],
    ),
    "cp1252_names.csv": (
        "acme",
        "applied",
        0,
        [(2, "1004", "applied", "shipped"), (3, "1005", "unchanged", "not shipped yet")],
    ),
    "semicolon_excel_eu.csv": (
        "acme",
        "applied",
        0,
        [(2, "1006", "applied", "shipped"), (3, "1007", "applied", "shipped")],
    ),
    "tab_delimited.txt": ("acme", "applied", 0, [(2, "1008", "applied", "shipped")]),
    "reordered_topspin_headers.csv": (
        "acme",
        "applied",
        0,
        [(2, "1009", "applied", "shipped"), (3, "1010", "unchanged", "not shipped yet")],
    ),
    "required_only.csv": (
        "acme",
        "applied",
        0,
        [(2, "1011", "applied", "shipped"), (3, "1014", "unchanged", "not shipped yet")],
    ),
    "extra_columns.csv": ("acme", "applied", 0, [(2, "1015", "applied", "shipped")]),
    "scientific_tracking.csv": (
        "acme",
        "applied",
        1,
        [
            (2, "1001", "rejected", "scientific notation"),
            (3, "1002", "rejected", "scientific notation"),
            (4, "1004", "applied", "shipped"),
        ],
    ),
    "duplicates.csv": (
        "acme",
        "applied",
        1,
        [
            (2, "1001", "rejected", "different values on rows 2, 4"),
            (3, "1002", "applied", "shipped"),
            (4, "1001", "rejected", "different values on rows 2, 4"),
            (5, "1002", "unchanged", "duplicate of row 3"),
            (6, "1004", "applied", "shipped"),
            (7, "1004", "unchanged", "duplicate of row 6"),
        ],
    ),
    "unknown_orders.csv": (
        "acme",
        "applied",
        1,
        [
            (2, "9999", "rejected", "no item 9999 in order 999 is known"),
            (3, "1001", "rejected", "item 1001 belongs to order 1, not 2"),
            (4, "1003", "rejected", "item 1003 is not routed to acme"),
            (5, "1005", "applied", "shipped"),
        ],
    ),
    "bad_dates.csv": (
        "acme",
        "applied",
        1,
        [
            (2, "1001", "rejected", "shipped_date 2026-12-25 is in the future"),
            (3, "1002", "rejected", "2026-11-01 is before the order date 2026-11-11"),
            (4, "1004", "rejected", "'31/02/2026' is not a date in an accepted format"),
            (5, "1005", "rejected", "46348 is a spreadsheet serial number"),
            (6, "1006", "rejected", "'11/22/2026' is not a date in an accepted format"),
            (7, "1007", "applied", "shipped"),
        ],
    ),
    "blank_lines_multiline.csv": (
        "acme",
        "applied",
        0,
        [
            (2, "1001", "applied", "shipped"),
            (4, "1002", "applied", "shipped"),
            (5, "1004", "applied", "shipped"),
        ],
    ),
    "cr_only_mac.csv": (
        "acme",
        "applied",
        0,
        [(2, "1001", "applied", "shipped"), (3, "1002", "unchanged", "not shipped yet")],
    ),
    "ac_month_first.csv": (
        "ac",
        "applied",
        1,
        [
            (2, "1003", "applied", "shipped"),
            (3, "1012", "rejected", "'22/11/2026' is not a date in an accepted format"),
            (4, "1013", "applied", "shipped"),
        ],
    ),
    "utf16_unicode_text.txt": (
        "acme",
        "applied",
        0,
        [(2, "1007", "applied", "shipped"), (3, "1008", "unchanged", "not shipped yet")],
    ),
    "shipped_spellings.csv": (
        "acme",
        "applied",
        1,
        [
            (2, "1001", "applied", "shipped"),
            (3, "1002", "applied", "shipped"),
            (4, "1004", "applied", "shipped"),
            (5, "1005", "applied", "shipped"),
            (6, "1006", "applied", "shipped"),
            (7, "1007", "rejected", "shipped is 'maybe'"),
            (8, "1008", "unchanged", "not shipped yet"),
            (9, "1009", "unchanged", "not shipped yet"),
            (10, "1010", "unchanged", "not shipped yet"),
            (11, "1011", "unchanged", "the other columns were ignored"),
            (12, "1014", "rejected", "shipped is empty but"),
            (13, "1015", "unchanged", "not shipped yet"),
        ],
    ),
}


def corpus_copy(name: str, tmp_path: Path) -> Path:
    """A copy of a corpus file in tmp_path (the report is written next to it)."""
    target = tmp_path / "inbox" / name
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(DATA / name, target)
    return target


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file(loaded_store, settings, tmp_path: Path, name: str) -> None:
    """Each corpus file gets exactly its documented report, and its applied rows are stored."""
    partner, status, exit_code, expected = CORPUS[name]
    before = item_state(loaded_store)
    result = run_import(loaded_store, settings, corpus_copy(name, tmp_path), partner)
    assert (result.status, result.exit_code) == (status, exit_code), result.message
    report = read_report(result)
    assert [(int(row["row"]), row["item_id"], row["outcome"]) for row in report] == [
        (row, item_id, outcome) for row, item_id, outcome, _ in expected
    ]
    for line, (_, _, _, fragment) in zip(report, expected, strict=True):
        assert fragment in line["reason"], (line, fragment)
    assert result.applied == sum(1 for entry in expected if entry[2] == "applied")
    assert result.rejected == sum(1 for entry in expected if entry[2] == "rejected")
    assert result.unchanged == sum(1 for entry in expected if entry[2] == "unchanged")
    after = item_state(loaded_store)
    applied = {item_id for _, item_id, outcome, _ in expected if outcome == "applied"}
    changed = {item_id for item_id in after if after[item_id] != before[item_id]}
    assert changed == applied
    assert all(after[item_id][0] == "shipped" for item_id in applied)


def test_corpus_values_are_stored_normalised(loaded_store, settings, tmp_path) -> None:
    """Carriers are stored by canonical name, tracking numbers without spaces, in capitals."""
    for name in (
        "bom_utf8.csv",
        "cp1252_names.csv",
        "semicolon_excel_eu.csv",
        "tab_delimited.txt",
        "reordered_topspin_headers.csv",
        "required_only.csv",
    ):
        run_import(loaded_store, settings, corpus_copy(name, tmp_path))
    state = item_state(loaded_store)
    assert state["1001"] == shipped("2026-11-22", "UPS", UPS1)
    assert state["1004"] == shipped("2026-11-21", "FEDEX", FEDEX)
    assert state["1006"] == shipped("2026-11-22", "FEDEX", "477179081230")
    assert state["1007"] == shipped("2026-11-22", "ROYAL_MAIL", "RB123456785GB")
    assert state["1008"] == shipped("2026-11-20", "USPS", "9400111201080805483016")
    assert state["1009"] == shipped("2026-11-20", "UPS", UPS2)
    assert state["1011"] == shipped("2026-11-22", "DHL", "3318810025")


def test_duplicate_spelled_differently_stores_the_normalised_number(
    loaded_store, settings, tmp_path
) -> None:
    """'1z5r 8939 0357 5671 27' and '1Z5R89390357567127' are one number, stored once."""
    run_import(loaded_store, settings, corpus_copy("duplicates.csv", tmp_path))
    state = item_state(loaded_store)
    assert state["1004"] == shipped("2026-11-22", "UPS", UPS1)
    assert state["1002"] == shipped("2026-11-22", "UPS", UPS2)
    assert state["1001"][0] == "pending"


def test_missing_required_column_rejects_the_whole_file(loaded_store, settings, tmp_path) -> None:
    """No tracking_number column: nothing applied, the report and message name the column,
    the ledger records the rejection, exit code 2."""
    before = item_state(loaded_store)
    result = run_import(
        loaded_store, settings, corpus_copy("missing_tracking_column.csv", tmp_path)
    )
    assert result.status == "rejected_file"
    assert result.exit_code == 2
    assert "tracking_number" in result.message
    assert item_state(loaded_store) == before
    [line] = read_report(result)
    assert line["outcome"] == "rejected"
    assert "tracking_number" in line["reason"]
    [entry] = ledger_rows(loaded_store)
    assert (entry["direction"], entry["state"], entry["import_key"]) == ("import", "rejected", None)
    assert "tracking_number" in entry["message"]


def test_a_damaged_workbook_named_csv_is_rejected(loaded_store, settings, tmp_path) -> None:
    """The start of an .xlsx sent as .csv: read as a workbook (by content), refused as one
    that cannot be read, with a hint to save it again or as CSV."""
    result = run_import(loaded_store, settings, corpus_copy("xlsx_renamed.csv", tmp_path))
    assert (result.status, result.exit_code) == ("rejected_file", 2)
    assert "ZIP" in result.message
    assert "CSV" in (result.hint or "")


def test_every_corpus_file_is_described_in_the_readme() -> None:
    """tests/data/README.md has a line for every file of the corpus, and the test covers it."""
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    corpus = sorted(p.name for p in DATA.iterdir() if p.is_file() and p.name != "README.md")
    assert corpus, "the corpus is empty"
    for name in corpus:
        assert f"`{name}`" in readme, name
    assert set(corpus) == set(CORPUS) | {"missing_tracking_column.csv", "xlsx_renamed.csv"}


# ----------------------------------------------------------------------------- file level


@sqlite_only
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "is empty"),
        (b"order_id,item_id\x00,shipped\r\n", "NUL bytes"),
        (b"%PDF-1.7 not a csv", "PDF"),
        (b"\r\n1,1001,TRUE,2026-11-22,UPS," + UPS1.encode() + b"\r\n", "no header row"),
        (
            b"order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n"
            b'1,1001,TRUE,2026-11-22,UPS,"' + UPS1.encode() + b"\r\n",
            "not a well-formed CSV",
        ),
        (
            b"order_id,item_id,carrier,Shipping Company,shipped,shipped_date,tracking_number\r\n",
            "both mean carrier",
        ),
    ],
)
def test_unreadable_files_are_rejected_as_a_whole(
    loaded_store, settings, tmp_path, content: bytes, fragment: str
) -> None:
    """Empty, binary, header-less, malformed or ambiguous files: exit 2, nothing applied."""
    before = item_state(loaded_store)
    path = tmp_path / "updated_orders.csv"
    path.write_bytes(content)
    result = run_import(loaded_store, settings, path)
    assert (result.status, result.exit_code) == ("rejected_file", 2)
    assert fragment in result.message
    assert item_state(loaded_store) == before
    assert ledger_rows(loaded_store)[-1]["state"] == "rejected"


@sqlite_only
@pytest.mark.parametrize(
    ("lines", "row"),
    [
        (["1,1001,no,,,", "1,1002,no,,,", '3,1004,TRUE,2026-11-22,UPS,"1Z'], 4),
        (["", "", '3,1004,TRUE,2026-11-22,UPS,"1Z'], 4),
        (['1,1001,no,,"a', 'b",', '3,1004,TRUE,2026-11-22,UPS,"1Z'], 3),
    ],
)
def test_a_malformed_row_is_named_by_its_spreadsheet_row(
    loaded_store, settings, tmp_path, lines: list[str], row: int
) -> None:
    """An unbalanced quote rejects the file naming the row a spreadsheet shows for it
    (header row 1, blank lines counted, a quoted line break inside one row)."""
    path = tmp_path / "u.csv"
    header = "order_id,item_id,shipped,shipped_date,carrier,tracking_number"
    path.write_text("\r\n".join([header, *lines]) + "\r\n", encoding="utf-8")
    result = run_import(loaded_store, settings, path)
    assert result.status == "rejected_file"
    assert result.message.endswith(f"EOF inside string starting at row {row}")


@sqlite_only
def test_a_file_over_the_size_limit_is_not_read(loaded_store, settings, tmp_path) -> None:
    """max_file_bytes: a larger file is rejected as a whole without being parsed."""
    path = write_csv(tmp_path / "big.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1]])
    result = run_import(loaded_store, settings, path, max_file_bytes=50)
    assert (result.status, result.exit_code) == ("rejected_file", 2)
    assert "max_file_bytes" in result.message
    assert item_state(loaded_store)["1001"][0] == "pending"


@sqlite_only
def test_a_header_without_rows_changes_nothing_and_exits_0(loaded_store, settings, tmp_path):
    """A file with only the header is processed: no rows, exit 0, recorded in the ledger."""
    result = run_import(loaded_store, settings, write_csv(tmp_path / "empty.csv", []))
    assert (result.status, result.rows, result.exit_code) == ("applied", 0, 0)
    assert read_report(result) == []
    assert ledger_rows(loaded_store)[0]["rows_total"] == 0


@sqlite_only
def test_report_is_written_next_to_the_input_or_where_asked(
    loaded_store, settings, tmp_path
) -> None:
    """The per-row report defaults to FILE.report.csv beside the file; --report moves it."""
    path = write_csv(tmp_path / "orders_updated_1.csv", [["1", "1001", "no", "", "", ""]])
    result = run_import(loaded_store, settings, path)
    assert result.report_path == tmp_path / "orders_updated_1.csv.report.csv"
    assert result.report_path.read_bytes().startswith(b"row,order_id,item_id,outcome,reason\r\n")
    other = write_csv(tmp_path / "orders_updated_2.csv", [["1", "1002", "no", "", "", ""]])
    chosen = tmp_path / "reports" / "r.csv"
    result = run_import(loaded_store, settings, other, report_path=chosen)
    assert result.report_path == chosen
    assert read_report(result) == [
        {
            "row": "2",
            "order_id": "1",
            "item_id": "1002",
            "outcome": "unchanged",
            "reason": "not shipped yet",
        }
    ]


def test_the_ledger_records_the_file_and_its_counts(loaded_store, settings, tmp_path) -> None:
    """Every processed file is in the ledger, with its hash and counts, also with rejections."""
    path = corpus_copy("unknown_orders.csv", tmp_path)
    result = run_import(loaded_store, settings, path, source_name="orders_updated_2026-11-23.csv")
    [entry] = ledger_rows(loaded_store)
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["id"] == result.file_id
    assert (entry["partner"], entry["direction"], entry["state"]) == ("acme", "import", "applied")
    assert entry["name"] == "orders_updated_2026-11-23.csv"
    assert entry["sha256"] == entry["import_key"] == digest == result.sha256
    assert (
        entry["rows_total"],
        entry["rows_applied"],
        entry["rows_unchanged"],
        entry["rows_rejected"],
    ) == (4, 1, 0, 3)


# ----------------------------------------------------------------------------- rows


def test_first_shipment_is_audited_field_by_field(loaded_store, settings, tmp_path) -> None:
    """Each changed field gets an audit row: old and new value, source file and row."""
    path = write_csv(
        tmp_path / "orders_updated_a.csv",
        [["1", "1002", "no", "", "", ""], ["1", "1001", "Yes", "2026-11-22", "fed ex", FEDEX]],
    )
    result = run_import(loaded_store, settings, path)
    rows = audit_rows(loaded_store)
    assert [
        (row["item_id"], row["field"], row["old_value"], row["new_value"], row["row_number"])
        for row in rows
    ] == [
        ("1001", "status", "pending", "shipped", 3),
        ("1001", "shipped_date", None, "2026-11-22", 3),
        ("1001", "carrier", None, "FEDEX", 3),
        ("1001", "tracking_number", None, FEDEX, 3),
    ]
    assert {row["source"] for row in rows} == {"orders_updated_a.csv"}
    assert {row["file_id"] for row in rows} == {result.file_id}
    assert {row["changed_at"] for row in rows} == {NOW}
    # Stored as one change of the item, which does not repeat the file's name and time.
    with loaded_store.connect() as connection:
        stored = connection.execute(select(item_changes)).mappings().all()
    assert [
        (row["item_id"], row["row_number"], row["source"], row["changed_at"]) for row in stored
    ] == [("1001", 3, None, None)]


def test_exported_item_is_audited_from_acknowledged(loaded_store, settings, tmp_path) -> None:
    """After an export the old status in the audit trail is 'acknowledged'."""
    export_partner(
        loaded_store, settings.partners["acme"], load_layout("default"), tmp_path, now=NOW
    )
    path = write_csv(tmp_path / "u.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1]])
    run_import(loaded_store, settings, path)
    assert audit_rows(loaded_store)[0]["old_value"] == "acknowledged"


def test_unshipping_through_a_file_is_rejected(loaded_store, settings, tmp_path) -> None:
    """shipped=false with shipment details for an item already shipped is rejected, naming
    the command that un-ships by hand; the item stays shipped."""
    run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "a.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1]]),
    )
    result = run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "b.csv", [["1", "1001", "FALSE", "2026-11-22", "UPS", UPS1]]),
    )
    [line] = read_report(result)
    assert line["outcome"] == "rejected"
    assert (
        "cannot un-ship it (the shop can, by hand: ftpbridge orders unship 1001)"
        in (line["reason"])
    )
    assert result.exit_code == 1
    assert item_state(loaded_store)["1001"] == shipped("2026-11-22", "UPS", UPS1)


def test_an_older_file_asking_for_no_change_is_unchanged(loaded_store, settings, tmp_path) -> None:
    """The warehouse sends back an older file: its untouched rows still say shipped =
    False for items shipped since. Such a row asks for no change: unchanged, not refused."""
    run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "a.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1]]),
    )
    result = run_import(
        loaded_store,
        settings,
        write_csv(
            tmp_path / "b.csv", [["1", "1001", "False", "", "", ""], ["1", "1002", "", "", "", ""]]
        ),
    )
    assert [(line["outcome"], line["reason"]) for line in read_report(result)] == [
        ("unchanged", "already shipped since this file was made; the row asks for no change"),
        ("unchanged", "not shipped yet"),
    ]
    assert result.exit_code == 0
    assert item_state(loaded_store)["1001"] == shipped("2026-11-22", "UPS", UPS1)


def test_same_details_again_are_unchanged(loaded_store, settings, tmp_path) -> None:
    """An already shipped item sent again with the same details (any spelling) is unchanged."""
    run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "a.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1]]),
    )
    audits = audit_rows(loaded_store)
    result = run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "b.csv", [["1", "1001", "y", "2026-11-22", "ups", UPS1.lower()]]),
        now=NOW + dt.timedelta(days=40),
    )
    [line] = read_report(result)
    assert (line["outcome"], line["reason"]) == ("unchanged", "already shipped with these details")
    assert audit_rows(loaded_store) == audits


@pytest.mark.parametrize("days_after_shipping", [1, 14])
def test_correction_inside_the_edit_window_is_applied_and_audited(
    loaded_store, settings, tmp_path, days_after_shipping: int
) -> None:
    """Other details for an item shipped less than edit_window_days (15) ago replace the old
    ones, and the audit trail keeps both."""
    run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "a.csv", [["1", "1001", "TRUE", "2026-11-20", "UPS", UPS1]]),
        now=dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC),
    )
    result = run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "fix.csv", [["1", "1001", "TRUE", "2026-11-21", "UPS", UPS2]]),
        now=dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC) + dt.timedelta(days=days_after_shipping),
    )
    [line] = read_report(result)
    assert line["outcome"] == "applied"
    assert "correction of the shipment recorded on 2026-11-20" in line["reason"]
    assert item_state(loaded_store)["1001"] == shipped("2026-11-21", "UPS", UPS2)
    corrections = [row for row in audit_rows(loaded_store) if row["source"] == "fix.csv"]
    assert sorted((row["field"], row["old_value"], row["new_value"]) for row in corrections) == [
        ("shipped_date", "2026-11-20", "2026-11-21"),
        ("tracking_number", UPS1, UPS2),
    ]
    assert {row["row_number"] for row in corrections} == {2}


@pytest.mark.parametrize("days_after_shipping", [15, 30])
def test_correction_outside_the_edit_window_is_locked(
    loaded_store, settings, tmp_path, days_after_shipping: int
) -> None:
    """15 days or more after the stored shipped date, a correction is rejected as locked."""
    run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "a.csv", [["1", "1001", "TRUE", "2026-11-20", "UPS", UPS1]]),
        now=dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC),
    )
    late = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC) + dt.timedelta(days=days_after_shipping)
    result = run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "fix.csv", [["1", "1001", "TRUE", "2026-11-21", "UPS", UPS2]]),
        now=late,
    )
    [line] = read_report(result)
    assert line["outcome"] == "rejected"
    assert line["reason"].startswith("locked: the item shipped on 2026-11-20")
    assert item_state(loaded_store)["1001"] == shipped("2026-11-20", "UPS", UPS1)


def test_edit_window_is_per_partner(loaded_store, settings, tmp_path) -> None:
    """edit_window_days = 0 locks every shipped item at once."""
    strict = build_settings({"partners": {"acme": {"default": True, "edit_window_days": 0}}})
    configured = strict.partners["acme"]
    run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "a.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1]]),
        configured=configured,
    )
    result = run_import(
        loaded_store,
        settings,
        write_csv(tmp_path / "b.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS2]]),
        configured=configured,
    )
    assert read_report(result)[0]["reason"].startswith("locked")


@sqlite_only
@pytest.mark.parametrize(
    ("row", "outcome", "fragment"),
    [
        (["1", "1001", "TRUE", "", "UPS", UPS1], "rejected", "shipped_date is empty"),
        (["1", "1001", "TRUE", "2026-11-22", "", UPS1], "rejected", "carrier is empty"),
        (["1", "1001", "TRUE", "2026-11-22", "UPS", ""], "rejected", "tracking_number is empty"),
        (
            ["1", "1001", "TRUE", "2026-11-22", "Pigeon Post", UPS1],
            "rejected",
            "carrier 'Pigeon Post' is unknown (accepted: UPS, USPS, FEDEX, DHL, ROYAL_MAIL,"
            " CANADA_POST",
        ),
        (
            ["1", "1001", "TRUE", "2026-11-22", "UPS", "1Z5R89390357567128"],
            "rejected",
            "fails the UPS check digit",
        ),
        (
            ["1", "1001", "TRUE", "2026-11-22", "UPS", "1Z5R8939-0357567127"],
            "rejected",
            "characters other than A-Z and 0-9",
        ),
        (["1", "1001", "TRUE", "2026-11-22", "UPS", "X" * 41], "rejected", "longer than 40"),
        (
            ["1", "1001", "TRUE", "2026-11-22", "UPS", "ABC123"],
            "applied",
            "does not look like a UPS tracking number; applied anyway",
        ),
        (["12", "1018", "TRUE", "2026-11-22", "UPS", UPS1], "rejected", "cancelled by the shop"),
        (["", "1001", "TRUE", "2026-11-22", "UPS", UPS1], "rejected", "order_id is empty"),
        (["1", "", "TRUE", "2026-11-22", "UPS", UPS1], "rejected", "item_id is empty"),
    ],
)
def test_row_rules(loaded_store, settings, tmp_path, row, outcome, fragment) -> None:
    """Each rule of issue 2 gives its outcome and a reason a person can act on."""
    result = run_import(loaded_store, settings, write_csv(tmp_path / "u.csv", [row]))
    [line] = read_report(result)
    assert line["outcome"] == outcome, line
    assert fragment in line["reason"]


@sqlite_only
def test_every_problem_of_a_row_is_reported_at_once(loaded_store, settings, tmp_path) -> None:
    """A row with a bad date, an unknown carrier and no tracking lists all three."""
    path = write_csv(tmp_path / "u.csv", [["1", "1001", "TRUE", "2027-01-01", "Pigeon", ""]])
    [line] = read_report(run_import(loaded_store, settings, path))
    assert "in the future" in line["reason"]
    assert "carrier 'Pigeon' is unknown" in line["reason"]
    assert "tracking_number is empty" in line["reason"]


@sqlite_only
@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("Fedex", "FEDEX"),
        ("fed ex", "FEDEX"),
        ("FedEx Ground", "FEDEX"),
        ("ups", "UPS"),
        ("U.P.S.", "UPS"),
        ("Royal Mail", "ROYAL_MAIL"),
        ("royal_mail", "ROYAL_MAIL"),
        ("Canada Post", "CANADA_POST"),
        ("usps", "USPS"),
        ("Other", "OTHER"),
    ],
)
def test_carrier_spellings_map_to_canonical_names(
    loaded_store, settings, tmp_path, spelling: str, canonical: str
) -> None:
    """Carrier names as people type them are stored by their canonical name."""
    path = write_csv(tmp_path / "u.csv", [["1", "1001", "TRUE", "2026-11-22", spelling, "AB1"]])
    [line] = read_report(run_import(loaded_store, settings, path))
    assert line["outcome"] == "applied", line
    assert item_state(loaded_store)["1001"][2] == canonical


@sqlite_only
def test_tracking_numbers_lose_spaces_and_are_upper_cased(loaded_store, settings, tmp_path):
    """' 1z5r 8939 0357 5671 27 ' is stored as 1Z5R89390357567127."""
    path = write_csv(
        tmp_path / "u.csv", [["1", "1001", "TRUE", "2026-11-22", "UPS", " 1z5r 8939 0357 5671 27 "]]
    )
    run_import(loaded_store, settings, path)
    assert item_state(loaded_store)["1001"][3] == UPS1


def test_future_is_judged_in_the_partner_time_zone(loaded_store, settings, tmp_path) -> None:
    """At 03:30 UTC on the 23rd it is still the 22nd in New York: for 'ac' the 24th is two
    days ahead (rejected) while for the UTC partner it is tomorrow (accepted)."""
    early = dt.datetime(2026, 11, 23, 3, 30, tzinfo=dt.UTC)
    ac_file = write_csv(tmp_path / "ac.csv", [["2", "1003", "TRUE", "2026-11-24", "UPS", UPS1]])
    acme_file = write_csv(tmp_path / "acme.csv", [["1", "1001", "TRUE", "2026-11-24", "UPS", UPS1]])
    ac_result = run_import(loaded_store, settings, ac_file, "ac", now=early)
    acme_result = run_import(loaded_store, settings, acme_file, "acme", now=early)
    assert read_report(ac_result)[0]["outcome"] == "rejected"
    assert "in the future" in read_report(ac_result)[0]["reason"]
    assert read_report(acme_result)[0]["outcome"] == "applied"


def test_order_date_is_taken_in_the_partner_time_zone(store, settings, tmp_path) -> None:
    """An order placed 02:00 UTC on the 21st was placed on the 20th in New York: shipping it
    on the 20th is fine for 'ac', but before the order date for a UTC partner."""
    record = {
        "id": 77,
        "created_at": "2026-11-21T02:00:00Z",
        "items": [{"id": 771, "factory_sku": "AC-1"}, {"id": 772, "factory_sku": "X-1"}],
    }
    path = tmp_path / "o.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    load_orders(store, path, list(settings.partners.values()))
    ac = run_import(
        store,
        settings,
        write_csv(tmp_path / "ac.csv", [["77", "771", "TRUE", "11/20/2026", "UPS", UPS1]]),
        "ac",
    )
    acme = run_import(
        store,
        settings,
        write_csv(tmp_path / "acme.csv", [["77", "772", "TRUE", "2026-11-20", "UPS", UPS1]]),
    )
    assert read_report(ac)[0]["outcome"] == "applied"
    assert read_report(acme)[0]["reason"] == (
        "shipped_date 2026-11-20 is before the order date 2026-11-21"
    )


@sqlite_only
def test_iso_dates_with_a_time_are_accepted(loaded_store, settings, tmp_path) -> None:
    """'2026-11-22T10:00:00Z' and '2026-11-22 23:59' are the 22nd."""
    path = write_csv(
        tmp_path / "u.csv",
        [
            ["1", "1001", "TRUE", "2026-11-22T10:00:00Z", "UPS", UPS1],
            ["1", "1002", "TRUE", "2026-11-22 23:59", "UPS", UPS2],
        ],
    )
    run_import(loaded_store, settings, path)
    state = item_state(loaded_store)
    assert state["1001"][1] == state["1002"][1] == dt.date(2026, 11, 22)


# ----------------------------------------------------------------------------- file once


def test_an_already_processed_file_changes_nothing(loaded_store, settings, tmp_path) -> None:
    """The same bytes again, under any name, are 'already processed': exit 0, no change."""
    rows = [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1], ["9", "1", "TRUE", "", "", ""]]
    first = run_import(loaded_store, settings, write_csv(tmp_path / "a.csv", rows))
    assert first.exit_code == 1
    before = snapshot(loaded_store)
    for name in ("a.csv", "renamed_updated_copy.csv"):
        path = tmp_path / name
        if not path.exists():
            shutil.copyfile(tmp_path / "a.csv", path)
        again = run_import(loaded_store, settings, path, now=NOW + dt.timedelta(hours=2))
        assert again.status == "already_processed"
        assert again.exit_code == 0
        assert again.file_id == first.file_id
        assert "already processed" in again.message
        assert snapshot(loaded_store) == before
    assert not (tmp_path / "renamed_updated_copy.csv.report.csv").exists()


def test_the_same_file_for_another_partner_is_not_already_processed(
    loaded_store, settings, tmp_path
) -> None:
    """The ledger key is per partner: ac's import of the same bytes is processed."""
    path = write_csv(tmp_path / "a.csv", [["2", "1003", "TRUE", "2026-11-22", "UPS", UPS1]])
    assert run_import(loaded_store, settings, path, "acme").rejected == 1
    result = run_import(loaded_store, settings, path, "ac")
    assert (result.status, result.applied) == ("applied", 1)


def test_a_fixed_file_sent_again_applies_only_the_fixed_rows(
    loaded_store, settings, tmp_path
) -> None:
    """Rows applied from the first file come back unchanged; the fixed row is applied."""
    first = write_csv(
        tmp_path / "v1.csv",
        [
            ["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1],
            ["1", "1002", "TRUE", "2026-11-22", "UPS", "1.23457E+21"],
        ],
    )
    assert run_import(loaded_store, settings, first).exit_code == 1
    second = write_csv(
        tmp_path / "v2.csv",
        [
            ["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1],
            ["1", "1002", "TRUE", "2026-11-22", "UPS", UPS2],
        ],
    )
    result = run_import(loaded_store, settings, second)
    assert outcomes(result) == [(2, "1001", "unchanged"), (3, "1002", "applied")]
    assert result.exit_code == 0
    assert len(ledger_rows(loaded_store)) == 2


def test_dry_run_changes_nothing(loaded_store, settings, tmp_path) -> None:
    """--dry-run: the report and preview say what would change; items, audit and ledger stay,
    and the same file can then be imported for real."""
    path = write_csv(
        tmp_path / "u.csv",
        [["1", "1001", "TRUE", "2026-11-22", "UPS", UPS1], ["1", "1002", "maybe", "", "", ""]],
    )
    before = snapshot(loaded_store)
    result = run_import(loaded_store, settings, path, dry_run=True)
    assert result.status == "dry_run"
    assert (result.applied, result.rejected, result.exit_code) == (1, 1, 1)
    assert result.file_id is None
    assert snapshot(loaded_store) == before
    assert outcomes(result) == [(2, "1001", "would apply"), (3, "1002", "rejected")]
    assert [(change["item_id"], change["new_carrier"]) for change in result.preview] == [
        ("1001", "UPS")
    ]
    real = run_import(loaded_store, settings, path)
    assert (real.status, real.applied) == ("applied", 1)
    assert outcomes(real) == [(2, "1001", "applied"), (3, "1002", "rejected")]
    assert item_state(loaded_store)["1001"] == shipped("2026-11-22", "UPS", UPS1)


def test_dry_run_of_a_rejected_file_records_nothing(loaded_store, settings, tmp_path) -> None:
    """A dry run of a file missing a column reports it but leaves no ledger entry."""
    result = run_import(
        loaded_store,
        settings,
        corpus_copy("missing_tracking_column.csv", tmp_path),
        dry_run=True,
    )
    assert (result.status, result.exit_code) == ("rejected_file", 2)
    assert ledger_rows(loaded_store) == []


def _many_rows(count: int) -> list[list[str]]:
    """``count`` shipped rows for the acme items of the sample orders (cycled: duplicates
    are identical, so only the first of each item is applied)."""
    acme = [
        ("1", "1001"),
        ("1", "1002"),
        ("3", "1004"),
        ("3", "1005"),
        ("4", "1006"),
        ("5", "1007"),
        ("5", "1008"),
        ("6", "1009"),
    ]
    return [
        [order_id, item_id, "TRUE", "2026-11-22", "UPS", UPS1]
        for order_id, item_id in (acme * count)[:count]
    ]


def test_all_or_nothing_when_the_store_fails_mid_import(
    loaded_store, settings, tmp_path, monkeypatch
) -> None:
    """If writing the second chunk fails, the first chunk's changes and the ledger entry are
    rolled back, no report is left behind, and the file can be imported again later."""
    path = write_csv(tmp_path / "u.csv", _many_rows(8))
    before = snapshot(loaded_store)
    calls: list[int] = []
    real_apply = importing.apply_shipments

    def failing_apply(connection, changes, source, now):
        calls.append(len(changes))
        if len(calls) == 2:
            raise RuntimeError("the store went away")
        real_apply(connection, changes, source, now)

    monkeypatch.setattr(importing, "apply_shipments", failing_apply)
    with pytest.raises(RuntimeError, match="went away"):
        run_import(loaded_store, settings, path, chunk_rows=3)
    assert calls == [3, 3]
    assert snapshot(loaded_store) == before
    assert not list(tmp_path.glob("*report*"))
    assert not list(tmp_path.glob(".*.part"))
    monkeypatch.setattr(importing, "apply_shipments", real_apply)
    result = run_import(loaded_store, settings, path, chunk_rows=3)
    assert (result.status, result.applied) == ("applied", 8)


def test_a_malformed_row_in_a_later_chunk_rejects_the_whole_file(
    loaded_store, settings, tmp_path
) -> None:
    """A parse error found after earlier chunks were applied undoes them: nothing applied."""
    path = write_csv(tmp_path / "u.csv", _many_rows(6))
    with path.open("ab") as handle:
        handle.write(b'7,1010,TRUE,2026-11-22,UPS,"' + UPS1.encode() + b"\r\n")
    before = item_state(loaded_store)
    result = run_import(loaded_store, settings, path, chunk_rows=2)
    assert (result.status, result.exit_code) == ("rejected_file", 2)
    assert result.applied == 0
    assert item_state(loaded_store) == before
    assert audit_rows(loaded_store) == []
    assert [entry["state"] for entry in ledger_rows(loaded_store)] == ["rejected"]


@sqlite_only
def test_rows_keep_their_numbers_across_chunks(loaded_store, settings, tmp_path) -> None:
    """Row numbers continue from chunk to chunk, blank lines included."""
    path = tmp_path / "u.csv"
    lines = ["order_id,item_id,shipped,shipped_date,carrier,tracking_number"]
    for index, (order_id, item_id) in enumerate(
        [("1", "1001"), ("1", "1002"), ("3", "1004"), ("3", "1005"), ("4", "1006")]
    ):
        lines.append(f"{order_id},{item_id},no,,,")
        if index % 2 == 0:
            lines.append("")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    result = run_import(loaded_store, settings, path, chunk_rows=2)
    assert [row for row, _, _ in outcomes(result)] == [2, 4, 5, 7, 8]


# ----------------------------------------------------------------------------- round trip


def test_export_edit_with_pandas_import(loaded_store, settings, tmp_path) -> None:
    """The daily cycle: export, a fulfiller edits the file with pandas (all text), renames it
    with 'updated_', imports: the shipped items are shipped, the rest stays waiting."""
    export = export_partner(
        loaded_store, settings.partners["acme"], load_layout("default"), tmp_path, now=NOW
    )
    frame = pd.read_csv(export.path, dtype=str, keep_default_na=False)
    assert frame.loc[frame["item_id"] == "1006", "ship_postal_code"].item() == "02134"
    ship = frame["item_id"].isin(["1001", "1006"])
    frame.loc[ship, "shipped"] = "TRUE"
    frame.loc[ship, "shipped_date"] = "2026-11-22"
    frame.loc[ship, "carrier"] = "Fedex"
    frame.loc[ship, "tracking_number"] = FEDEX
    updated = tmp_path / export.name.replace("orders_", "orders_updated_")
    frame.to_csv(updated, index=False)
    result = run_import(loaded_store, settings, updated)
    assert (result.status, result.applied, result.rejected) == ("applied", 2, 0)
    assert result.unchanged == len(frame) - 2
    state = item_state(loaded_store)
    assert state["1001"] == state["1006"] == shipped("2026-11-22", "FEDEX", FEDEX)
    assert state["1002"][0] == "acknowledged"
    again = export_partner(
        loaded_store,
        settings.partners["acme"],
        load_layout("default"),
        tmp_path / "next",
        now=NOW + dt.timedelta(days=1),
    )
    assert again.rows == len(frame) - 2


def test_topspin_layout_round_trip(loaded_store, settings, tmp_path) -> None:
    """A topspin-layout partner's own headers ("Shipping Company", "Tracking #") import."""
    topspin = build_settings(
        {"partners": {"acme": {"default": True, "schema": "topspin"}}}
    ).partners["acme"]
    export = export_partner(loaded_store, topspin, load_layout("topspin"), tmp_path, now=NOW)
    frame = pd.read_csv(export.path, dtype=str, keep_default_na=False)
    first = frame.index[0]
    frame.loc[first, ["Shipped", "Shipped Date", "Shipping Company", "Tracking #"]] = [
        "Yes",
        "2026-11-22",
        "ups",
        UPS1,
    ]
    updated = tmp_path / "updated.csv"
    frame.to_csv(updated, index=False)
    result = run_import(loaded_store, settings, updated, configured=topspin)
    assert (result.applied, result.rejected) == (1, 0)
    assert item_state(loaded_store)[frame.loc[first, "Item ID"]][0] == "shipped"


# ----------------------------------------------------------------------------- CLI


def test_cli_import_exit_codes(run_cli, loaded_store, settings, tmp_path) -> None:
    """ftpbridge import exits 1 with rejected rows, 0 when clean, 2 for a missing column."""
    bad = write_csv(tmp_path / "bad.csv", [["1", "1001", "TRUE", "2026-11-22", "Pigeon", UPS1]])
    good = write_csv(
        tmp_path / "good.csv",
        [["1", "1002", "TRUE", utcnow().date().isoformat(), "UPS", UPS1]],
    )
    rejected = run_cli("import", "--partner", "acme", str(bad))
    assert rejected.exit_code == 1
    assert "row 2 (order 1, item 1001): carrier 'Pigeon' is unknown" in rejected.stdout
    clean = run_cli("import", "--partner", "acme", str(good))
    assert clean.exit_code == 0, clean.stdout
    assert "1 applied" in clean.stdout
    missing = run_cli(
        "import", "--partner", "acme", str(corpus_copy("missing_tracking_column.csv", tmp_path))
    )
    assert missing.exit_code == 2
    assert "tracking_number" in missing.stdout
    unknown = run_cli("import", "--partner", "nobody", str(good))
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("Error: no partner named 'nobody'")


# ----------------------------------------------------------------------------- streaming


def _big_store(store, count: int) -> None:
    """``count`` items in count/10 orders for acme, inserted directly (fast)."""
    now = utcnow()
    created = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    order_rows = [
        {"id": f"O{index}", "created_at": created, "loaded_at": now, "updated_at": now}
        for index in range(count // 10)
    ]
    item_rows = [
        {
            "id": f"I{index}",
            "order_id": f"O{index // 10}",
            "partner": "acme",
            "status": "acknowledged",
            "updated_at": now,
        }
        for index in range(count)
    ]
    with store.begin() as connection:
        connection.execute(insert(orders), order_rows)
        connection.execute(insert(items), item_rows)


def _big_file(path: Path, count: int) -> Path:
    """A full-layout-width file: one row in ten shipped, the rest untouched."""
    header = ",".join(load_layout("default").headers)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(header + "\r\n")
        for index in range(count):
            filler = (
                f"O{index // 10},2026-11-10,I{index},25,007,22-2222-222,Tour T-Shirt,"
                "Size: M; Color: Black,1,Ken Thompson,4 Main Street,,Boston,MA,02134,US,"
                "+1 617 555 0100,ken@example.com,"
            )
            if index % 10 == 0:
                handle.write(filler + f"TRUE,2026-11-22,UPS,{UPS1}\r\n")
            else:
                handle.write(filler + "False,,,\r\n")
    return path


@sqlite_only
def test_a_100k_line_file_is_streamed_in_chunks(store, settings, tmp_path, monkeypatch) -> None:
    """100,000 lines with chunk_rows=10,000 are read as 10 chunks in each of the two passes,
    validation never sees more than one chunk, and every row is decided and applied.

    (Memory measured by hand with tracemalloc, which makes this import about five times
    slower: see the report of the test engineer; here the bound is the chunking itself.)"""
    count = 100_000
    _big_store(store, count)
    path = _big_file(tmp_path / "big.csv", count)
    chunk_sizes: list[int] = []
    validated_sizes: list[int] = []
    real_iter_chunks = csvread.iter_chunks
    real_validate = importing.validate

    def counting_chunks(*args, **kwargs):
        for chunk in real_iter_chunks(*args, **kwargs):
            chunk_sizes.append(len(chunk))
            yield chunk

    def counting_validate(chunk, state, rules):
        validated_sizes.append(len(chunk))
        return real_validate(chunk, state, rules)

    monkeypatch.setattr(duplicates, "iter_chunks", counting_chunks)  # the first pass
    monkeypatch.setattr(importing, "iter_chunks", counting_chunks)  # the second
    monkeypatch.setattr(importing, "validate", counting_validate)
    result = run_import(store, settings, path, chunk_rows=10_000)

    assert chunk_sizes == [10_000] * 20
    assert validated_sizes == [10_000] * 10
    assert (result.rows, result.applied, result.unchanged, result.rejected) == (
        count,
        count // 10,
        count - count // 10,
        0,
    )
    with store.connect() as connection:
        shipped_ids = connection.execute(
            select(items.c.id).where(items.c.status == "shipped")
        ).scalars()
        assert sorted(shipped_ids) == sorted(f"I{index}" for index in range(0, count, 10))
    with result.report_path.open(encoding="utf-8") as handle:
        assert sum(1 for _ in handle) == count + 1


def lines_run_in(modules: list[Any], function) -> int:
    """How many lines of the given modules run while ``function`` runs, in this thread and
    in threads it starts (the import's read-ahead)."""
    lines = itertools.count()  # next() is one C call: no increment lost between threads
    files = {module.__file__ for module in modules}

    def local(frame, event, arg):
        if event == "line":
            next(lines)
        return local

    def global_(frame, event, arg):
        return local if frame.f_code.co_filename in files else None

    threading.settrace(global_)
    sys.settrace(global_)
    try:
        function()
    finally:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
    return next(lines)


@sqlite_only
def test_no_python_line_runs_per_row(store, settings, tmp_path) -> None:
    """Reading, validating and applying 4,000 rows runs exactly as many lines of csvread,
    rows, validation (and its rules: row_rules, item_rules, shipment_checks), verdicts,
    duplicates, reports, importing and import_results as 200 rows: no Python loop over rows
    (this counts lines, it does not time anything). Dry runs, so that both files meet the
    same store state."""
    _big_store(store, 4_000)
    counts = []
    for size in (200, 4_000):
        path = _big_file(tmp_path / f"rows_{size}.csv", size)
        modules = [
            csvread,
            rows_module,
            validation,
            row_rules,
            item_rules,
            shipment_checks,
            verdicts,
            duplicates,
            reports,
            importing,
            import_results,
        ]
        counts.append(
            lines_run_in(modules, lambda path=path: run_import(store, settings, path, dry_run=True))
        )
    assert counts[0] > 200  # the tracer did see the modules run
    assert counts[1] == counts[0]


# ----------------------------------------------------------------------------- review fixes


@sqlite_only
@pytest.mark.parametrize("spelling", ["t", "x", "f", "maybe"])
def test_shipped_spellings_outside_the_contract_are_rejected(
    loaded_store, settings, tmp_path, spelling: str
) -> None:
    """Only true/false, yes/no, y/n, 1/0 and shipped/pending count; "t", "x", "f" are
    refused rather than guessed."""
    path = write_csv(tmp_path / "u.csv", [["1", "1001", spelling, "2026-11-22", "UPS", UPS1]])
    result = run_import(loaded_store, settings, path)
    [row] = read_report(result)
    assert row["outcome"] == "rejected"
    assert "shipped is" in row["reason"]


@sqlite_only
def test_a_date_format_with_a_time_still_means_the_day(loaded_store, settings, tmp_path) -> None:
    """With date_formats = ["%m/%d/%Y %H:%M"], tomorrow at 10:00 is not "in the future",
    the stored date is the day, and the same row sent again is unchanged."""
    partner = settings.partners["acme"].model_copy(update={"date_formats": ("%m/%d/%Y %H:%M",)})
    rows = [["1", "1001", "TRUE", "11/24/2026 10:00", "UPS", UPS1]]
    first = run_import(
        loaded_store, settings, write_csv(tmp_path / "a.csv", rows), configured=partner
    )
    assert [row["outcome"] for row in read_report(first)] == ["applied"]
    assert item_state(loaded_store)["1001"] == shipped("2026-11-24", "UPS", UPS1)
    resent = write_csv(  # the same row in a new file (an extra column changes its bytes)
        tmp_path / "b.csv", [[*rows[0], "resent"]], [*REQUIRED, "note"]
    )
    again = run_import(loaded_store, settings, resent, configured=partner)
    assert {row["outcome"] for row in read_report(again)} == {"unchanged"}


@sqlite_only
def test_a_fulfillers_own_status_column_is_not_taken_for_shipped(
    loaded_store, settings, tmp_path
) -> None:
    """A "Status" column beside "shipped" (the warehouse's own) is ignored, not a clash."""
    header = [
        "order_id",
        "item_id",
        "shipped",
        "Status",
        "shipped_date",
        "carrier",
        "tracking_number",
    ]
    path = write_csv(
        tmp_path / "u.csv", [["1", "1001", "TRUE", "In transit", "2026-11-22", "UPS", UPS1]], header
    )
    result = run_import(loaded_store, settings, path)
    assert result.status == "applied"
    assert [row["outcome"] for row in read_report(result)] == ["applied"]


@sqlite_only
def test_a_trailing_delimiter_on_every_row_does_not_shift_the_columns(
    loaded_store, settings, tmp_path
) -> None:
    """Data rows with one more (empty) field than the header, as some systems write them,
    keep their columns; a row with extra trailing fields is read by its header too."""
    path = tmp_path / "trailing.csv"
    path.write_text(
        ",".join(REQUIRED) + "\r\n"
        f"1,1001,TRUE,2026-11-22,UPS,{UPS1},\r\n"
        f"1,1002,TRUE,2026-11-22,UPS,{UPS2},extra,more\r\n"
    )
    result = run_import(loaded_store, settings, path)
    assert [row["outcome"] for row in read_report(result)] == ["applied", "applied"]
    assert item_state(loaded_store)["1002"] == shipped("2026-11-22", "UPS", UPS2)


@sqlite_only  # PostgreSQL refuses NUL in text altogether
def test_apply_keeps_a_value_holding_nul_whole(loaded_store) -> None:
    """SQLite's json_extract ends a text at NUL: such rows go in by executemany, whole."""
    from ftpbridge.store.shipments import AuditSource, apply_shipments

    odd = "UPS\x00X"
    with loaded_store.begin() as connection:
        apply_shipments(
            connection,
            [("1001", "shipped", "2026-11-22", odd, UPS1, 2)],
            AuditSource(None, "manual"),
            NOW,
        )
    with loaded_store.connect() as connection:
        carrier = connection.execute(select(items.c.carrier).where(items.c.id == "1001")).scalar()
        trail = connection.execute(
            select(audit.c.field, audit.c.new_value, audit.c.source).order_by(audit.c.position)
        ).all()
    assert carrier == odd
    assert ("carrier", odd, "manual") in [tuple(row) for row in trail]
