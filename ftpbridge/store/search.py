"""The Orders API's reads: items found by filter and terms, grouped under their orders, a
page of orders at a time; and ``set_acknowledged`` (mark what was read, as an export does).

An item is returned when it is in the key's scope (its partner, or every item for the
shop's key), matches the filter and every term; an order is returned with those of its
items. Pages count orders. Terms on order fields (names, dates, e-mail, country) apply to
all the order's items. The queries are SQLAlchemy Core, the same on SQLite and PostgreSQL.

The statements are built once per shape of search (filter, term names, scope, sort) and
kept (:func:`prepared`); each request binds its own values. Built per request, they cost
three times what the store took to answer a term search. (Over 400 lines: the statements,
the page read with them and set_acknowledged, which marks that page, are one story.)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)

from ftpbridge.store import ledger
from ftpbridge.store.engine import driver_sql, timestamp_value
from ftpbridge.store.schema import items, orders
from ftpbridge.store.terms import TERMS, SearchError, check_term

UNSHIPPED = ("pending", "acknowledged")
# Every status an item can have: orders load writes pending and cancelled, an export (or
# set_acknowledged) acknowledged, an import or update shipped (a test holds the writers
# to this list).
STATUSES = ("pending", "acknowledged", "shipped", "cancelled")
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


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class _Shape:
    """What a search's statements depend on (never its values): the filter, the terms
    with how many parameters each takes, whether a partner scopes it, the sort, and for
    past_due the partners with a cut-off."""

    filter: str
    terms: tuple[tuple[str, int], ...]
    scoped: bool
    sort_column: str
    descending: bool
    past_due: tuple[str | None, ...]


@dataclass(frozen=True)
class Statements:
    """A search's statements, on parameters (bindparam): ``page`` (the page's order ids;
    page_limit, page_offset), ``count`` (the matching orders), ``orders_of`` and
    ``items_of`` (the orders and matching items of ``order_ids``), ``matching_items``
    (order id, item id of every matching item, ``items_limit`` of them)."""

    page: Any
    count: Any
    orders_of: Any
    items_of: Any
    matching_items: Any


def prepared(search: OrderSearch) -> tuple[Statements, dict[str, Any]]:
    """The search's statements (built once per shape of search and kept) and the values
    of their parameters; SearchError naming a term, or the filter, that is not known."""
    if search.filter not in FILTERS:
        raise SearchError(
            f"unknown filter {search.filter!r}", hint=f"use one of: {', '.join(FILTERS)}"
        )
    values: dict[str, Any] = {
        "page_limit": search.page_size,
        "page_offset": (search.page - 1) * search.page_size,
    }
    terms = []
    for position, (name, value) in enumerate(search.terms):
        given = check_term(name).values(name, value)
        terms.append((name, len(given)))
        values.update({f"term_{position}_{n}": one for n, one in enumerate(given)})
    if search.partner is not None:
        values["partner"] = search.partner
    past_due: tuple[str | None, ...] = ()
    if search.filter == "past_due":
        past_due = tuple(search.past_due_before)
        values.update(
            {f"cutoff_{n}": cutoff for n, cutoff in enumerate(search.past_due_before.values())}
        )
    shape = _Shape(
        search.filter,
        tuple(terms),
        search.partner is not None,
        search.sort_column,
        search.descending,
        past_due,
    )
    return _statements(shape), values


def _filter_condition(shape: _Shape) -> ColumnElement[bool]:
    status = items.c.status
    chosen = shape.filter
    # "all" and "contains_merch" name their statuses too (the set is closed: STATUSES):
    # with a status in every condition, SQLite looks items up by (partner, status,
    # order_id) alone. With "every status" left unsaid it took that index for the partner
    # only and read every item of the partner to find one order's (55 ms an order at
    # 1,000,000 items, where the lookup takes microseconds).
    if chosen == "all":
        return _one_of(STATUSES)
    if chosen == "contains_merch":  # every item ftpbridge keeps is goods to ship
        return _one_of(tuple(name for name in STATUSES if name != "cancelled"))
    if chosen == "shipped":
        return status == "shipped"
    if chosen == "not_shipped":
        return _one_of(UNSHIPPED)
    if chosen in ("pending", "acknowledged"):
        return status == chosen
    # past_due (prepared() has refused any other)
    cutoffs = [
        and_(
            items.c.partner.is_(None) if partner is None else items.c.partner == partner,
            orders.c.created_at < bindparam(f"cutoff_{n}"),
        )
        for n, partner in enumerate(shape.past_due)
    ]
    return and_(_one_of(UNSHIPPED), or_(*cutoffs) if cutoffs else false())


def _one_of(statuses: tuple[str, ...]) -> ColumnElement[bool]:
    """status IN (?, ?, ...): one parameter per status, not an "expanding" list, which
    SQLAlchemy re-renders into the SQL text at every execution (a tenth of a term
    search's CPU for the four statements)."""
    return items.c.status.in_([literal(status) for status in statuses])


def _conditions(shape: _Shape) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """(conditions on an item and its order, conditions on the order alone)."""
    item_conditions: list[ColumnElement[bool]] = [_filter_condition(shape)]
    order_conditions: list[ColumnElement[bool]] = []
    if shape.scoped:
        item_conditions.append(items.c.partner == bindparam("partner"))
    for position, (name, count) in enumerate(shape.terms):
        term = TERMS[name]
        parameters: list[BindParameter[Any]] = [
            bindparam(f"term_{position}_{n}") for n in range(count)
        ]
        (order_conditions if term.on_orders else item_conditions).append(term.condition(parameters))
    return item_conditions, order_conditions


def _sort(shape: _Shape) -> list[Any]:
    keys: list[Any] = [func.length(orders.c.id), orders.c.id]
    if shape.sort_column == "order_date":
        keys.insert(0, orders.c.created_at)
    return [key.desc() if shape.descending else key.asc() for key in keys]


@functools.lru_cache(maxsize=512)
def _statements(shape: _Shape) -> Statements:
    item_conditions, order_conditions = _conditions(shape)
    matching = exists(
        select(1).select_from(items).where(items.c.order_id == orders.c.id, *item_conditions)
    )
    page = (
        select(orders.c.id)
        .where(matching, *order_conditions)
        .order_by(*_sort(shape))
        .limit(bindparam("page_limit", type_=Integer))
        .offset(bindparam("page_offset", type_=Integer))
    )
    if order_conditions or shape.filter == "past_due":  # conditions on the orders
        count = select(func.count()).select_from(orders).where(matching, *order_conditions)
    else:
        # Every item has its order (a foreign key): the matching orders are the distinct
        # order ids of the matching items, read from the index (partner, status, order_id)
        # without touching the orders (at 500,000 matching orders on SQLite a third of the
        # time of probing every order's items; with few matches, microseconds).
        count = select(func.count(items.c.order_id.distinct())).where(*item_conditions)
    order_ids: BindParameter[list[str]] = bindparam("order_ids", expanding=True)
    item_order = (func.length(items.c.id), items.c.id)
    return Statements(
        page=page,
        count=count,
        orders_of=select(*ORDER_COLUMNS).where(orders.c.id.in_(order_ids)),
        items_of=select(*ITEM_COLUMNS)
        .where(items.c.order_id.in_(order_ids), *item_conditions)
        .order_by(*item_order),
        matching_items=select(items.c.order_id, items.c.id)
        .select_from(items.join(orders, items.c.order_id == orders.c.id))
        .where(*item_conditions, *order_conditions)
        .order_by(*item_order)
        .limit(bindparam("items_limit", type_=Integer)),
    )


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


def find_orders(
    connection: Connection, search: OrderSearch, *, keep_partner: bool = False
) -> OrdersPage:
    """Run ``search``: one page of orders with their matching items, and the total.
    ``keep_partner``: leave each item's partner under the private key ``_partner``."""
    statements, values = prepared(search)
    order_ids = [row[0] for row in connection.execute(statements.page, values)]
    total = int(connection.execute(statements.count, values).scalar_one())
    if not order_ids:
        return OrdersPage([], total)
    found = {
        row.id: _order(row)
        for row in connection.execute(statements.orders_of, {"order_ids": order_ids})
    }
    for row in connection.execute(statements.items_of, {**values, "order_ids": order_ids}):
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


# Marks like an export does (exports.mark_exported); "(?)" becomes one marker per id.
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
    statements, values = prepared(search)
    rows = connection.execute(statements.matching_items, {**values, "items_limit": limit + 1})
    return [(row[0], row[1]) for row in rows]


def partners_of(connection: Connection, order_ids: Sequence[str]) -> dict[str, set[str | None]]:
    """order id → the partners its items are routed to (for scope checks)."""
    found: dict[str, set[str | None]] = {}
    for start in range(0, len(order_ids), 500):
        chunk = list(order_ids[start : start + 500])
        query = select(items.c.order_id, items.c.partner).where(items.c.order_id.in_(chunk))
        for order_id, partner in connection.execute(query):
            found.setdefault(order_id, set()).add(partner)
    return found
