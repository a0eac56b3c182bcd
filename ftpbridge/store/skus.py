"""SKUs: the reads (``skus list``, View SKUs, the console's "low on stock"), and the API's
changes of one SKU (set fields, add or remove stock), each stock change with its audit
row (``stock_changes``).

The catalogue's changes (``skus load``, orders with SKU data) are in
:mod:`ftpbridge.store.sku_catalogue`, an inventory file's in :mod:`ftpbridge.store.stock`.
Quantities are whole numbers from 0 to :data:`MAX_QUANTITY`; ``sold_unshipped_quantity``
and ``sold_shipped_quantity`` are sums over the SKU's items, never stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    case,
    exists,
    func,
    insert,
    select,
    update,
)

from ftpbridge.store.schema import files, items, sku_campaigns, skus, stock_changes

MAX_QUANTITY = 1_000_000_000
WEIGHT_UNITS = ("lb", "oz", "kg", "g")
DEFAULT_LOW_STOCK = 5
UNSHIPPED = ("pending", "acknowledged")
CATALOGUE_FIELDS = (
    "product_name",
    "product_id",
    "attributes",
    "factory_sku",
    "upc",
    "weight",
    "weight_unit",
    "available",
    "partner",
)
STOCK_FIELDS = ("in_stock_quantity", "reserve_quantity", "max_backorder_quantity")
# A new SKU's values where its row gives none.
NEW_SKU: dict[str, Any] = {
    "product_name": "",
    "product_id": "",
    "attributes": "",
    "factory_sku": "",
    "upc": "",
    "weight": None,
    "weight_unit": "",
    "available": True,
    "partner": None,
    "in_stock_quantity": 0,
    "reserve_quantity": 0,
    "max_backorder_quantity": 0,
}
_BATCH = 2_000


@dataclass(frozen=True)
class SkuRecord:
    """A SKU as the reads give it, with its sold quantities summed from the items."""

    id: str
    product_name: str
    product_id: str
    attributes: str
    factory_sku: str
    upc: str
    weight: float | None
    weight_unit: str
    available: bool
    in_stock_quantity: int
    reserve_quantity: int
    max_backorder_quantity: int
    partner: str | None
    updated_at: dt.datetime
    sold_unshipped_quantity: int = 0
    sold_shipped_quantity: int = 0

    @property
    def free_quantity(self) -> int:
        """What can still be sold from stock: in stock, less the reserve and what is sold
        but not shipped yet (may be negative: oversold)."""
        return self.in_stock_quantity - self.reserve_quantity - self.sold_unshipped_quantity


_RECORD_COLUMNS = tuple(
    skus.c[field.name] for field in fields(SkuRecord) if not field.name.startswith("sold_")
)


def _unshipped_sum(sku_id: Any) -> Any:
    return (
        select(func.coalesce(func.sum(items.c.quantity), 0))
        .where(items.c.sku_id == sku_id, items.c.status.in_(UNSHIPPED))
        .scalar_subquery()
    )


def _sold(connection: Connection, sku_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """sku id → (sold unshipped, sold shipped), summed over its items."""
    sold: dict[str, tuple[int, int]] = {}
    unshipped = func.sum(case((items.c.status.in_(UNSHIPPED), items.c.quantity), else_=0))
    shipped = func.sum(case((items.c.status == "shipped", items.c.quantity), else_=0))
    for start in range(0, len(sku_ids), _BATCH):
        chunk = list(sku_ids[start : start + _BATCH])
        query = (
            select(items.c.sku_id, unshipped, shipped)
            .where(items.c.sku_id.in_(chunk))
            .group_by(items.c.sku_id)
        )
        for sku_id, waiting, gone in connection.execute(query):
            sold[sku_id] = (int(waiting or 0), int(gone or 0))
    return sold


def _records(connection: Connection, rows: Sequence[Any]) -> list[SkuRecord]:
    sold = _sold(connection, [row.id for row in rows])
    return [
        SkuRecord(
            **{column.name: row._mapping[column.name] for column in _RECORD_COLUMNS},
            sold_unshipped_quantity=sold.get(row.id, (0, 0))[0],
            sold_shipped_quantity=sold.get(row.id, (0, 0))[1],
        )
        for row in rows
    ]


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class SkuQuery:
    """Which SKUs to read. ``partner``: only that partner's (an API key's scope, or
    ``skus list --partner``); ``updated_after``: changed at or after that time;
    ``campaign_ids``: sold in any of those campaigns; ``low_stock``: only SKUs whose free
    stock is at most their partner's threshold (see :func:`low_stock`)."""

    partner: str | None = None
    updated_after: dt.datetime | None = None
    campaign_ids: tuple[str, ...] = ()
    sku_ids: tuple[str, ...] = ()
    limit: int | None = None
    offset: int = 0


