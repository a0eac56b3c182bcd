"""Getting orders in: JSON Lines in the Topspin Orders API shape → validated rows → store.

One order per line::

    {"id": 3, "created_at": "2026-11-20T14:03:00Z", "fan": "fan@example.com",
     "shipping_address": {"firstname": ..., "lastname": ..., "address1": ..., "address2": ...,
                          "city": ..., "state": ..., "postal_code": ...,
                          "country": ..., "phone": ...},
     "items": [{"id": 21, "sku_id": 25, "product_name": ..., "product_type": "merchandise",
                "sku_attributes": {"Color": "Red"}, "factory_sku": "55665",
                "sku_upc": "22-2222-222", "quantity": 1, "status": "pending"}]}

Identifiers stay text: ``"02134"`` stays ``02134``; a number is turned into its digits.
The whole file loads in one transaction, or nothing does and every bad line is listed.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftpbridge.errors import InputFileError, OrdersFileError
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.orders import LoadSummary, upsert_orders

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
ITEM_STATUSES_IN = ("pending", "cancelled", "shipped")


@dataclass(frozen=True)
class LoadResult:
    summary: LoadSummary
    orders: int
    items: int
    unrouted: int
    routed: dict[str, int]


class _LineError(Exception):
    pass


def _identifier(value: Any, what: str, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise _LineError(f"{what} is missing")
        return ""
    if isinstance(value, bool) or isinstance(value, float):
        raise _LineError(f"{what} must be text or a whole number, not {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 64:
            raise _LineError(f"{what} is longer than 64 characters")
        return text
    raise _LineError(f"{what} must be text or a whole number, not {type(value).__name__}")


def _text(value: Any, what: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _LineError(f"{what} must be text")
    text = str(value).strip()
    if len(text) > limit:
        raise _LineError(f"{what} is longer than {limit} characters")
    return text


def _timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str) or not value.strip():
        raise _LineError("created_at is missing (an ISO 8601 time such as 2026-11-20T14:03:00Z)")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise _LineError(
            f"created_at {text!r} is not an ISO 8601 time such as 2026-11-20T14:03:00Z"
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
    raise _LineError('sku_attributes must be an object such as {"Color": "Red"}')


def _quantity(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _LineError(f"quantity must be a whole number, not {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise _LineError(f"quantity must be a whole number, not {value!r}") from None
    if number < 0:
        raise _LineError(f"quantity must not be negative ({number})")
    return number


def route(partners: Iterable[PartnerSettings], warehouse_sku: str, sku_id: str) -> str | None:
    """The partner an item goes to: the first whose ``skus`` glob matches the warehouse sku
    or sku id (case-insensitive), else the one with ``default = true``, else None."""
    default: str | None = None
    for partner in partners:
        for pattern in partner.skus:
            lowered = pattern.casefold()
            if (warehouse_sku and fnmatch.fnmatchcase(warehouse_sku.casefold(), lowered)) or (
                sku_id and fnmatch.fnmatchcase(sku_id.casefold(), lowered)
            ):
                return partner.name
        if partner.default and default is None:
            default = partner.name
    return default


def parse_order(
    record: Any, partners: list[PartnerSettings]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One decoded JSON line → (order row, item rows). Raises _LineError with the reason."""
    if not isinstance(record, dict):
        raise _LineError("must be a JSON object (one order per line)")
    order_id = _identifier(record.get("id"), "id")
    address = record.get("shipping_address") or {}
    if not isinstance(address, dict):
        raise _LineError("shipping_address must be an object")
    order = {
        "id": order_id,
        "created_at": _timestamp(record.get("created_at")),
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
        raise _LineError("items must be a non-empty list")
    item_rows = []
    for position, raw in enumerate(raw_items, start=1):
        where = f"items[{position}]"
        if not isinstance(raw, dict):
            raise _LineError(f"{where} must be an object")
        try:
            raw_status = raw.get("status") or "pending"
            if not isinstance(raw_status, str):
                raise _LineError(f"status must be text, not {raw_status!r}")
            status = raw_status.strip().lower()
            if status not in ITEM_STATUSES_IN:
                raise _LineError(f"status {status!r} is not one of {', '.join(ITEM_STATUSES_IN)}")
            warehouse_sku = _identifier(raw.get("factory_sku"), "factory_sku", required=False)
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
            raise _LineError(f"{where}: {exc}") from None
    return order, item_rows


def load_orders(store: Store, path: Path, partners: list[PartnerSettings]) -> LoadResult:
    """Validate ``path`` and load it in one transaction.

    Raises :class:`OrdersFileError` listing every bad line (nothing is loaded then) and
    :class:`InputFileError` when the file cannot be read.
    """
    problems: list[str] = []
    orders: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    order_lines: dict[str, int] = {}
    item_lines: dict[str, int] = {}
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.append(
                        f"line {number}: not valid JSON ({exc.msg}, column {exc.colno})"
                    )
                    continue
                try:
                    order, order_items = parse_order(record, partners)
                except _LineError as exc:
                    problems.append(f"line {number}: {exc}")
                    continue
                if order["id"] in order_lines:
                    problems.append(
                        f"line {number}: order {order['id']} already appears on line"
                        f" {order_lines[order['id']]}"
                    )
                    continue
                order_lines[order["id"]] = number
                clash = [row["id"] for row in order_items if row["id"] in item_lines]
                if clash:
                    problems.append(
                        f"line {number}: item {clash[0]} already appears on line"
                        f" {item_lines[clash[0]]}"
                    )
                    continue
                item_lines.update((row["id"], number) for row in order_items)
                orders.append(order)
                items.extend(order_items)
        except UnicodeDecodeError:
            raise InputFileError(
                f"{path} is not UTF-8 text",
                hint="orders files are JSON Lines in UTF-8, one order per line",
            ) from None
    if problems:
        raise OrdersFileError(
            f"{path}: {len(problems)} invalid line(s); nothing was loaded:",
            problems=problems,
            hint="fix these lines and load the file again",
        )
    if not orders:
        raise InputFileError(f"{path} holds no orders", hint="one JSON order per line")
    with store.begin() as connection:
        summary = upsert_orders(connection, orders, items, utcnow())
    routed: dict[str, int] = {}
    for row in items:
        if row["partner"] is not None:
            routed[row["partner"]] = routed.get(row["partner"], 0) + 1
    return LoadResult(
        summary=summary,
        orders=len(orders),
        items=len(items),
        unrouted=sum(1 for row in items if row["partner"] is None),
        routed=routed,
    )
