"""Export: a partner's items waiting to ship → one CSV file, recorded in the ledger."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from ftpbridge.files import exporting, formulas
from ftpbridge.files.exporting import export_partner, file_name
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.settings import build_settings
from ftpbridge.store.schema import files, items

NOW = dt.datetime(2026, 11, 23, 3, 30, tzinfo=dt.UTC)  # still the 22nd in New York
LATER = NOW + dt.timedelta(days=1)
DEFAULT_HEADERS = [
    "order_id",
    "order_date",
    "item_id",
    "sku",
    "warehouse_sku",
    "upc",
    "product_name",
    "attributes",
    "quantity",
    "ship_name",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
    "email",
    "shipped",
    "shipped_date",
    "carrier",
    "tracking_number",
]
# examples/orders.jsonl: acme gets every item but the AC-* posters (ac's) and cancelled 1018.
ACME_ITEMS = [
    "1001",
    "1002",
    "1004",
    "1005",
    "1006",
    "1007",
    "1008",
    "1009",
    "1010",
    "1011",
    "1014",
    "1015",
    "1016",
]
AC_ITEMS = ["1003", "1012", "1013", "1017"]


def read_rows(path: Path, *, encoding: str = "utf-8", delimiter: str = ",") -> list[dict]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def item_rows(store) -> dict[str, dict[str, Any]]:
    with store.connect() as connection:
        return {row["id"]: dict(row) for row in connection.execute(select(items)).mappings()}


def ledger_rows(store) -> list[dict[str, Any]]:
    with store.connect() as connection:
        return [dict(row) for row in connection.execute(select(files)).mappings()]


def partner(settings, name: str, **changes: Any):
    """The named partner of the shared config with some settings changed (validated)."""
    data = settings.partners[name].model_dump(by_alias=True, exclude={"name"})
    data.update(changes)
    return build_settings({"partners": {name: data}}).partners[name]


def export(store, settings, name: str = "acme", folder: Path | None = None, **kwargs: Any):
    configured = kwargs.pop("partner", None) or settings.partners[name]
    layout = load_layout(kwargs.pop("layout", configured.layout))
    target = folder if folder is not None else Path(settings.base_dir) / "out"
    return export_partner(store, configured, layout, target, now=kwargs.pop("now", NOW), **kwargs)


def ship(store, item_id: str) -> None:
    with store.begin() as connection:
        connection.execute(
            update(items)
            .where(items.c.id == item_id)
            .values(
                status="shipped",
                shipped_date=dt.date(2026, 11, 22),
                carrier="UPS",
                tracking_number="1Z5R89390357567127",
            )
        )


def load_one(store, settings, tmp_path: Path, **fields: Any) -> None:
    """Load one order (item 501) whose shipping address and product take ``fields``."""
    address = {
        "firstname": "Ada",
        "lastname": "Lovelace",
        "address1": "1 Main Street",
        "address2": "",
        "city": "London",
        "state": "",
        "postal_code": "02134",
        "country": "GB",
        "phone": "+44 20 7946 0958",
    }
    product = {
        "id": 501,
        "sku_id": 25,
        "product_name": "Hoodie",
        "factory_sku": "007",
        "sku_upc": "22-2222-222",
        "quantity": 1,
    }
    for key, value in fields.items():
        (address if key in address else product)[key] = value
    record = {
        "id": 500,
        "created_at": "2026-11-20T14:03:00Z",
        "fan": "ada@example.com",
        "shipping_address": address,
        "items": [product],
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    load_orders(store, path, list(settings.partners.values()))


def test_every_unshipped_item_exactly_once_in_stable_order(loaded_store, settings) -> None:
    """The file holds each of the partner's waiting items once, by order date, order, item."""
    result = export(loaded_store, settings)
    rows = read_rows(result.path)
    assert [row["item_id"] for row in rows] == ACME_ITEMS
    assert result.rows == len(ACME_ITEMS)
    ac = export(loaded_store, settings, "ac")
    assert [row["item_id"] for row in read_rows(ac.path)] == AC_ITEMS


