"""An order as the shop sends it, checked: JSON in the Topspin Orders API shape → an order
row and its item rows (each routed to its partner), or the reason naming the field.

One order per line::

    {"id": 3, "created_at": "2026-11-20T14:03:00Z", "fan": "fan@example.com",
     "shipping_address": {"firstname": ..., "lastname": ..., "address1": ..., "address2": ...,
                          "city": ..., "state": ..., "postal_code": ...,
                          "country": ..., "phone": ...},
     "items": [{"id": 21, "sku_id": 25, "product_name": ..., "product_type": "merchandise",
                "sku_attributes": {"Color": "Red"}, "factory_sku": "55665",
                "sku_upc": "22-2222-222", "quantity": 1, "status": "pending"}]}

Identifiers stay text: ``"02134"`` stays ``02134``; a number is turned into its digits.
Many orders are checked together too (:func:`parse_orders`: an order or item given twice),
every problem kept (:class:`OrderProblem`) so that all of them are reported at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ftpbridge.files.routing import route
from ftpbridge.settings import PartnerSettings
from ftpbridge.wording import quoted

ADDRESS_FIELDS = (
    "firstname",
    "lastname",
    "address1",
    "address2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone",
)
# "acknowledged" (a View Orders response names it) is the fulfiller's business: loaded as
# pending, ftpbridge's own export or API read acknowledges it.
ITEM_STATUSES_IN = ("pending", "cancelled", "shipped", "acknowledged")


class _LineError(Exception):
    """One order's problem: ``field`` names the field concerned, where there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _identifier(value: Any, what: str, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise _LineError(f"{what} is missing", what)
        return ""
    if isinstance(value, bool) or isinstance(value, float):
        raise _LineError(f"{what} must be text or a whole number, not {quoted(value)}", what)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise _LineError(f"{what} is longer than 64 characters", what)
        return text
    raise _LineError(f"{what} must be text or a whole number, not {type(value).__name__}", what)


def _text(value: Any, what: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _LineError(f"{what} must be text", what)
    text = str(value).strip()
    if len(text) > limit:
        raise _LineError(f"{what} is longer than {limit} characters", what)
    return text


def _timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str) or not value.strip():
        raise _LineError(
            "created_at is missing (an ISO 8601 time such as 2026-11-20T14:03:00Z)", "created_at"
        )
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise _LineError(
            f"created_at {quoted(text)} is not an ISO 8601 time such as 2026-11-20T14:03:00Z",
            "created_at",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)  # Topspin times are UTC
    return parsed.astimezone(dt.UTC)


def _attributes(value: Any) -> str:
    if value is None or value == {}:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {val}" for key, val in value.items())
    raise _LineError('sku_attributes must be an object such as {"Color": "Red"}', "sku_attributes")


