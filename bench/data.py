"""Benchmark data: a store with N order lines, and the fulfiller's all-shipped file.

The rows are generated with numpy (no JSON, no per-row parsing) and inserted through the
sqlite3 driver's ``executemany`` into a store whose schema ftpbridge's own migrations
created. About two lines per order (1 to 3), field lengths like a merch shop's: product
names of 10-40 characters, attributes such as ``Size: M; Color: Black``, real-looking
addresses, e-mails and phone numbers, and a few cells that start with ``=`` or ``+`` so
that export's spreadsheet-safety path does work.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from ftpbridge.store import open_store

PARTNER = "acme"
SEED = 6

FIRST = np.array(
    [
        "Ada",
        "Grace",
        "Linus",
        "Margaret",
        "Ken",
        "Barbara",
        "Dennis",
        "Frances",
        "Alan",
        "Radia",
        "Sophie",
        "Mohammed",
        "Zoë",
        "José",
        "Aoife",
        "Wei",
        "Priya",
        "Olusegun",
    ]
)
LAST = np.array(
    [
        "Lovelace",
        "Hopper",
        "Torvalds",
        "Hamilton",
        "Thompson",
        "Liskov",
        "Ritchie",
        "Allen",
        "Turing",
        "Perlman",
        "Nakamura",
        "O'Brien",
        "van der Berg",
        "García Márquez",
        "Okafor",
    ]
)
STREETS = np.array(
    [
        "Elm Street",
        "Main St",
        "Harbour Road",
        "Rue de la Paix",
        "Commonwealth Avenue",
        "High Street",
        "Queen Street West",
        "Market Street",
        "Lakeshore Boulevard",
    ]
)
PLACES = [
    ("Boston", "MA", "02134", "US", "+1 617 555 0100"),
    ("London", "", "SW1A 1AA", "GB", "+44 20 7946 0958"),
    ("Toronto", "ON", "M5V 2T6", "CA", "+1 416 555 0199"),
    ("Newark", "NJ", "07102", "US", "(973) 555-0142"),
    ("San Francisco", "CA", "94103", "US", "415-555-0123"),
    ("Melbourne", "VIC", "3000", "AU", "+61 3 9555 0100"),
]
PRODUCTS = [
    ("Tour T-Shirt", "apparel", "Size: M; Color: Black"),
    ("Vinyl LP (180 g, gatefold)", "music", ""),
    ("Hoodie", "apparel", "Size: L; Color: Heather Grey"),
    ("=Poster (signed)", "merchandise", ""),
    ("Enamel Pin Set", "merchandise", ""),
    ("Limited Edition Box Set with Art Book", "music", "Edition: Deluxe"),
    ("Tote Bag", "merchandise", "Color: Natural"),
    ("Cassette", "music", "Color: Clear"),
    ("Long Sleeve Tee", "apparel", "Size: XL; Color: White"),
    ("Baseball Cap", "apparel", "Size: One Size; Color: Navy"),
]


def _pick(rng: np.random.Generator, choices: np.ndarray, count: int) -> np.ndarray:
    return choices[rng.integers(0, len(choices), count)]


def _digits(rng: np.random.Generator, count: int, length: int) -> np.ndarray:
    return rng.integers(0, 10, (count, length), dtype=np.int64)


def _text(matrix: np.ndarray) -> np.ndarray:
    """An (n, length) matrix of ASCII codes → n strings."""
    codes = np.ascontiguousarray(matrix.astype(np.uint8))
    return codes.view(f"S{codes.shape[1]}").ravel().astype(str)


def _gs1_check(digits: np.ndarray) -> np.ndarray:
    """GS1 mod10 check digit of each row (weights 3,1,... from the left, as the data set's
    ``evens_multiplier: 3`` does for these lengths)."""
    weights = np.where(np.arange(digits.shape[1]) % 2 == 0, 3, 1)
    return (10 - (digits @ weights) % 10) % 10


def tracking_numbers(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Valid tracking numbers of UPS (1Z), USPS (IMpb 22) and FedEx (Express 12), with a
    carrier name per row as fulfillers spell it. Returns (carriers, numbers)."""
    kind = rng.integers(0, 3, count)
    numbers = np.empty(count, dtype=object)
    carriers = np.empty(count, dtype=object)

    ups = np.flatnonzero(kind == 0)
    alphabet = np.frombuffer(b"0123456789ABCDEFGHJKLMNPRSTVWXY", dtype=np.uint8)
    shipper = alphabet[rng.integers(0, len(alphabet), (ups.size, 6))]
    rest = _digits(rng, ups.size, 9) + ord("0")
    body = np.concatenate([shipper, rest], axis=1).astype(np.int64)  # 15 characters after 1Z
    values = np.where(body >= ord("A"), (body - 3) % 10, body - ord("0"))
    total = values @ np.where(np.arange(15) % 2 == 1, 2, 1)
    check = (10 - total % 10) % 10 + ord("0")
    prefix = np.tile(np.frombuffer(b"1Z", dtype=np.uint8), (ups.size, 1))
    numbers[ups] = _text(np.concatenate([prefix, body, check[:, None]], axis=1))
    carriers[ups] = np.where(rng.random(ups.size) < 0.8, "UPS", "UPS Ground")

    usps = np.flatnonzero(kind == 1)
    digits = np.concatenate(
        [np.tile([9, 4, 0, 0], (usps.size, 1)), _digits(rng, usps.size, 17)], axis=1
    )
    digits = np.concatenate([digits, _gs1_check(digits)[:, None]], axis=1)
    numbers[usps] = _text(digits + ord("0"))
    carriers[usps] = "USPS"

    fedex = np.flatnonzero(kind == 2)
    digits = _digits(rng, fedex.size, 11)
    check = (digits @ np.array([3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1])) % 11 % 10
    numbers[fedex] = _text(np.concatenate([digits, check[:, None]], axis=1) + ord("0"))
    carriers[fedex] = "FedEx"
    return carriers, numbers