def test_order_with_the_same_time_is_sorted_by_order_then_item(store, settings, tmp_path) -> None:
    """Orders created at the same moment come out by order id, their items by item id, in
    natural order ("9" before "10")."""
    lines = []
    for order_id, item_ids in (("B-2", ["9", "10"]), ("A-1", ["30", "20"])):
        lines.append(
            json.dumps(
                {
                    "id": order_id,
                    "created_at": "2026-11-20T14:03:00Z",
                    "items": [{"id": item_id, "factory_sku": "1"} for item_id in item_ids],
                }
            )
        )
    path = tmp_path / "same.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_orders(store, path, list(settings.partners.values()))
    first = [row["item_id"] for row in read_rows(export(store, settings).path)]
    second = [
        row["item_id"] for row in read_rows(export(store, settings, folder=tmp_path / "b").path)
    ]
    assert first == second == ["20", "30", "9", "10"]


def test_unshipped_items_come_again_without_duplicates(loaded_store, settings, tmp_path) -> None:
    """all_unshipped: yesterday's unshipped items are in today's file once; shipped ones not."""
    export(loaded_store, settings, folder=tmp_path / "day1")
    ship(loaded_store, "1001")
    ship(loaded_store, "1009")
    again = export(loaded_store, settings, folder=tmp_path / "day2", now=LATER)
    ids = [row["item_id"] for row in read_rows(again.path)]
    assert ids == [item_id for item_id in ACME_ITEMS if item_id not in ("1001", "1009")]
    assert len(ids) == len(set(ids))


def test_shipped_is_false_and_fulfiller_columns_are_empty(loaded_store, settings) -> None:
    """Every exported row says shipped False, with no date, carrier or tracking number."""
    rows = read_rows(export(loaded_store, settings).path)
    assert rows
    assert {row["shipped"] for row in rows} == {"False"}
    for column in ("shipped_date", "carrier", "tracking_number"):
        assert {row[column] for row in rows} == {""}


def test_values_are_written_as_stored(loaded_store, settings) -> None:
    """Identifiers keep their zeros; names, attributes and quantities come through."""
    rows = {row["item_id"]: row for row in read_rows(export(loaded_store, settings).path)}
    row = rows["1006"]
    assert row["order_id"] == "4"
    assert row["order_date"] == "2026-11-14"
    assert row["warehouse_sku"] == "007"
    assert row["ship_postal_code"] == "02134"
    assert row["ship_name"] == "Ken Thompson"
    assert row["ship_phone"] == "+1 617 555 0100"
    assert row["attributes"] == "Size: M; Color: Black"
    assert rows["1002"]["quantity"] == "2"
    assert rows["1001"]["ship_address2"] == ""


def test_exported_items_become_acknowledged_with_times(loaded_store, settings) -> None:
    """Export marks items acknowledged; first export time stays, last export time moves."""
    export(loaded_store, settings, folder=Path(settings.base_dir) / "1")
    after_first = item_rows(loaded_store)
    for item_id in ACME_ITEMS:
        row = after_first[item_id]
        assert row["status"] == "acknowledged"
        assert row["first_exported_at"] == NOW
        assert row["last_exported_at"] == NOW
    for item_id in AC_ITEMS:
        assert after_first[item_id]["status"] == "pending"
        assert after_first[item_id]["first_exported_at"] is None
    assert after_first["1018"]["status"] == "cancelled"
    export(loaded_store, settings, folder=Path(settings.base_dir) / "2", now=LATER)
    after_second = item_rows(loaded_store)
    assert after_second["1001"]["first_exported_at"] == NOW
    assert after_second["1001"]["last_exported_at"] == LATER


