"""Orders in: ``POST /api/v1/orders`` (ours), the shop pushing its orders in the shape
``orders load`` reads, through :func:`ftpbridge.files.order_checks.parse_orders`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ftpbridge.errors import RequestError
from ftpbridge.files.intake import store_orders
from ftpbridge.files.order_checks import parse_orders
from ftpbridge.web import schemas
from ftpbridge.web.auth import Key, require_shop, require_writer
from ftpbridge.web.context import context_of
from ftpbridge.web.orders import json_response
from ftpbridge.web.params import read_payload

router = APIRouter(tags=["orders in"])
SHOWN_PROBLEMS = 5


@router.post(
    "/api/v1/orders",
    summary="Orders in (ftpbridge)",
    response_model=schemas.OrdersInResponse,
    responses=schemas.ERRORS,
)
async def orders_in(request: Request, key: Key) -> Response:
    """One order or a list of them, in the shape ``orders load`` reads (Topspin's order
    objects; also ``{"orders": [...]}`` or a View Orders response ``{"response": [...]}``).
    Idempotent by order id, never un-ships, all or nothing: every bad order is listed
    with its index and field. Only the shop's key (no partner) may."""
    context = context_of(request)
    require_writer(key, "load orders")
    require_shop(key, "load orders")
    payload = await read_payload(request, context.api)
    if not payload.body_is_json:
        raise RequestError(
            "POST /api/v1/orders takes a JSON body: one order, or a list of orders",
            hint='e.g. {"id": 3, "created_at": "2026-11-20T14:03:00Z", "items": [...]}',
        )
    body = payload.body
    if isinstance(body, dict) and "id" not in body:  # {"orders": [...]} or a View Orders answer
        for wrapper in ("orders", "response"):
            if isinstance(body.get(wrapper), list):
                body = body[wrapper]
                break
    records = body if isinstance(body, list) else [body]
    limit = context.api.max_orders_per_request
    if len(records) > limit:
        raise RequestError(
            f"the request holds {len(records):,} orders, over the limit of {limit:,}"
            " ([api] max_orders_per_request)",
            status=413,
            hint="send them in several requests",
        )
    partners = list(context.settings.partners.values())
    parsed = parse_orders(
        ((f"orders[{index}]", index, order) for index, order in enumerate(records)), partners
    )
    if parsed.problems:
        problems = parsed.problems
        shown = "; ".join(str(problem) for problem in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        count = f"{len(problems)} order" + ("" if len(problems) == 1 else "s")
        raise RequestError(
            f"{count} refused; nothing was loaded: {shown}"
            + (f"; and {more} more (see errors)" if more > 0 else ""),
            status=422,
            hint="correct the orders named and send them again",
            errors=[
                {
                    "index": problem.index,
                    "order_id": problem.order_id,
                    "field": problem.field,
                    "reason": problem.reason,
                }
                for problem in problems
            ],
        )
    if not parsed.orders:
        raise RequestError("the request holds no orders")
    loaded = await run_in_threadpool(store_orders, context.store, parsed)
    summary = loaded.summary
    return json_response(
        {
            "response": {
                "orders": loaded.orders,
                "orders_new": summary.orders_new,
                "orders_updated": summary.orders_updated,
                "items": loaded.items,
                "items_new": summary.items_new,
                "items_updated": summary.items_updated,
                "items_kept_shipped": summary.items_kept_shipped,
                "unrouted": loaded.unrouted,
            },
            "status": "ok",
        }
    )