def _conditions(query: SkuQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.partner is not None:
        conditions.append(skus.c.partner == query.partner)
    if query.updated_after is not None:
        conditions.append(skus.c.updated_at >= query.updated_after)
    if query.campaign_ids:
        conditions.append(
            exists().where(
                sku_campaigns.c.sku_id == skus.c.id,
                sku_campaigns.c.campaign_id.in_(query.campaign_ids),
            )
        )
    if query.sku_ids:
        conditions.append(skus.c.id.in_(query.sku_ids))
    return conditions


def find_skus(connection: Connection, query: SkuQuery) -> list[SkuRecord]:
    """The SKUs ``query`` selects, in natural id order ("9" before "10")."""
    statement = (
        select(*_RECORD_COLUMNS)
        .where(*_conditions(query))
        .order_by(func.length(skus.c.id), skus.c.id)
        .offset(query.offset)
    )
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return _records(connection, connection.execute(statement).all())


def count_skus(connection: Connection, query: SkuQuery) -> int:
    statement = select(func.count()).select_from(skus).where(*_conditions(query))
    return int(connection.execute(statement).scalar_one())


def low_stock(
    connection: Connection,
    *,
    threshold: int = DEFAULT_LOW_STOCK,
    thresholds: Mapping[str, int] | None = None,
    partner: str | None = None,
    limit: int = 100,
) -> list[SkuRecord]:
    """SKUs low on stock, lowest first: available SKUs whose free stock (in stock, less
    reserve, less sold but not shipped) is at most their partner's threshold
    (``thresholds[partner]``, else ``threshold``). ``partner``: only that partner's."""
    limit_for_partner: Any = threshold
    if thresholds:
        limit_for_partner = case(
            *((skus.c.partner == name, value) for name, value in thresholds.items()),
            else_=threshold,
        )
    free = skus.c.in_stock_quantity - skus.c.reserve_quantity - _unshipped_sum(skus.c.id)
    statement = select(*_RECORD_COLUMNS).where(
        skus.c.available.is_(True), free <= limit_for_partner
    )
    if partner is not None:
        statement = statement.where(skus.c.partner == partner)
    statement = statement.order_by(free, func.length(skus.c.id), skus.c.id).limit(limit)
    return _records(connection, connection.execute(statement).all())


def stock_history(connection: Connection, sku_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The SKU's stock changes, newest first: who (file name, or source), when, each
    quantity before and after."""
    query = (
        select(
            stock_changes,
            func.coalesce(stock_changes.c.source, files.c.name).label("who"),
            func.coalesce(stock_changes.c.changed_at, files.c.created_at).label("when"),
        )
        .select_from(stock_changes.outerjoin(files, files.c.id == stock_changes.c.file_id))
        .where(stock_changes.c.sku_id == sku_id)
        .order_by(stock_changes.c.id.desc())
        .limit(limit)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def audit_row(
    sku_id: str,
    before: Mapping[Any, Any] | None,
    after: Mapping[str, Any],
    source: str,
    now: dt.datetime,
) -> dict[str, Any]:
    row: dict[str, Any] = {"sku_id": sku_id, "source": source, "changed_at": now}
    for name in STOCK_FIELDS:
        old = before[name] if before is not None else 0
        row[f"old_{name}"] = old
        row[f"new_{name}"] = after.get(name, old)
    return row


# --------------------------------------------------------------------------- API changes


@dataclass(frozen=True)
class SkuChanges:
    """An Update SKUs request: None leaves a field as it is."""

    available: bool | None = None
    factory_sku: str | None = None
    weight: float | None = None
    weight_unit: str | None = None
    in_stock_quantity: int | None = None
    max_backorder_quantity: int | None = None
    reserve_quantity: int | None = None

    def given(self) -> dict[str, Any]:
        return {
            field.name: getattr(self, field.name)
            for field in fields(self)
            if getattr(self, field.name) is not None
        }


@dataclass(frozen=True)
class Changed:
    """What a change of one SKU did: ``found`` (the SKU exists in the caller's scope),
    ``modified`` (a value changed), the in-stock quantity after, and (for a removal that
    would go below zero) ``refused`` with the quantity there is."""

    found: bool
    modified: bool = False
    in_stock_quantity: int | None = None
    refused: bool = False


def _scoped(sku_id: str, scope: str | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [skus.c.id == sku_id]
    if scope is not None:
        conditions.append(skus.c.partner == scope)
    return conditions


def update_sku(
    connection: Connection,
    sku_id: str,
    changes: SkuChanges,
    *,
    scope: str | None,
    source: str,
    now: dt.datetime,
) -> Changed:
    """Set the given fields of one SKU (in ``scope``: a partner, or None for every SKU),
    in the caller's transaction; a stock change is audited with ``source``. The row is
    locked while it is read (PostgreSQL; SQLite's writer holds the database)."""
    row = (
        connection.execute(select(skus).where(*_scoped(sku_id, scope)).with_for_update())
        .mappings()
        .first()
    )
    if row is None:
        return Changed(found=False)
    different = {key: value for key, value in changes.given().items() if row[key] != value}
    if not different:
        return Changed(found=True, in_stock_quantity=row["in_stock_quantity"])
    connection.execute(update(skus).where(skus.c.id == sku_id).values(**different, updated_at=now))
    if any(name in different for name in STOCK_FIELDS):
        connection.execute(insert(stock_changes), [audit_row(sku_id, row, different, source, now)])
    return Changed(
        found=True,
        modified=True,
        in_stock_quantity=different.get("in_stock_quantity", row["in_stock_quantity"]),
    )


def adjust_stock(
    connection: Connection,
    sku_id: str,
    delta: int,
    *,
    scope: str | None,
    source: str,
    now: dt.datetime,
) -> Changed:
    """Add ``delta`` (negative: remove) to the SKU's in-stock quantity in one statement,
    so that concurrent adjustments never lose one another: ``UPDATE ... SET q = q + n
    WHERE ... AND q + n BETWEEN 0 AND MAX``. Never below zero: such a change is refused
    (``refused``) and nothing is written. Audited with ``source``."""
    new_quantity = skus.c.in_stock_quantity + delta
    result = connection.execute(
        update(skus)
        .where(*_scoped(sku_id, scope), new_quantity >= 0, new_quantity <= MAX_QUANTITY)
        .values(in_stock_quantity=new_quantity, updated_at=now)
        .returning(skus.c.in_stock_quantity, skus.c.reserve_quantity, skus.c.max_backorder_quantity)
    ).first()
    if result is None:
        current = connection.execute(
            select(skus.c.in_stock_quantity).where(*_scoped(sku_id, scope))
        ).scalar()
        if current is None:
            return Changed(found=False)
        return Changed(found=True, in_stock_quantity=int(current), refused=True)
    after, reserve, backorder = (int(value) for value in result)
    connection.execute(
        insert(stock_changes),
        [
            {
                "sku_id": sku_id,
                "source": source,
                "changed_at": now,
                "old_in_stock_quantity": after - delta,
                "new_in_stock_quantity": after,
                "old_reserve_quantity": reserve,
                "new_reserve_quantity": reserve,
                "old_max_backorder_quantity": backorder,
                "new_max_backorder_quantity": backorder,
            }
        ],
    )
    return Changed(found=True, modified=delta != 0, in_stock_quantity=after)