def test_marked_says_whether_the_export_marked(loaded_store, settings) -> None:
    """``ExportResult.marked`` is True only when the export marked its items: False for a
    dry run and for ``mark=False`` (an upload marks them later), whose items stay pending."""
    base = Path(settings.base_dir)
    unmarked = export(loaded_store, settings, folder=base / "unmarked", mark=False)
    assert unmarked.marked is False
    assert unmarked.rows == len(ACME_ITEMS) and not unmarked.dry_run
    assert {item_rows(loaded_store)[item]["status"] for item in ACME_ITEMS} == {"pending"}
    looked = export(loaded_store, settings, folder=base / "look", dry_run=True)
    assert (looked.marked, looked.dry_run) == (False, True)
    marked = export(loaded_store, settings, folder=base / "marked")
    assert (marked.marked, marked.dry_run) == (True, False)


def test_the_file_goes_into_the_ledger(loaded_store, settings) -> None:
    """One export ledger entry with the file's name, hash, size, rows and local day."""
    result = export(loaded_store, settings, "ac")
    content = result.path.read_bytes()
    [entry] = ledger_rows(loaded_store)
    assert entry["id"] == result.file_id
    assert entry["direction"] == "export"
    assert entry["partner"] == "ac"
    assert entry["name"] == result.name == "orders_2026-11-22.csv"
    assert entry["sha256"] == hashlib.sha256(content).hexdigest() == result.sha256
    assert entry["size"] == len(content) == result.size
    assert entry["rows_total"] == len(AC_ITEMS)
    assert entry["day"] == "2026-11-22"
    assert entry["state"] == "written"
    assert entry["import_key"] is None


def test_new_only_exports_each_item_once_ever(loaded_store, settings, tmp_path) -> None:
    """export_mode new_only: the second file has only items loaded since the first."""
    new_only = partner(settings, "acme", export_mode="new_only")
    first = export(loaded_store, settings, partner=new_only, folder=tmp_path / "1")
    assert [row["item_id"] for row in read_rows(first.path)] == ACME_ITEMS
    second = export(loaded_store, settings, partner=new_only, folder=tmp_path / "2", now=LATER)
    assert read_rows(second.path) == []
    assert second.path.read_bytes() == (",".join(DEFAULT_HEADERS) + "\r\n").encode()
    load_one(loaded_store, settings, tmp_path)
    third = export(loaded_store, settings, partner=new_only, folder=tmp_path / "3", now=LATER)
    assert [row["item_id"] for row in read_rows(third.path)] == ["501"]


def test_an_empty_export_is_a_header_and_a_ledger_entry(store, settings) -> None:
    """With nothing to ship the file has just the header; it is still recorded."""
    result = export(store, settings)
    assert result.rows == 0
    assert result.path.read_bytes() == (",".join(DEFAULT_HEADERS) + "\r\n").encode()
    assert ledger_rows(store)[0]["rows_total"] == 0


def test_file_name_uses_the_partner_time_zone() -> None:
    """The template's date is the partner's local date, not UTC's."""
    settings = build_settings(
        {
            "partners": {
                "ny": {"timezone": "America/New_York"},
                "tokyo": {
                    "timezone": "Asia/Tokyo",
                    "filename_template": "Shop-orders-{partner}-{date:%d.%m.%Y}.csv",
                },
                "utc": {},
            }
        }
    )
    moment = dt.datetime(2026, 11, 23, 3, 30, tzinfo=dt.UTC)
    assert file_name(settings.partners["ny"], moment) == "orders_2026-11-22.csv"
    assert file_name(settings.partners["utc"], moment) == "orders_2026-11-23.csv"
    evening = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)
    assert file_name(settings.partners["tokyo"], evening) == "Shop-orders-tokyo-24.11.2026.csv"


