"""The ops console's reads (and ``ftpbridge status``'s past-due counts): the Files page's
page of the ledger, the Partners page's daily totals and past-due counts, the Orders
page's item search, and an item's audit trail.

Every query here is answered from an index: the ledger by ``(partner, direction,
created_at)``, items by primary key, ``order_id``, ``(partner, status)`` or
``tracking_number`` (migration 0009), orders by primary key or ``lower(email)``, the audit
trail by ``item_id``. Each is bounded by a limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from ftpbridge.store.schema import audit, files, items, orders

UNSHIPPED = ("pending", "acknowledged")
# The Files page's outcome filter: what each choice selects.
OUTCOMES = ("refused", "applied", "rejected", "held", "written", "uploaded")
# Files whose rows are read and applied (an updated file, a warehouse's inventory file),
# as against the exports ftpbridge writes.
ROW_DIRECTIONS = ("import", "inventory")
ITEM_FILTERS = (
    "all",
    "pending",
    "acknowledged",
    "not_shipped",
    "shipped",
    "cancelled",
    "past_due",
)
SEARCH_FIELDS = ("order_id", "item_id", "email", "tracking_number")


def ledger_page(
    connection: Connection,
    *,
    partner: str | None,
    direction: str | None,
    outcome: str | None,
    before_id: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The newest ledger entries matching the filters, newest first, at most ``limit``;
    ``before_id`` continues after the entry of that id (the page before ended there).
    ``outcome``: one of OUTCOMES ("refused": an updated or inventory file rejected whole,
    an inventory snapshot held, or a file applied with refused rows)."""
    query = select(files)
    if partner is not None:
        query = query.where(files.c.partner == partner)
    if direction is not None:
        query = query.where(files.c.direction == direction)
    if outcome == "refused":
        query = query.where(
            files.c.direction.in_(ROW_DIRECTIONS),
            or_(files.c.state.in_(("rejected", "held")), files.c.rows_rejected > 0),
        )
    elif outcome is not None:
        query = query.where(files.c.state == outcome)
    if before_id is not None:
        query = query.where(files.c.id < before_id)
    query = query.order_by(files.c.id.desc()).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]


def ledger_entry(connection: Connection, file_id: int) -> dict[str, Any] | None:
    row = connection.execute(select(files).where(files.c.id == file_id)).mappings().first()
    return dict(row) if row is not None else None


def daily_import_rows(
    connection: Connection, partners: Sequence[str], since: dt.datetime
) -> list[tuple[str, dt.datetime, int, int]]:
    """(partner, time, rows applied, rows refused) of every import since ``since``: one
    row per file, a few per partner and day (the chart sums them per day)."""
    if not partners:
        return []
    query = select(
        files.c.partner, files.c.created_at, files.c.rows_applied, files.c.rows_rejected
    ).where(
        files.c.partner.in_(list(partners)),
        files.c.direction == "import",
        files.c.created_at >= since,
    )
    return [
        (partner, created_at, int(applied), int(rejected))
        for partner, created_at, applied, rejected in connection.execute(query)
    ]


def count_past_due(
    connection: Connection, cutoffs: dict[str, dt.datetime], cap: int | None = None
) -> dict[str, int]:
    """Per partner: items not yet shipped whose order is older than the partner's cut-off.

    ``cap``: count at most ``cap + 1`` per partner (a value over ``cap`` means "more than
    cap"): a query per partner that stops there, through ``(partner, status)``. Exact
    counts of a million past-due items cost seconds (measured: 7-9 s at 1,000,000 items
    over 50 partners, 0.27 s capped at 1,000); a page needs to know there are many."""
    if not cutoffs:
        return {}
    if cap is not None:
        counts = {}
        for name, cutoff in cutoffs.items():
            matching = (
                select(items.c.id)
                .select_from(items.join(orders, items.c.order_id == orders.c.id))
                .where(
                    items.c.partner == name,
                    items.c.status.in_(UNSHIPPED),
                    orders.c.created_at < cutoff,
                )
                .limit(cap + 1)
                .subquery()
            )
            found = connection.execute(select(func.count()).select_from(matching)).scalar_one()
            if found:
                counts[name] = int(found)
        return counts
    query = (
        select(items.c.partner, func.count())
        .select_from(items.join(orders, items.c.order_id == orders.c.id))
        .where(
            items.c.status.in_(UNSHIPPED),
            or_(
                *(
                    and_(items.c.partner == name, orders.c.created_at < cutoff)
                    for name, cutoff in cutoffs.items()
                )
            ),
        )
        .group_by(items.c.partner)
    )
    return {partner: int(count) for partner, count in connection.execute(query)}