def _quantity(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _LineError(f"quantity must be a whole number, not {quoted(value)}", "quantity")
    try:
        number = int(value)
    except ValueError:
        raise _LineError(
            f"quantity must be a whole number, not {quoted(value)}", "quantity"
        ) from None
    if number < 0:
        raise _LineError(f"quantity must not be negative ({number})", "quantity")
    return number


def parse_order(
    record: Any, partners: list[PartnerSettings]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One decoded JSON line → (order row, item rows). Raises _LineError with the reason."""
    if not isinstance(record, dict):
        raise _LineError("must be a JSON object (one order per line)")
    order_id = _identifier(record.get("id"), "id")
    address = record.get("shipping_address") or {}
    if not isinstance(address, dict):
        raise _LineError("shipping_address must be an object", "shipping_address")
    order = {
        "id": order_id,
        # created_at_time: the full time the Orders API gives beside Topspin's date.
        "created_at": _timestamp(record.get("created_at_time") or record.get("created_at")),
        "email": _text(record.get("fan") or record.get("email"), "fan", 320),
        **{
            f"ship_{field}": (
                _identifier(address.get(field), f"shipping_address.{field}", required=False)
                if field in ("postal_code", "phone")
                else _text(address.get(field), f"shipping_address.{field}", 300)
            )
            for field in ADDRESS_FIELDS
        },
    }
    raw_items = record.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise _LineError("items must be a non-empty list", "items")
    item_rows = []
    for position, raw in enumerate(raw_items, start=1):
        where = f"items[{position}]"
        if not isinstance(raw, dict):
            raise _LineError(f"{where} must be an object")
        try:
            raw_status = raw.get("status") or "pending"
            if not isinstance(raw_status, str):
                raise _LineError(f"status must be text, not {quoted(raw_status)}", "status")
            status = raw_status.strip().lower()
            if status not in ITEM_STATUSES_IN:
                raise _LineError(
                    f"status {quoted(status)} is not one of {', '.join(ITEM_STATUSES_IN)}", "status"
                )
            if status == "acknowledged":
                status = "pending"
            warehouse_sku = _identifier(raw.get("factory_sku"), "factory_sku", required=False)
            _identifier(raw.get("campaign_id"), "campaign_id", required=False)  # checked only
            sku_id = _identifier(raw.get("sku_id"), "sku_id", required=False)
            item_rows.append(
                {
                    "id": _identifier(raw.get("id"), "id"),
                    "order_id": order_id,
                    "sku_id": sku_id,
                    "warehouse_sku": warehouse_sku,
                    "upc": _identifier(raw.get("sku_upc"), "sku_upc", required=False),
                    "product_name": _text(raw.get("product_name"), "product_name", 500),
                    "product_type": _text(raw.get("product_type"), "product_type", 64),
                    "product_id": _identifier(raw.get("product_id"), "product_id", required=False),
                    "attributes": _attributes(raw.get("sku_attributes")),
                    "quantity": _quantity(raw.get("quantity")),
                    "status": status,
                    "partner": route(partners, warehouse_sku, sku_id),
                }
            )
        except _LineError as exc:
            field = f"{where}.{exc.field}" if exc.field else where
            raise _LineError(f"{where}: {exc}", field) from None
    return order, item_rows


@dataclass(frozen=True)
class OrderProblem:
    """What is wrong with one order: ``where`` ("line 3", "orders[0]"), ``index`` (the line
    number or the position), the order's id when it could be read, the field, the reason."""

    where: str
    index: int
    order_id: str | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ParsedOrders:
    """Orders and items ready for the store, and every problem found (then none is loaded)."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    problems: list[OrderProblem] = field(default_factory=list)
    campaigns: list[tuple[str, str]] = field(default_factory=list)  # (sku id, campaign id)


def parse_orders(
    records: Iterable[tuple[str, int, Any]], partners: list[PartnerSettings]
) -> ParsedOrders:
    """Decoded orders → rows, checking each and across them (an order or item twice).

    ``records``: (where, index, decoded JSON) per order; ``where`` names it in problems.
    """
    parsed = ParsedOrders()
    order_places: dict[str, str] = {}
    item_places: dict[str, str] = {}
    for where, index, record in records:
        try:
            order, order_items = parse_order(record, partners)
        except _LineError as exc:
            order_id = record.get("id") if isinstance(record, dict) else None
            parsed.problems.append(
                OrderProblem(
                    where,
                    index,
                    None if order_id is None else str(order_id)[:64],
                    exc.field,
                    str(exc),
                )
            )
            continue
        if order["id"] in order_places:
            parsed.problems.append(
                OrderProblem(
                    where,
                    index,
                    order["id"],
                    "id",
                    f"order {order['id']} already appears {order_places[order['id']]}",
                )
            )
            continue
        clash = [row["id"] for row in order_items if row["id"] in item_places]
        if clash:
            parsed.problems.append(
                OrderProblem(
                    where,
                    index,
                    order["id"],
                    "items",
                    f"item {clash[0]} already appears {item_places[clash[0]]}",
                )
            )
            continue
        order_places[order["id"]] = f"on {where}" if where.startswith("line") else f"at {where}"
        item_places.update((row["id"], order_places[order["id"]]) for row in order_items)
        parsed.orders.append(order)
        parsed.items.extend(order_items)
        parsed.campaigns.extend(item_campaigns(record, order_items))
    return parsed


def item_campaigns(
    record: Mapping[str, Any], order_items: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """(sku id, campaign id) of the items of a checked order (``parse_order``'s rows of
    ``record``) that name both: the campaigns their SKUs are sold in (issue 14)."""
    return [
        (row["sku_id"], str(raw["campaign_id"]).strip())
        for row, raw in zip(order_items, record["items"], strict=True)
        if row["sku_id"] and raw.get("campaign_id") not in (None, "")
    ]
