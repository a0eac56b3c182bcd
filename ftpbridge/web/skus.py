"""The SKU half of Topspin's API: View SKUs (``/api/v1/sku``), Update SKUs
(``/api/v1/sku/update``), and relative adjustments for stock changes that happen outside
the shop (``/api/v1/sku/add``, ``/api/v1/sku/remove``: reshipments, new stock).

The same keys and scoping as the Orders API: a partner's key sees and changes only the
SKUs its partner stocks (another SKU is "not there", 404); a read-only key only reads.
Each route reads its parameters (:mod:`ftpbridge.web.params`), then hands the work to
:mod:`ftpbridge.store.skus` in a worker thread, within ``request_timeout_seconds``.

``campaign_id`` (View SKUs) keeps the SKUs sold in those campaigns: the campaign ids the
shop's orders carried on their items (``orders load``, orders in over HTTP) and those a
catalogue gives (``skus load``). Topspin's ``artist_id``, ``artist_name`` and
``poster_image`` are not kept and not returned; ``factory_sku``, ``upc``, ``product_id``
and ``updated_at`` are returned besides the seed's fields.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ftpbridge.errors import RequestError
from ftpbridge.store.api_keys import ApiKey
from ftpbridge.store.engine import utcnow
from ftpbridge.store.limits import statement_deadline
from ftpbridge.store.search import attributes_object
from ftpbridge.store.skus import (
    MAX_QUANTITY,
    WEIGHT_UNITS,
    Changed,
    SkuChanges,
    SkuQuery,
    SkuRecord,
    adjust_stock,
    count_skus,
    find_skus,
    update_sku,
)
from ftpbridge.web import schemas
from ftpbridge.web.auth import Key, require_writer
from ftpbridge.web.context import ApiContext, context_of
from ftpbridge.web.orders import json_response
from ftpbridge.web.params import (
    MAX_PAGE,
    PAGE_HINT,
    boolean,
    fields_of,
    integer,
    page_size_hint,
    read_payload,
)

router = APIRouter(tags=["skus"])

VIEW_PARAMETERS = ("updated_after", "campaign_id", "page", "page_size")
UPDATE_PARAMETERS = (
    "id",
    "available",
    "factory_sku",
    "weight",
    "weight_unit",
    "in_stock_quantity",
    "quantity",  # Topspin's own client: the in-stock quantity
    "max_backorder_quantity",
    "reserve_quantity",
)
ADJUST_PARAMETERS = ("id", "quantity")
MAX_CAMPAIGNS = 50
GRAMS = {"lb": 453.59237, "oz": 28.349523125, "kg": 1000.0, "g": 1.0}


# --------------------------------------------------------------------------- View SKUs


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def weight_object(weight: float | None, unit: str) -> dict[str, str] | None:
    """The seed's ``{"US": "1.5 lb", "SI": "680.39 g"}`` from a weight and its unit."""
    if weight is None or unit not in GRAMS:
        return None
    grams = weight * GRAMS[unit]
    us = f"{_number(weight)} oz" if unit == "oz" else f"{_number(grams / GRAMS['lb'])} lb"
    si = f"{_number(weight)} kg" if unit == "kg" else f"{_number(grams)} g"
    return {"US": us, "SI": si}


def sku_body(sku: SkuRecord) -> dict[str, Any]:
    return {
        "id": sku.id,
        "product_name": sku.product_name,
        "product_id": sku.product_id,
        "attributes": attributes_object(sku.attributes),
        "factory_sku": sku.factory_sku,
        "upc": sku.upc,
        "weight": weight_object(sku.weight, sku.weight_unit),
        "available": 1 if sku.available else 0,
        "in_stock_quantity": sku.in_stock_quantity,
        "max_backorder_quantity": sku.max_backorder_quantity,
        "reserve_quantity": sku.reserve_quantity,
        "sold_unshipped_quantity": sku.sold_unshipped_quantity,
        "sold_shipped_quantity": sku.sold_shipped_quantity,
        "updated_at": sku.updated_at.isoformat().replace("+00:00", "Z"),
    }


def _day(value: Any, name: str) -> dt.datetime:
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = dt.date.fromisoformat(value.strip())
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        except ValueError:
            pass
    shown = repr(value)[:40] if isinstance(value, str) else type(value).__name__
    raise RequestError(f"{name} must be a date YYYY-MM-DD, not {shown}")