ITEM_COLUMNS = (
    items.c.id.label("item_id"),
    items.c.order_id,
    orders.c.created_at.label("order_date"),
    orders.c.email,
    orders.c.ship_firstname,
    orders.c.ship_lastname,
    items.c.partner,
    items.c.status,
    items.c.sku_id,
    items.c.warehouse_sku,
    items.c.product_name,
    items.c.quantity,
    items.c.shipped_date,
    items.c.carrier,
    items.c.tracking_number,
)


ORDER_ADDRESS = (
    orders.c.ship_address1,
    orders.c.ship_address2,
    orders.c.ship_city,
    orders.c.ship_state,
    orders.c.ship_postal_code,
    orders.c.ship_country,
    items.c.attributes,
    items.c.first_exported_at,
    items.c.last_exported_at,
)


def find_items(
    connection: Connection,
    *,
    field: str | None,
    value: str,
    partner: str | None,
    status_filter: str,
    past_due_before: dict[str, dt.datetime],
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Items matching ``field == value`` (one of SEARCH_FIELDS; e-mail without case; no
    field: any of them) and the ``orders list`` filter, newest orders first: at most
    ``limit`` of them, and whether there were more. An empty value: the newest orders'."""
    query = select(*ITEM_COLUMNS).select_from(items.join(orders, items.c.order_id == orders.c.id))
    if field is None and value:  # any of them: each side of the OR has its index
        query = query.where(
            or_(
                items.c.order_id == value,
                items.c.id == value,
                func.lower(orders.c.email) == value.lower(),
                items.c.tracking_number == value,
            )
        )
    elif field == "order_id":
        query = query.where(items.c.order_id == value)
    elif field == "item_id":
        query = query.where(items.c.id == value)
    elif field == "email":
        query = query.where(func.lower(orders.c.email) == value.lower())
    elif field == "tracking_number":
        query = query.where(items.c.tracking_number == value)
    if partner is not None:
        query = query.where(items.c.partner == partner)
    if status_filter in ("pending", "acknowledged", "shipped", "cancelled"):
        query = query.where(items.c.status == status_filter)
    elif status_filter == "not_shipped":
        query = query.where(items.c.status.in_(UNSHIPPED))
    elif status_filter == "past_due":
        if not past_due_before:
            return [], False
        query = query.where(
            items.c.status.in_(UNSHIPPED),
            or_(
                *(
                    and_(items.c.partner == name, orders.c.created_at < cutoff)
                    for name, cutoff in past_due_before.items()
                )
            ),
        )
    query = query.order_by(orders.c.created_at.desc(), func.length(items.c.id), items.c.id).limit(
        limit + 1
    )
    rows = [dict(row) for row in connection.execute(query).mappings()]
    return rows[:limit], len(rows) > limit


def item_details(connection: Connection, item_id: str) -> dict[str, Any] | None:
    query = (
        select(*ITEM_COLUMNS, *ORDER_ADDRESS)
        .select_from(items.join(orders, items.c.order_id == orders.c.id))
        .where(items.c.id == item_id)
    )
    row = connection.execute(query).mappings().first()
    return dict(row) if row is not None else None


def item_history(connection: Connection, item_id: str, limit: int) -> list[dict[str, Any]]:
    """The item's audit trail, oldest first: one row per field changed, with the source
    (a file's name, ``api:KEY``) and the time; at most ``limit`` rows."""
    query = (
        select(audit)
        .where(audit.c.item_id == item_id)
        .order_by(audit.c.id, audit.c.position)
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def exportable_preview(
    connection: Connection, partner: str, *, new_only: bool, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many items the partner's export would hold now, and the first ``limit`` of them
    in the export's order (order date, order id, item id)."""
    statuses = ("pending",) if new_only else UNSHIPPED
    where = (items.c.partner == partner, items.c.status.in_(statuses))
    total = connection.execute(select(func.count()).select_from(items).where(*where)).scalar_one()
    query = (
        select(*ITEM_COLUMNS)
        .select_from(items.join(orders, items.c.order_id == orders.c.id))
        .where(*where)
        .order_by(
            orders.c.created_at,
            func.length(orders.c.id),
            orders.c.id,
            func.length(items.c.id),
            items.c.id,
        )
        .limit(limit)
    )
    return int(total), [dict(row) for row in connection.execute(query).mappings()]