def test_order_date_is_written_in_the_partner_time_zone(store, settings, tmp_path) -> None:
    """An order placed 02:00 UTC on the 21st is the 20th for a New York partner."""
    record = {
        "id": 1,
        "created_at": "2026-11-21T02:00:00Z",
        "items": [{"id": 1, "factory_sku": "AC-1"}, {"id": 2, "factory_sku": "X"}],
    }
    path = tmp_path / "late.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    load_orders(store, path, list(settings.partners.values()))
    assert read_rows(export(store, settings, "ac").path)[0]["order_date"] == "2026-11-20"
    assert read_rows(export(store, settings, "acme").path)[0]["order_date"] == "2026-11-21"
    month_first = partner(settings, "ac", date_format="%m/%d/%Y")
    load_orders(store, path, list(settings.partners.values()))
    with store.begin() as connection:
        connection.execute(update(items).values(status="pending"))
    rows = read_rows(export(store, settings, partner=month_first, folder=tmp_path / "m").path)
    assert rows[0]["order_date"] == "11/20/2026"


def test_default_format_is_rfc4180(store, settings, tmp_path) -> None:
    """UTF-8 without BOM, comma, CRLF after every record, quotes only around cells that
    hold a comma, a quote or a line break (quotes doubled)."""
    load_one(
        store,
        settings,
        tmp_path,
        address1="Flat 2, Rose Court",
        address2='The "Old" Mill',
        city="Line\nBreak",
        product_name="Café crème",
    )
    content = export(store, settings).path.read_bytes()
    assert not content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8")
    assert text.endswith("\r\n")
    header, body = text.split("\r\n", 1)
    assert header == ",".join(DEFAULT_HEADERS)
    assert body == (
        '500,2026-11-20,501,25,007,22-2222-222,Café crème,,1,Ada Lovelace,"Flat 2, Rose Court",'
        '"The ""Old"" Mill","Line\nBreak",,02134,GB,+44 20 7946 0958,ada@example.com,False,,,\r\n'
    )


@pytest.mark.parametrize("line_ending", ["crlf", "lf"])
def test_a_carriage_return_inside_a_cell_is_quoted(store, settings, tmp_path, line_ending) -> None:
    """A cell with a line break of any kind stays one cell for a CSV reader."""
    load_one(store, settings, tmp_path, address1="Flat 2\rRose Court")
    configured = partner(settings, "acme", line_ending=line_ending)
    content = export(store, settings, partner=configured).path.read_bytes()
    rows = list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))
    assert len(rows) == 2
    assert len(rows[1]) == len(DEFAULT_HEADERS)
    assert rows[1][DEFAULT_HEADERS.index("ship_address1")].splitlines() == ["Flat 2", "Rose Court"]


def test_partner_file_settings(store, settings, tmp_path) -> None:
    """Delimiter, encoding, byte-order mark and line ending follow the partner's settings."""
    load_one(store, settings, tmp_path, address1="Rue de l'Église; 3", product_name="Café")
    configured = partner(
        settings, "acme", delimiter=";", encoding="cp1252", bom=False, line_ending="lf"
    )
    content = export(store, settings, partner=configured).path.read_bytes()
    assert b"\r" not in content
    assert content.count(b"\n") == 2
    assert "Café".encode("cp1252") in content
    assert '"Rue de l\'Église; 3"'.encode("cp1252") in content
    rows = read_rows(
        export(store, settings, partner=configured, folder=tmp_path / "again").path,
        encoding="cp1252",
        delimiter=";",
    )
    assert rows[0]["ship_address1"] == "Rue de l'Église; 3"
    assert rows[0]["product_name"] == "Café"


def test_byte_order_mark_and_tab_delimiter_on_request(store, settings, tmp_path) -> None:
    """bom = true writes one UTF-8 BOM before the header; 'tab' separates with tabs."""
    load_one(store, settings, tmp_path)
    configured = partner(settings, "acme", bom=True, delimiter="tab")
    content = export(store, settings, partner=configured).path.read_bytes()
    assert content.startswith(b"\xef\xbb\xbforder_id\torder_date\t")
    assert content.count(b"\xef\xbb\xbf") == 1


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("-2+3", "'-2+3"),
        ("+1+1", "'+1+1"),
        ('=HYPERLINK("http://x.example")', '\'=HYPERLINK("http://x.example")'),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("-12", "-12"),
        ("(973) 555-0142", "(973) 555-0142"),
        ("Plain Name", "Plain Name"),
    ],
)
def test_formula_cells_are_neutralised(store, settings, tmp_path, value, written) -> None:
    """Cells from customers that a spreadsheet would compute get a leading apostrophe;
    phone numbers and plain negative numbers keep their exact text."""
    load_one(
        store,
        settings,
        tmp_path,
        firstname="",
        lastname=value,
        address1=value,
        city=value,
        phone=value,
        product_name=value,
    )
    [row] = read_rows(export(store, settings).path)
    for column in ("ship_name", "ship_address1", "ship_city", "ship_phone", "product_name"):
        assert row[column] == written, column


