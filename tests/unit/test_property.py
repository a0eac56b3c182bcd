"""Property: random orders → load → export → a fulfiller ships a random subset, spelling
things as people do → import → the store holds exactly what was shipped; importing the
same file again, or the same rows in a new file, changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ftpbridge.files.exporting import export_partner
from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout
from ftpbridge.settings import build_settings
from ftpbridge.store import open_store
from ftpbridge.store.schema import audit, items

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
PARTNERS = {
    "acme": {"default": True},
    "ac": {"skus": ["AC-*"], "timezone": "America/New_York", "date_formats": ["%m/%d/%Y"]},
}

TRUE_SPELLINGS = ["TRUE", "True", "true", "Yes", "yes", "y", "Y", "1", "shipped", "SHIPPED"]
FALSE_SPELLINGS = ["False", "FALSE", "no", "No", "n", "0", "pending", ""]
CARRIER_SPELLINGS = {
    "UPS": ["UPS", "ups", "Ups", "U.P.S.", "UPS Ground"],
    "FEDEX": ["Fedex", "fed ex", "FedEx", "FEDEX", "Federal Express"],
    "ROYAL_MAIL": ["Royal Mail", "royal mail", "ROYAL_MAIL"],
    "USPS": ["USPS", "usps", "US Postal Service"],
}
# Known-valid numbers (tests/unit/test_carriers.py); UPS numbers are generated.
VALID_NUMBERS = {
    "FEDEX": ["986578788855", "477179081230", "799531274483", "041441760228964"],
    "ROYAL_MAIL": ["RB123456785GB"],
    "USPS": ["9400111201080805483016", "9361289878700317633795", "RB123456785US"],
}
UPS_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def ups_number(body: str) -> str:
    """1Z + 15 characters + the UPS check digit (odd positions x1, even x2; letters count
    as (ASCII - 3) mod 10)."""
    total = 0
    for position, character in enumerate(body):
        value = (ord(character) - 3) % 10 if character.isalpha() else int(character)
        total += value * (2 if position % 2 else 1)
    return "1Z" + body + str((10 - total % 10) % 10)


# ----------------------------------------------------------------------------- orders

NAME_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéüÖ -'=+@,;\""


@st.composite
def order_sets(draw) -> list[dict[str, Any]]:
    """1-6 orders with 1-4 items each, unique ids, some cancelled, some routed to 'ac'."""
    count = draw(st.integers(1, 6))
    order_numbers = draw(
        st.lists(st.integers(1, 9999), min_size=count, max_size=count, unique=True)
    )
    records = []
    next_item = 1
    for number in order_numbers:
        created = dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(
            minutes=draw(st.integers(0, 21 * 24 * 60))
        )
        item_list = []
        for _ in range(draw(st.integers(1, 4))):
            item_list.append(
                {
                    "id": next_item,
                    "sku_id": draw(st.integers(1, 99)),
                    "factory_sku": draw(st.sampled_from(["007", "55665", "AC-100", "ac-7", "X1"])),
                    "product_name": draw(st.text(NAME_CHARACTERS, max_size=12)),
                    "quantity": draw(st.integers(1, 3)),
                    "status": draw(st.sampled_from(["pending"] * 5 + ["cancelled"])),
                }
            )
            next_item += 1
        records.append(
            {
                "id": f"{number:05d}",
                "created_at": created.isoformat().replace("+00:00", "Z"),
                "fan": "fan@example.com",
                "shipping_address": {
                    "firstname": draw(st.text(NAME_CHARACTERS, max_size=10)),
                    "lastname": draw(st.text(NAME_CHARACTERS, max_size=10)),
                    "postal_code": draw(st.sampled_from(["02134", "SW1A 1AA", "07102"])),
                    "phone": "+44 20 7946 0958",
                },
                "items": item_list,
            }
        )
    return records


@dataclass(frozen=True)
class Shipment:
    date: dt.date
    carrier: str
    tracking: str


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    encoding: str
    line_ending: str


dialects = st.builds(
    Dialect,
    delimiter=st.sampled_from([",", ";", "\t"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    line_ending=st.sampled_from(["\r\n", "\n"]),
)


def spell_tracking(draw, number: str) -> str:
    """The number as a person may type it: lower case, spaces between groups."""
    text = number.lower() if draw(st.booleans()) else number
    if draw(st.booleans()):
        text = " ".join(text[index : index + 4] for index in range(0, len(text), 4))
    return text


def fulfil(draw, frame: pd.DataFrame, partner: str, order_days: dict[str, dt.date], today: dt.date):
    """Fill in the fulfiller columns of an exported frame; return the frame and the
    expected shipments by item id."""
    expected: dict[str, Shipment] = {}
    headers = {"shipped": "shipped", "date": "shipped_date", "carrier": "carrier"}
    for index in frame.index:
        item_id = frame.at[index, "item_id"]
        if not draw(st.booleans()):
            frame.at[index, headers["shipped"]] = draw(st.sampled_from(FALSE_SPELLINGS))
            continue
        earliest = order_days[item_id]
        day = earliest + dt.timedelta(days=draw(st.integers(0, (today - earliest).days + 1)))
        carrier = draw(st.sampled_from(sorted(CARRIER_SPELLINGS)))
        if carrier == "UPS":
            number = ups_number(
                "".join(draw(st.lists(st.sampled_from(UPS_CHARACTERS), min_size=15, max_size=15)))
            )
        else:
            number = draw(st.sampled_from(VALID_NUMBERS[carrier]))
        if partner == "ac" and draw(st.booleans()):
            written_date = day.strftime("%m/%d/%Y")
        else:
            written_date = day.isoformat()
        frame.at[index, "shipped"] = draw(st.sampled_from(TRUE_SPELLINGS))
        frame.at[index, "shipped_date"] = written_date
        frame.at[index, "carrier"] = draw(st.sampled_from(CARRIER_SPELLINGS[carrier]))
        frame.at[index, "tracking_number"] = spell_tracking(draw, number)
        expected[item_id] = Shipment(day, carrier, number)
    return frame, expected


def write_file(path: Path, frame: pd.DataFrame, dialect: Dialect) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=dialect.delimiter, lineterminator=dialect.line_ending)
    writer.writerow(frame.columns)
    writer.writerows(frame.itertuples(index=False))
    path.write_bytes(buffer.getvalue().encode(dialect.encoding, errors="replace"))


def state(store) -> dict[str, tuple[Any, ...]]:
    with store.connect() as connection:
        return {
            row.id: (row.partner, row.status, row.shipped_date, row.carrier, row.tracking_number)
            for row in connection.execute(select(items))
        }


def audit_count(store) -> int:
    with store.connect() as connection:
        return len(connection.execute(select(audit.c.id)).all())


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(records=order_sets(), data=st.data())
def test_export_ship_import_round_trip(records: list[dict[str, Any]], data) -> None:
    """Whatever the orders and however the fulfiller spells things, after the import exactly
    the shipped items are shipped with the normalised details, nothing is rejected, the
    rest is acknowledged (or still cancelled), and importing again changes nothing."""
    configured = build_settings({"partners": PARTNERS})
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        store = open_store(f"sqlite:///{folder / 'store.db'}")
        try:
            orders_path = folder / "orders.jsonl"
            orders_path.write_text(
                "\n".join(json.dumps(record) for record in records) + "\n", encoding="utf-8"
            )
            load_orders(store, orders_path, list(configured.partners.values()))
            loaded = state(store)

            expected: dict[str, Shipment] = {}
            imported: list[tuple[str, Path]] = []
            for name, partner in configured.partners.items():
                export = export_partner(
                    store, partner, load_layout("default"), folder / name, now=NOW
                )
                frame = pd.read_csv(
                    export.path, dtype=str, keep_default_na=False, encoding=partner.encoding
                )
                assert sorted(frame["item_id"]) == sorted(
                    key for key, row in loaded.items() if row[0] == name and row[1] != "cancelled"
                )
                order_days = {
                    str(item["id"]): dt.datetime.fromisoformat(record["created_at"])
                    .astimezone(partner.zone)
                    .date()
                    for record in records
                    for item in record["items"]
                }
                today = NOW.astimezone(partner.zone).date()
                frame, shipments = fulfil(data.draw, frame, name, order_days, today)
                expected.update(shipments)
                dialect = data.draw(dialects, label=f"{name} dialect")
                updated = folder / name / f"orders_updated_{name}.csv"
                write_file(updated, frame, dialect)
                result = import_file(store, partner, load_layout("default"), updated, now=NOW)
                report = result.report_path.read_text(encoding="utf-8")
                assert result.status == "applied", result.message
                assert result.rejected == 0, report
                assert result.applied == len(shipments), report
                assert result.unchanged == len(frame) - len(shipments)
                imported.append((name, updated))

            after = state(store)
            for item_id, (partner_name, status, *_rest) in loaded.items():
                if item_id in expected:
                    shipment = expected[item_id]
                    assert after[item_id] == (
                        partner_name,
                        "shipped",
                        shipment.date,
                        shipment.carrier,
                        shipment.tracking,
                    )
                elif status == "cancelled":
                    assert after[item_id] == loaded[item_id]
                else:
                    assert after[item_id] == (partner_name, "acknowledged", None, None, None)

            event(f"shipped items: {min(len(expected), 5)}{'+' if len(expected) > 5 else ''}")
            audits = audit_count(store)
            assert audits == 4 * len(expected)
            for name, updated in imported:
                partner = configured.partners[name]
                again = import_file(store, partner, load_layout("default"), updated, now=NOW)
                assert (again.status, again.exit_code) == ("already_processed", 0)
                # The same rows in a new file (one more blank line: another sha256).
                resent = updated.with_name("resent_" + updated.name)
                resent.write_bytes(updated.read_bytes() + b"\r\n")
                later = NOW + dt.timedelta(hours=1)
                third = import_file(store, partner, load_layout("default"), resent, now=later)
                assert (third.status, third.applied, third.rejected) == ("applied", 0, 0)
            assert state(store) == after
            assert audit_count(store) == audits
        finally:
            store.close()


def test_ups_number_generator_matches_a_published_number() -> None:
    """The generator gives the check digit of a published valid UPS number."""
    assert ups_number("5R8939035756712") == "1Z5R89390357567127"
    assert ups_number("879E93034683444") == "1Z879E930346834440"