def build_store(database: Path, lines: int, now: dt.datetime) -> dict[str, int]:
    """Create ``database`` (migrated by ftpbridge) holding ``lines`` pending order lines for
    the partner ``acme``. Returns counts."""
    store = open_store(f"sqlite:///{database}")
    store.close()
    rng = np.random.default_rng(SEED)
    per_order = rng.integers(1, 4, lines)  # 1-3 lines per order, 2 on average
    order_count = int(np.searchsorted(np.cumsum(per_order), lines) + 1)
    per_order = per_order[:order_count]
    per_order[-1] -= int(per_order.sum()) - lines

    order_ids = (10_000_000 + np.arange(order_count)).astype(str)
    seconds = np.sort(rng.integers(0, 20 * 86_400, order_count))[::-1]
    created = pd.Series(pd.Timestamp(now).tz_convert(None) - pd.to_timedelta(seconds, "s"))
    created_text = created.dt.strftime("%Y-%m-%d %H:%M:%S.%f").to_numpy()
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    first = _pick(rng, FIRST, order_count)
    last = _pick(rng, LAST, order_count)
    place = rng.integers(0, len(PLACES), order_count)
    city, state, postal, country, phone = (
        np.array([row[column] for row in PLACES])[place] for column in range(5)
    )
    house = rng.integers(1, 9999, order_count).astype(str)
    address1 = np.char.add(np.char.add(house, " "), _pick(rng, STREETS, order_count))
    address2 = np.where(
        rng.random(order_count) < 0.3,
        np.char.add("Apt ", rng.integers(1, 400, order_count).astype(str)),
        "",
    )
    email = np.char.add(
        np.char.add(np.char.lower(first), "."),
        np.char.add(
            np.char.add(rng.integers(1, 99999, order_count).astype(str), "@"), "example.com"
        ),
    )
    order_rows = zip(
        order_ids.tolist(),
        created_text.tolist(),
        email.tolist(),
        first.tolist(),
        last.tolist(),
        address1.tolist(),
        address2.tolist(),
        city.tolist(),
        state.tolist(),
        postal.tolist(),
        country.tolist(),
        phone.tolist(),
        [stamp] * order_count,
        [stamp] * order_count,
        strict=True,
    )

    item_order = np.repeat(order_ids, per_order)
    item_ids = (50_000_000 + np.arange(lines)).astype(str)
    product = rng.integers(0, len(PRODUCTS), lines)
    names, types, attributes = (
        np.array([row[column] for row in PRODUCTS])[product] for column in range(3)
    )
    sku = (1000 + product).astype(str)
    warehouse_sku = np.char.add("WH-", (55_000 + product * 7).astype(str))
    upc = np.char.add("0", (8_812_345_000 + product).astype(str))
    quantity = rng.integers(1, 4, lines)
    item_rows = zip(
        item_ids.tolist(),
        item_order.tolist(),
        sku.tolist(),
        warehouse_sku.tolist(),
        upc.tolist(),
        names.tolist(),
        types.tolist(),
        attributes.tolist(),
        quantity.tolist(),
        [PARTNER] * lines,
        ["pending"] * lines,
        [stamp] * lines,
        strict=True,
    )

    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO orders (id, created_at, email, ship_firstname, ship_lastname,"
            " ship_address1, ship_address2, ship_city, ship_state, ship_postal_code,"
            " ship_country, ship_phone, loaded_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            order_rows,
        )
        connection.executemany(
            "INSERT INTO items (id, order_id, sku_id, warehouse_sku, upc, product_name,"
            " product_type, attributes, quantity, partner, status, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            item_rows,
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return {"orders": order_count, "lines": lines}


def write_shipped_file(export_file: Path, target: Path, today: dt.date) -> int:
    """The fulfiller's answer: the export with every row shipped today, with a valid
    tracking number of UPS, USPS or FedEx. Returns the number of rows."""
    frame = pd.read_csv(export_file, dtype=str, keep_default_na=False)
    carriers, numbers = tracking_numbers(np.random.default_rng(SEED + 1), len(frame))
    frame["shipped"] = "TRUE"
    frame["shipped_date"] = today.isoformat()
    frame["carrier"] = carriers
    frame["tracking_number"] = numbers
    frame.to_csv(target, index=False, lineterminator="\r\n")
    return len(frame)
