"""The Orders API's reads: items found by filter and terms, grouped under their orders, a
page of orders at a time; and ``set_acknowledged`` (mark what was read, as an export does).

An item is returned when it is in the key's scope (its partner, or every item for the
shop's key), matches the filter and every term; an order is returned with those of its
items. Pages count orders. Terms on order fields (names, dates, e-mail, country) apply to
all the order's items. The queries are SQLAlchemy Core, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    exists,
    false,
    func,
    or_,
    select,
    true,
)

from ftpbridge.errors import UsageError
from ftpbridge.store import ledger
from ftpbridge.store.engine import driver_sql, timestamp_value
from ftpbridge.store.schema import items, orders

UNSHIPPED = ("pending", "acknowledged")
FILTERS = (
    "contains_merch",
    "shipped",
    "not_shipped",
    "past_due",
    "acknowledged",
    "pending",
    "all",
)
SORT_COLUMNS = ("order_id", "order_date")
TERM_VALUE_MAX = 300
# Seed terms about things ftpbridge does not keep (spins, bundles, money).
NOT_KEPT = ("bundle_sku_id", "spin_id", "spin_name", "order_subtotal")


class SearchError(UsageError):
    """Raised when a search cannot be run as asked (unknown term, bad date); the message
    names the term and what is accepted."""


@dataclass(frozen=True)
class OrderSearch:
    """One View Orders request, validated. ``partner``: the key's scope (None: every item).
    ``past_due_before``: partner → the order time before which an unshipped item is past
    due (from each partner's ``past_due_days``); None is the cut-off for unrouted items."""

    filter: str = "contains_merch"
    terms: tuple[tuple[str, Any], ...] = ()
    page: int = 1
    page_size: int = 250
    sort_column: str = "order_id"
    descending: bool = True
    partner: str | None = None
    past_due_before: dict[str | None, dt.datetime] = field(default_factory=dict)


# --------------------------------------------------------------------------- terms


def _text_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or value is None or not isinstance(value, str | int):
        raise SearchError(
            f"the term {name} needs text or a whole number, not {_shown(value)}",
            hint=f'write it like ["{name}", "value"]',
        )
    text = str(value).strip()
    if not text:
        raise SearchError(f"the term {name} is empty", hint="leave the term out, or give a value")
    if len(text) > TERM_VALUE_MAX:
        raise SearchError(f"the term {name} is longer than {TERM_VALUE_MAX} characters")
    return text


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _day(name: str, value: Any) -> dt.date:
    text = _text_value(name, value)
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _bad_day(name, text)
    except ValueError:
        return _bad_day(name, text)


def _bad_day(name: str, text: str) -> dt.date:
    raise SearchError(
        f"the term {name} is {text[:40]!r}, not a date", hint="write dates as YYYY-MM-DD"
    )


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _contains(column: Any) -> Callable[[str, Any], ColumnElement[bool]]:
    return lambda name, value: column.icontains(_text_value(name, value), autoescape=True)


def _equals(column: Any) -> Callable[[str, Any], ColumnElement[bool]]:
    return lambda name, value: column == _text_value(name, value)


def _attributes(name: str, value: Any) -> ColumnElement[bool]:
    # Stored as "Size: M; Color: Black"; {"Color": "Black"} asks for that pair.
    if isinstance(value, dict):
        if not value:
            raise SearchError(f"the term {name} is empty")
        return and_(
            *(
                items.c.attributes.icontains(
                    f"{_text_value(name, key)}: {_text_value(name, part)}", autoescape=True
                )
                for key, part in value.items()
            )
        )
    return items.c.attributes.icontains(_text_value(name, value), autoescape=True)


def _postal_code(name: str, value: Any) -> ColumnElement[bool]:
    wanted = _text_value(name, value).replace(" ", "").upper()
    return func.upper(func.replace(orders.c.ship_postal_code, " ", "")) == wanted


ORDER_TERMS: dict[str, Callable[[str, Any], ColumnElement[bool]]] = {
    "order_id": _equals(orders.c.id),
    "order_date": lambda name, value: and_(
        orders.c.created_at >= _midnight(_day(name, value)),
        orders.c.created_at < _midnight(_day(name, value) + dt.timedelta(days=1)),
    ),
    "order_date_before": lambda name, value: orders.c.created_at < _midnight(_day(name, value)),
    "order_date_after": lambda name, value: (
        orders.c.created_at >= _midnight(_day(name, value) + dt.timedelta(days=1))
    ),
    "country": lambda name, value: (
        func.upper(orders.c.ship_country) == _text_value(name, value).upper()
    ),
    "fan_email": lambda name, value: (
        func.lower(orders.c.email) == func.lower(_text_value(name, value))
    ),
    # The store keeps one name per order, the shipping name: fan and shipping names are it.
    "fan_first_name": _contains(orders.c.ship_firstname),
    "fan_last_name": _contains(orders.c.ship_lastname),
    "shipping_first_name": _contains(orders.c.ship_firstname),
    "shipping_last_name": _contains(orders.c.ship_lastname),
    "shipping_postal_code": _postal_code,
}
ITEM_TERMS: dict[str, Callable[[str, Any], ColumnElement[bool]]] = {
    "sku_id": _equals(items.c.sku_id),
    "factory_sku": _equals(items.c.warehouse_sku),
    "sku_upc": _equals(items.c.upc),
    "product_id": _equals(items.c.product_id),
    "product_description": _contains(items.c.product_name),
    "sku_attributes": _attributes,
    "order_ship_date": lambda name, value: items.c.shipped_date == _day(name, value),
    "order_ship_date_before": lambda name, value: items.c.shipped_date < _day(name, value),
    "order_ship_date_after": lambda name, value: items.c.shipped_date > _day(name, value),
}
TERMS = (*ORDER_TERMS, *ITEM_TERMS)


def check_term(name: str) -> None:
    """Raise SearchError naming ``name`` unless it is a term the store answers."""
    if name in ORDER_TERMS or name in ITEM_TERMS:
        return
    accepted = ", ".join(TERMS)
    if name in NOT_KEPT:
        raise SearchError(
            f"the term {name} cannot be answered: ftpbridge keeps no spins, bundles or totals",
            hint=f"search with one of: {accepted}",
        )
    raise SearchError(f"unknown search term {name[:60]!r}", hint=f"use one of: {accepted}")


# --------------------------------------------------------------------------- conditions


def _filter_condition(search: OrderSearch) -> ColumnElement[bool]:
    status = items.c.status
    chosen = search.filter
    if chosen == "all":
        return true()
    if chosen == "contains_merch":  # every item ftpbridge keeps is goods to ship
        return status != "cancelled"
    if chosen == "shipped":
        return status == "shipped"
    if chosen == "not_shipped":
        return status.in_(UNSHIPPED)
    if chosen in ("pending", "acknowledged"):
        return status == chosen
    if chosen == "past_due":
        cutoffs = [
            and_(
                items.c.partner.is_(None) if partner is None else items.c.partner == partner,
                orders.c.created_at < cutoff,
            )
            for partner, cutoff in search.past_due_before.items()
        ]
        return and_(status.in_(UNSHIPPED), or_(*cutoffs) if cutoffs else false())
    raise SearchError(f"unknown filter {chosen!r}", hint=f"use one of: {', '.join(FILTERS)}")


def _conditions(search: OrderSearch) -> tuple[list[ColumnElement[bool]], list[Any]]:
    """(conditions on an item and its order, conditions on the order alone)."""
    item_conditions: list[ColumnElement[bool]] = [_filter_condition(search)]
    order_conditions: list[ColumnElement[bool]] = []
    if search.partner is not None:
        item_conditions.append(items.c.partner == search.partner)
    for name, value in search.terms:
        check_term(name)
        if name in ORDER_TERMS:
            order_conditions.append(ORDER_TERMS[name](name, value))
        else:
            item_conditions.append(ITEM_TERMS[name](name, value))
    return item_conditions, order_conditions


def _sort(search: OrderSearch) -> list[Any]:
    keys: list[Any] = [func.length(orders.c.id), orders.c.id]
    if search.sort_column == "order_date":
        keys.insert(0, orders.c.created_at)
    return [key.desc() if search.descending else key.asc() for key in keys]


# --------------------------------------------------------------------------- reading


@dataclass
class OrdersPage:
    """A page of orders (dicts in the Topspin shape) and the totals."""

    orders: list[dict[str, Any]]
    total_entries: int
    acknowledged: int = 0


ITEM_COLUMNS = (
    items.c.order_id,
    items.c.id,
    items.c.partner,
    items.c.status,
    items.c.product_name,
    items.c.product_type,
    items.c.product_id,
    items.c.sku_id,
    items.c.attributes,
    items.c.warehouse_sku,
    items.c.upc,
    items.c.quantity,
    items.c.shipped_date,
    items.c.carrier,
    items.c.tracking_number,
)
ORDER_COLUMNS = (
    orders.c.id,
    orders.c.created_at,
    orders.c.email,
    orders.c.ship_firstname,
    orders.c.ship_lastname,
    orders.c.ship_address1,
    orders.c.ship_address2,
    orders.c.ship_city,
    orders.c.ship_state,
    orders.c.ship_postal_code,
    orders.c.ship_country,
    orders.c.ship_phone,
)


def page_queries(search: OrderSearch) -> tuple[Any, Any, Callable[[list[str]], Any]]:
    """(the page's order ids, the count of matching orders, the items of given orders):
    the statements :func:`find_orders` runs (bench/ runs them through the raw driver)."""
    item_conditions, order_conditions = _conditions(search)
    matching = exists(
        select(1).select_from(items).where(items.c.order_id == orders.c.id, *item_conditions)
    )
    page = (
        select(orders.c.id)
        .where(matching, *order_conditions)
        .order_by(*_sort(search))
        .limit(search.page_size)
        .offset((search.page - 1) * search.page_size)
    )
    count = select(func.count()).select_from(orders).where(matching, *order_conditions)

    def order_items(order_ids: list[str]) -> Any:
        return (
            select(*ITEM_COLUMNS)
            .where(items.c.order_id.in_(order_ids), *item_conditions)
            .order_by(func.length(items.c.id), items.c.id)
        )

    return page, count, order_items


def find_orders(
    connection: Connection, search: OrderSearch, *, keep_partner: bool = False
) -> OrdersPage:
    """Run ``search``: one page of orders with their matching items, and the total.
    ``keep_partner``: leave each item's partner under the private key ``_partner``."""
    page, count, order_items = page_queries(search)
    order_ids = [row[0] for row in connection.execute(page)]
    total = int(connection.execute(count).scalar_one())
    if not order_ids:
        return OrdersPage([], total)
    found = {
        row.id: _order(row)
        for row in connection.execute(select(*ORDER_COLUMNS).where(orders.c.id.in_(order_ids)))
    }
    for row in connection.execute(order_items(order_ids)):
        found[row.order_id]["items"].append(_item(row))
    result = OrdersPage([found[order_id] for order_id in order_ids], total)
    return result if keep_partner else _strip_private(result)


def find_orders_and_acknowledge(
    connection: Connection, search: OrderSearch, *, source: str, now: dt.datetime
) -> OrdersPage:
    """:func:`find_orders`, then mark the returned items that wait to ship as exported
    (``acknowledged``, first/last export times), as an export does, and record one ledger
    row per partner (direction ``export``, name ``source``, state ``served``), in the
    caller's transaction. The page shows the items as they are after marking."""
    result = find_orders(connection, search, keep_partner=True)
    waiting = [
        item for order in result.orders for item in order["items"] if item["status"] in UNSHIPPED
    ]
    if not waiting:
        return _strip_private(result)
    stamp = timestamp_value(connection, now)
    ids = [item["id"] for item in waiting]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        markers = ",".join("?" * len(chunk))
        connection.exec_driver_sql(
            driver_sql(connection, _ACKNOWLEDGE_SQL.replace("(?)", f"({markers})")),
            (stamp, stamp, stamp, *chunk),
        )
    by_partner: dict[str, list[str]] = {}
    for item in waiting:
        item["status"] = "acknowledged"
        by_partner.setdefault(item["_partner"] or "", []).append(item["id"])
    _strip_private(result)
    for partner, partner_ids in sorted(by_partner.items()):
        listed = "\n".join(sorted(partner_ids)).encode()
        ledger.record(
            connection,
            now,
            partner=partner,
            direction="export",
            name=source[:300],
            sha256=hashlib.sha256(listed).hexdigest(),
            size=len(listed),
            state="served",
            rows_total=len(partner_ids),
            day=now.date().isoformat(),
        )
    result.acknowledged = len(waiting)
    return result


# Marks like an export does (items.mark_exported); "(?)" becomes one marker per id.
_ACKNOWLEDGE_SQL = (
    "UPDATE items SET status = 'acknowledged', last_exported_at = ?,"
    " first_exported_at = COALESCE(first_exported_at, ?), updated_at = ?"
    " WHERE id IN (?) AND status IN ('pending', 'acknowledged')"
)


def _strip_private(page: OrdersPage) -> OrdersPage:
    for order in page.orders:
        for item in order["items"]:
            item.pop("_partner", None)
    return page


def _order(row: Any) -> dict[str, Any]:
    created: dt.datetime = row.created_at
    return {
        "id": row.id,
        "created_at": created.date().isoformat(),
        "created_at_time": created.isoformat().replace("+00:00", "Z"),
        "fan": row.email,
        "shipping_address": {
            "firstname": row.ship_firstname,
            "lastname": row.ship_lastname,
            "address1": row.ship_address1,
            "address2": row.ship_address2,
            "city": row.ship_city,
            "state": row.ship_state,
            "postal_code": row.ship_postal_code,
            "country": row.ship_country,
            "phone": row.ship_phone,
        },
        "items": [],
    }


def _item(row: Any) -> dict[str, Any]:
    shipped_date: dt.date | None = row.shipped_date
    return {
        "id": row.id,
        "shipped": row.status == "shipped",
        "status": row.status,
        "product_name": row.product_name,
        "product_type": row.product_type,
        "product_id": row.product_id,
        "sku_id": row.sku_id,
        "sku_attributes": attributes_object(row.attributes),
        "factory_sku": row.warehouse_sku,
        "sku_upc": row.upc,
        "quantity": row.quantity,
        "shipping_date": shipped_date.isoformat() if shipped_date is not None else None,
        "tracking_type": row.carrier,
        "tracking_code": row.tracking_number,
        "_partner": row.partner,
    }


def attributes_object(text: str) -> dict[str, str] | str:
    """``"Size: M; Color: Black"`` (as orders load keeps them) → ``{"Size": "M", ...}``;
    text in any other shape is returned as it is."""
    if not text:
        return {}
    pairs: dict[str, str] = {}
    for part in text.split("; "):
        key, colon, value = part.partition(": ")
        if not colon:
            return text
        pairs[key] = value
    return pairs


def item_ids_for(connection: Connection, search: OrderSearch, limit: int) -> list[tuple[str, str]]:
    """(order id, item id) of every item ``search`` matches (no pages), at most ``limit``
    + 1 of them (so that the caller can tell "more than limit")."""
    item_conditions, order_conditions = _conditions(search)
    query = (
        select(items.c.order_id, items.c.id)
        .select_from(items.join(orders, items.c.order_id == orders.c.id))
        .where(*item_conditions, *order_conditions)
        .order_by(func.length(items.c.id), items.c.id)
        .limit(limit + 1)
    )
    return [(row[0], row[1]) for row in connection.execute(query)]


def partners_of(connection: Connection, order_ids: Sequence[str]) -> dict[str, set[str | None]]:
    """order id → the partners its items are routed to (for scope checks)."""
    found: dict[str, set[str | None]] = {}
    for start in range(0, len(order_ids), 500):
        chunk = list(order_ids[start : start + 500])
        query = select(items.c.order_id, items.c.partner).where(items.c.order_id.in_(chunk))
        for order_id, partner in connection.execute(query):
            found.setdefault(order_id, set()).add(partner)
    return found
