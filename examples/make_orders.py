"""Regenerate examples/orders.jsonl (the sample orders the README and the demo use).

Run: python examples/make_orders.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

FIRST = [
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
]
LAST = [
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
]
CITIES = [
    ("Boston", "MA", "02134", "US", "+1 617 555 0100"),
    ("London", "", "SW1A 1AA", "GB", "+44 20 7946 0958"),
    ("Toronto", "ON", "M5V 2T6", "CA", "+1 416 555 0199"),
    ("Newark", "NJ", "07102", "US", "(973) 555-0142"),
]
PRODUCTS = [
    ("25", "007", "22-2222-222", "Tour T-Shirt", {"Size": "M", "Color": "Black"}),
    ("26", "55665", "22-2222-223", "Vinyl LP", {}),
    ("27", "55666", "22-2222-224", "Hoodie", {"Size": "L", "Color": "Grey"}),
    ("28", "AC-100", "22-2222-225", "=Poster (signed)", {}),
]


def main() -> None:
    rng = random.Random(7)
    lines = []
    item_id = 1000
    for order_id in range(1, 13):
        city, state, postal, country, phone = CITIES[order_id % len(CITIES)]
        items = []
        for _ in range(1 + order_id % 2):
            sku_id, factory, upc, name, attributes = rng.choice(PRODUCTS)
            item_id += 1
            items.append(
                {
                    "id": item_id,
                    "sku_id": int(sku_id),
                    "product_name": name,
                    "product_type": "merchandise",
                    "sku_attributes": attributes,
                    "factory_sku": factory,
                    "sku_upc": upc,
                    "quantity": 1 + (item_id % 3 == 0),
                    "status": "cancelled" if order_id == 12 else "pending",
                }
            )
        first, last = FIRST[order_id % len(FIRST)], LAST[order_id % len(LAST)]
        lines.append(
            {
                "id": order_id,
                "created_at": f"2026-11-{10 + order_id:02d}T{8 + order_id % 9:02d}:15:00Z",
                "fan": f"{first.lower()}@example.com",
                "shipping_address": {
                    "firstname": first,
                    "lastname": last,
                    "address1": f"{order_id} Main Street",
                    "address2": "Apt 2" if order_id % 3 == 0 else "",
                    "city": city,
                    "state": state,
                    "postal_code": postal,
                    "country": country,
                    "phone": phone,
                },
                "items": items,
            }
        )
    target = Path(__file__).with_name("orders.jsonl")
    target.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


if __name__ == "__main__":
    main()
