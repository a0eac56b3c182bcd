"""Property, on SQLite and PostgreSQL: random stock, a random inventory feed (snapshot or
delta, rows by warehouse SKU or sku id, spreadsheet damage, bad cells, repeated SKUs,
another partner's and unknown SKUs, a random inventory_max_zeroed) → the store holds
exactly the stock a plain Python model of the rules expects; the same file again changes
nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from ftpbridge.files.inventory import import_inventory
from ftpbridge.settings import build_settings
from ftpbridge.store import Store
from ftpbridge.store.schema import files, sku_campaigns, skus, stock_changes

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Sku:
    id: str
    factory_sku: str
    partner: str
    stock: int


@dataclass(frozen=True)
class Row:
    key: str
    cell: str
    value: int | None  # the quantity the cell means, None when the row is refused


@st.composite
def catalogues(draw: st.DrawFn) -> list[Sku]:
    """2-10 SKUs (ids 1.., warehouse SKUs W-..., unique), most acme's, some ac's."""
    count = draw(st.integers(2, 10))
    return [
        Sku(
            str(number),
            f"W-{number:03d}",
            draw(st.sampled_from(["acme", "acme", "acme", "ac"])),
            draw(st.sampled_from([0, 0, 1, 5, 12, 40])),
        )
        for number in range(1, count + 1)
    ]


def quantity_cells(value: int) -> st.SearchStrategy[tuple[str, int | None]]:
    """How a cell may spell a quantity, and what it means (None: refused)."""
    return st.sampled_from(
        [
            (str(value), value),
            (f"{value}.0", value),  # a spreadsheet's decimals
            (f"+{value}", value),
            (f"{value}.5", None),  # not whole
            (f"{max(value, 1) * 1000:.1E}", None),  # scientific notation: damage
            (f"-{value + 1}", None),  # negative
            ("", None),  # empty
            ("many", None),  # not a number
        ]
    )


@st.composite
def feeds(draw: st.DrawFn, catalogue: list[Sku]) -> list[Row]:
    rows = []
    for _ in range(draw(st.integers(0, 14))):
        sku = draw(st.sampled_from(catalogue))
        key = draw(
            st.sampled_from(
                [sku.id, sku.factory_sku, sku.factory_sku.lower(), "UNKNOWN-9", sku.factory_sku]
            )
        )
        value = draw(st.sampled_from([0, 0, 1, 3, 12, 40]))
        cell, meaning = draw(quantity_cells(value))
        rows.append(Row(key, cell, meaning))
    return rows


def model(catalogue: list[Sku], rows: list[Row], snapshot: bool, share: float) -> dict[str, int]:
    """The rules as plain Python: what each SKU holds after the file."""
    ours = {sku.id: sku for sku in catalogue if sku.partner == "acme"}
    by_factory = {sku.factory_sku: sku.id for sku in ours.values()}
    named: set[str] = set()
    values: dict[str, set[int]] = {}
    for row in rows:
        sku_id = by_factory.get(row.key) or (row.key if row.key in ours else None)
        if sku_id is None:
            continue  # unknown (also the lower-cased warehouse SKU), or ac's
        named.add(sku_id)
        if row.value is not None:
            values.setdefault(sku_id, set()).add(row.value)
    after = {sku.id: sku.stock for sku in catalogue}
    for sku_id, seen in values.items():
        if len(seen) == 1:  # a SKU named with different quantities is refused
            after[sku_id] = next(iter(seen))
    if snapshot:
        for sku_id in ours:
            if sku_id not in named:
                after[sku_id] = 0
        in_stock = [sku for sku in ours.values() if sku.stock > 0]
        zeroed = [sku for sku in in_stock if after[sku.id] == 0]
        if in_stock and len(zeroed) / len(in_stock) > share:
            return {sku.id: sku.stock for sku in catalogue}  # held
    return after


def write_feed(path: Path, rows: list[Row], header: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header, "quantity"])
    writer.writerows([row.key, row.cell] for row in rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))


def reset(store: Store, catalogue: list[Sku]) -> None:
    with store.begin() as connection:
        for table in (stock_changes, files, sku_campaigns, skus):
            connection.execute(delete(table))
        connection.execute(
            insert(skus),
            [
                {
                    "id": sku.id,
                    "factory_sku": sku.factory_sku,
                    "partner": sku.partner,
                    "in_stock_quantity": sku.stock,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for sku in catalogue
            ],
        )


def stock(store: Store) -> dict[str, int]:
    with store.connect() as connection:
        return dict(connection.execute(select(skus.c.id, skus.c.in_stock_quantity)).all())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_feeds_leave_exactly_the_stock_the_rules_say(
    store: Store, data: st.DataObject
) -> None:
    catalogue = data.draw(catalogues(), label="catalogue")
    rows = data.draw(feeds(catalogue), label="rows")
    snapshot = data.draw(st.booleans(), label="snapshot")
    share = data.draw(st.sampled_from([0.0, 0.5, 1.0]), label="inventory_max_zeroed")
    header = data.draw(st.sampled_from(["sku", "SKU", "Item Number"]), label="header")
    reset(store, catalogue)
    configured = build_settings(
        {
            "partners": {
                "acme": {
                    "default": True,
                    "inventory_mode": "snapshot" if snapshot else "delta",
                    "inventory_max_zeroed": share,
                },
                "ac": {"skus": ["nothing"]},
            }
        }
    ).partners["acme"]
    expected = model(catalogue, rows, snapshot, share)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "inventory.csv"
        write_feed(path, rows, header)
        result = import_inventory(store, configured, path, now=NOW)
        event(f"{result.status} ({'snapshot' if snapshot else 'delta'})")
        assert result.status in ("applied", "held"), result.message
        assert stock(store) == expected, path.read_text()
        assert result.rows == len(rows)
        again = import_inventory(store, configured, path, now=NOW)
        assert again.status == ("already_processed" if result.status == "applied" else "held")
        assert stock(store) == expected
