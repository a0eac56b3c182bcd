"""The SKU catalogue into the store: ``skus load`` (any of the catalogue fields, and
stock, audited) and orders with SKU data (catalogue fields only), and the campaigns SKUs
are sold in. A field a row leaves out keeps the SKU's value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ftpbridge.store.schema import sku_campaigns, skus, stock_changes
from ftpbridge.store.skus import CATALOGUE_FIELDS, NEW_SKU, STOCK_FIELDS, audit_row

_BATCH = 2_000


@dataclass(frozen=True)
class CatalogueSummary:
    new: int
    updated: int
    unchanged: int
    stock_changed: int


def _existing(connection: Connection, ids: Sequence[str], *, lock: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for start in range(0, len(ids), _BATCH):
        query = select(skus).where(skus.c.id.in_(list(ids[start : start + _BATCH])))
        if lock:
            query = query.with_for_update()
        for row in connection.execute(query).mappings():
            found[row["id"]] = row
    return found


def upsert_catalogue(
    connection: Connection,
    rows: Sequence[Mapping[str, Any]],
    *,
    source: str,
    now: dt.datetime,
) -> CatalogueSummary:
    """Add or change SKUs, in the caller's transaction. Each row has ``id`` and any of
    CATALOGUE_FIELDS, STOCK_FIELDS and ``campaign_ids``; a field a row leaves out keeps
    its value (a new SKU: its default, stock 0). Stock changes are audited with
    ``source`` (e.g. "command:skus load catalogue.csv")."""
    known = _existing(connection, [row["id"] for row in rows], lock=True)
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    unchanged = 0
    for row in rows:
        values = {key: row[key] for key in (*CATALOGUE_FIELDS, *STOCK_FIELDS) if key in row}
        before = known.get(row["id"])
        if before is None:
            new.append({"id": row["id"], **NEW_SKU, **values, "created_at": now, "updated_at": now})
            if any(values.get(name) for name in STOCK_FIELDS):
                audit.append(audit_row(row["id"], None, values, source, now))
            continue
        different = {key: value for key, value in values.items() if before[key] != value}
        if not different:
            unchanged += 1
            continue
        changed.append({**_full(before, different), "b_id": row["id"], "updated_at": now})
        if any(name in different for name in STOCK_FIELDS):
            audit.append(audit_row(row["id"], before, different, source, now))
    if new:
        connection.execute(insert(skus), new)
    if changed:
        columns = (*CATALOGUE_FIELDS, *STOCK_FIELDS, "updated_at")
        connection.execute(
            update(skus)
            .where(skus.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in columns}),
            changed,
        )
    if audit:
        connection.execute(insert(stock_changes), audit)
    add_campaigns(
        connection,
        ((row["id"], campaign) for row in rows for campaign in row.get("campaign_ids", ())),
    )
    return CatalogueSummary(len(new), len(changed), unchanged, len(audit))


def _full(before: Mapping[Any, Any], different: Mapping[str, Any]) -> dict[str, Any]:
    return {name: different.get(name, before[name]) for name in (*CATALOGUE_FIELDS, *STOCK_FIELDS)}


def add_campaigns(connection: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """Record (sku id, campaign id) pairs not recorded yet."""
    wanted = sorted(set(pairs))
    if not wanted:
        return
    sku_ids = sorted({sku_id for sku_id, _ in wanted})
    known: set[tuple[str, str]] = set()
    for start in range(0, len(sku_ids), _BATCH):
        query = select(sku_campaigns.c.sku_id, sku_campaigns.c.campaign_id).where(
            sku_campaigns.c.sku_id.in_(sku_ids[start : start + _BATCH])
        )
        known.update((row[0], row[1]) for row in connection.execute(query))
    fresh = [
        {"sku_id": sku, "campaign_id": campaign}
        for sku, campaign in wanted
        if (sku, campaign) not in known
    ]
    if fresh:
        connection.execute(insert(sku_campaigns), fresh)


def upsert_from_items(
    connection: Connection,
    item_rows: Iterable[Mapping[str, Any]],
    now: dt.datetime,
    *,
    campaigns: Iterable[tuple[str, str]] = (),
) -> int:
    """Create or update the SKUs named by loaded order items (those with a ``sku_id``):
    product name and id, attributes, warehouse SKU and UPC where the item gives them, the
    partner the item is routed to; stock is left alone. ``campaigns``: (sku id, campaign
    id) pairs the items were sold in. Returns how many SKUs were created or changed. The
    last item of a SKU wins."""
    latest: dict[str, dict[str, Any]] = {}
    for item in item_rows:
        sku_id = item.get("sku_id") or ""
        if not sku_id:
            continue
        values = {
            "id": sku_id,
            "product_name": item.get("product_name") or "",
            "product_id": item.get("product_id") or "",
            "attributes": item.get("attributes") or "",
            "factory_sku": item.get("warehouse_sku") or "",
            "upc": item.get("upc") or "",
            "partner": item.get("partner"),
        }
        # An item that leaves a field empty does not blank the SKU's.
        latest[sku_id] = {
            key: value for key, value in values.items() if key == "id" or value not in ("", None)
        }
    add_campaigns(connection, campaigns)
    if not latest:
        return 0
    summary = upsert_catalogue(connection, list(latest.values()), source="orders load", now=now)
    return summary.new + summary.updated