def test_formula_rule_on_a_column() -> None:
    """neutralise_formulas works a whole column at a time and keeps the index."""
    import pandas as pd

    values = pd.Series(["=1+1", "+44 20 7946 0958", "-2+3", "", "-12"], index=[5, 6, 7, 8, 9])
    result = formulas.neutralise_formulas(values.astype("str"))
    assert result.to_dict() == {5: "'=1+1", 6: "+44 20 7946 0958", 7: "'-2+3", 8: "", 9: "-12"}


def test_topspin_layout_headers(loaded_store, settings) -> None:
    """schema = "topspin" writes Topspin's human headers with the same data."""
    topspin = partner(settings, "acme", schema="topspin")
    path = export(loaded_store, settings, partner=topspin).path
    header = path.read_bytes().split(b"\r\n", 1)[0].decode()
    columns = header.split(",")
    assert columns[0] == "Order ID"
    assert columns[-4:] == ["Shipped", "Shipped Date", "Shipping Company", "Tracking #"]
    assert len(columns) == len(DEFAULT_HEADERS)
    rows = read_rows(path)
    assert [row["Item ID"] for row in rows] == ACME_ITEMS
    assert {row["Shipped"] for row in rows} == {"False"}


def test_default_layout_headers_are_exactly_the_issue_list() -> None:
    """schemas/default.toml has exactly the headers the issue lists, in order."""
    assert load_layout("default").headers == DEFAULT_HEADERS


def test_a_failed_export_leaves_no_file_and_marks_nothing(
    loaded_store, settings, monkeypatch
) -> None:
    """If recording the export fails, no file (final or temporary) remains, items stay pending."""

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(exporting, "mark_exported", broken)
    monkeypatch.setattr(exporting, "mark_all_exported", broken)  # SQLite: marked in a thread
    folder = Path(settings.base_dir) / "out"
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(loaded_store, settings, folder=folder)
    assert list(folder.iterdir()) == []
    assert {row["status"] for row in item_rows(loaded_store).values()} == {"pending", "cancelled"}
    assert ledger_rows(loaded_store) == []


def test_orders_placed_at_the_same_moment_come_in_numeric_id_order(
    store, settings, tmp_path
) -> None:
    """Order "9" comes before order "10" (and item "9" before "10") when their order times
    are equal: identifiers are text, but the export order is the natural one."""
    from ftpbridge.store.engine import utcnow
    from ftpbridge.store.orders import ORDER_FIELDS, upsert_orders

    when = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    blank = {field: "" for field in ORDER_FIELDS if field != "created_at"}
    orders_rows = [{"id": order_id, "created_at": when, **blank} for order_id in ("10", "9")]
    item_rows = [
        {
            "id": item_id,
            "order_id": order_id,
            "sku_id": "1",
            "warehouse_sku": "W",
            "upc": "",
            "product_name": "P",
            "product_type": "",
            "attributes": "",
            "quantity": 1,
            "partner": "acme",
            "status": "pending",
        }
        for order_id, item_id in (("10", "100"), ("9", "10"), ("9", "9"))
    ]
    with store.begin() as connection:
        upsert_orders(connection, orders_rows, item_rows, utcnow())
    partner = settings.partners["acme"]
    result = export_partner(store, partner, load_layout(partner.layout), tmp_path)
    with result.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["order_id"], row["item_id"]) for row in rows] == [
        ("9", "9"),
        ("9", "10"),
        ("10", "100"),
    ]