def _campaigns(value: Any) -> tuple[str, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if not isinstance(value, str):
        raise RequestError("campaign_id must be campaign ids separated by commas, e.g. 1005,1006")
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    if not ids or len(ids) > MAX_CAMPAIGNS or any(len(part) > 64 for part in ids):
        raise RequestError(
            f"campaign_id must be 1 to {MAX_CAMPAIGNS} campaign ids separated by commas"
        )
    return ids


@router.api_route(
    "/api/v1/sku",
    methods=["GET", "POST"],
    summary="View SKUs (Topspin)",
    response_model=schemas.ViewSkusResponse,
    responses=schemas.ERRORS,
)
async def view_skus(request: Request, key: Key) -> Response:
    """The SKUs in the key's scope, in natural id order, a page at a time: parameters
    ``updated_after`` (YYYY-MM-DD: changed on or after that day, UTC), ``campaign_id``
    (comma-separated: sold in those campaigns), ``page`` and ``page_size`` (ours; default
    page 1 of up to ``[api] max_page_size``)."""
    context = context_of(request)
    fields = fields_of(await read_payload(request, context.api), VIEW_PARAMETERS, "View SKUs")
    page = integer(fields.get("page", 1), "page", minimum=1, maximum=MAX_PAGE, over_hint=PAGE_HINT)
    size = integer(
        fields.get("page_size", context.api.max_page_size),
        "page_size",
        minimum=1,
        maximum=context.api.max_page_size,
        over_hint=page_size_hint(context.api.max_page_size),
        limit_name="[api] max_page_size",
    )
    query = SkuQuery(
        partner=key.partner,
        updated_after=(
            _day(fields["updated_after"], "updated_after") if "updated_after" in fields else None
        ),
        campaign_ids=_campaigns(fields["campaign_id"]) if "campaign_id" in fields else (),
        limit=size,
        offset=(page - 1) * size,
    )

    def read() -> tuple[list[SkuRecord], int]:
        with (
            context.store.connect() as connection,
            statement_deadline(connection, context.api.request_timeout_seconds),
        ):
            return find_skus(connection, query), count_skus(connection, query)

    found, total = await run_in_threadpool(read)
    return json_response(
        {
            "status": "ok",
            "response": {"skus": [sku_body(sku) for sku in found]},
            "current_page": page,
            "page_size": size,
            "total_entries": total,
            "total_pages": math.ceil(total / size),
        }
    )


# --------------------------------------------------------------------------- changes


def _sku_id(fields: dict[str, Any]) -> str:
    value = fields.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise RequestError("id (the SKU's id) is required", hint="e.g. id=50")
    text = str(value).strip()
    if len(text) > 64:
        raise RequestError("id is longer than 64 characters")
    return text


def _quantity(value: Any, name: str, *, minimum: int = 0) -> int:
    return integer(
        value,
        name,
        minimum=minimum,
        maximum=MAX_QUANTITY,
        over_hint=f"a SKU holds at most {MAX_QUANTITY:,} units: check {name}",
    )


def sku_changes(fields: dict[str, Any]) -> SkuChanges:
    """Update SKUs' parameters → the changes; RequestError naming the parameter."""
    quantity = fields.get("in_stock_quantity")
    if "quantity" in fields:
        if quantity is not None and str(quantity).strip() != str(fields["quantity"]).strip():
            raise RequestError(
                "quantity and in_stock_quantity disagree; send one of them",
                hint="quantity is Topspin's client's name for in_stock_quantity",
            )
        quantity = fields["quantity"]
    weight: float | None = None
    if "weight" in fields:
        if "weight_unit" not in fields:
            raise RequestError(
                "weight needs weight_unit",
                hint=f"send weight_unit: one of {', '.join(WEIGHT_UNITS)}",
            )
        weight = _weight(fields["weight"])
    unit = fields.get("weight_unit")
    if unit is not None and (not isinstance(unit, str) or unit.strip().lower() not in WEIGHT_UNITS):
        raise RequestError(f"weight_unit must be one of {', '.join(WEIGHT_UNITS)}")
    factory_sku = fields.get("factory_sku")
    if factory_sku is not None:
        if isinstance(factory_sku, bool) or not isinstance(factory_sku, str | int):
            raise RequestError("factory_sku must be text")
        factory_sku = str(factory_sku).strip()
        if len(factory_sku) > 100:
            raise RequestError("factory_sku is longer than 100 characters")
    changes = SkuChanges(
        available=boolean(fields["available"], "available") if "available" in fields else None,
        factory_sku=factory_sku,
        weight=weight,
        weight_unit=unit.strip().lower() if isinstance(unit, str) else None,
        in_stock_quantity=_quantity(quantity, "in_stock_quantity")
        if quantity is not None
        else None,
        max_backorder_quantity=_optional_quantity(fields, "max_backorder_quantity"),
        reserve_quantity=_optional_quantity(fields, "reserve_quantity"),
    )
    if not changes.given():
        raise RequestError(
            "nothing to update: give at least one of " + ", ".join(UPDATE_PARAMETERS[1:]),
            hint="e.g. id=50&available=true&factory_sku=ABCDEFG",
        )
    return changes


def _optional_quantity(fields: dict[str, Any], name: str) -> int | None:
    return _quantity(fields[name], name) if name in fields else None


def _weight(value: Any) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and len(value) < 20:
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or not 0 <= number <= 1_000_000:
        raise RequestError("weight must be a number from 0 to 1,000,000, e.g. 1.5")
    return number


def _not_found(sku_id: str) -> RequestError:
    return RequestError(
        f"there is no SKU {sku_id!r}",
        status=404,
        hint="check the id; View SKUs (/api/v1/sku) lists the SKUs you can see",
    )


async def _change(context: ApiContext, work: Any) -> Changed:
    def run() -> Changed:
        with (
            context.store.begin() as connection,
            statement_deadline(connection, context.api.request_timeout_seconds),
        ):
            result: Changed = work(connection)
            return result

    return await run_in_threadpool(run)


def _answer(sku_id: str, changed: Changed) -> Response:
    return json_response(
        {
            "status": "ok",
            "response": {
                "id": sku_id,
                "modified": 1 if changed.modified else 0,
                "in_stock_quantity": changed.in_stock_quantity,
            },
        }
    )


@router.api_route(
    "/api/v1/sku/update",
    methods=["POST", "PUT"],
    summary="Update SKUs (Topspin)",
    response_model=schemas.SkuChangeResponse,
    responses=schemas.ERRORS,
)
async def update_skus(request: Request, key: Key) -> Response:
    """Set fields of one SKU: ``id`` and any of ``available``, ``factory_sku``, ``weight``
    with ``weight_unit`` (lb, oz, kg, g), ``in_stock_quantity`` (or ``quantity``),
    ``max_backorder_quantity``, ``reserve_quantity``. A stock change is audited with the
    key's name."""
    context = context_of(request)
    require_writer(key, "update SKUs")
    fields = fields_of(await read_payload(request, context.api), UPDATE_PARAMETERS, "Update SKUs")
    sku_id = _sku_id(fields)
    changes = sku_changes(fields)
    changed = await _change(
        context,
        lambda connection: update_sku(
            connection,
            sku_id,
            changes,
            scope=key.partner,
            source=key.audit_source,
            now=utcnow(),
        ),
    )
    if not changed.found:
        raise _not_found(sku_id)
    return _answer(sku_id, changed)


async def _adjust(request: Request, key: ApiKey, sign: int) -> Response:
    context = context_of(request)
    what = "add stock" if sign > 0 else "remove stock"
    require_writer(key, what)
    where = "/api/v1/sku/add" if sign > 0 else "/api/v1/sku/remove"
    fields = fields_of(await read_payload(request, context.api), ADJUST_PARAMETERS, where)
    sku_id = _sku_id(fields)
    if "quantity" not in fields:
        raise RequestError("quantity is required", hint="e.g. id=50&quantity=3")
    quantity = _quantity(fields["quantity"], "quantity", minimum=1)
    changed = await _change(
        context,
        lambda connection: adjust_stock(
            connection,
            sku_id,
            sign * quantity,
            scope=key.partner,
            source=key.audit_source,
            now=utcnow(),
        ),
    )
    if not changed.found:
        raise _not_found(sku_id)
    if changed.refused:
        there = changed.in_stock_quantity
        reason = (
            f"SKU {sku_id} has {there} in stock; removing {quantity} would go below zero"
            if sign < 0
            else f"SKU {sku_id} has {there} in stock; adding {quantity} would go over"
            f" {MAX_QUANTITY:,}"
        )
        raise RequestError(
            reason + "; nothing was changed",
            status=422,
            hint="check the quantity (View SKUs shows the stock)",
        )
    return _answer(sku_id, changed)


@router.post(
    "/api/v1/sku/add",
    summary="Add stock (ftpbridge)",
    response_model=schemas.SkuChangeResponse,
    responses=schemas.ERRORS,
)
async def add_stock(request: Request, key: Key) -> Response:
    """``id``, ``quantity``: add to the in-stock quantity (new stock, a return), in one
    statement: concurrent additions never lose one another."""
    return await _adjust(request, key, 1)


@router.post(
    "/api/v1/sku/remove",
    summary="Remove stock (ftpbridge)",
    response_model=schemas.SkuChangeResponse,
    responses=schemas.ERRORS,
)
async def remove_stock(request: Request, key: Key) -> Response:
    """``id``, ``quantity``: take from the in-stock quantity (a reshipment, damage), never
    below zero (422, nothing changed)."""
    return await _adjust(request, key, -1)
