"""Reading orders: View Orders (``/api/v1/order``) and one order by id
(``/api/v1/orders/{id}``, ours). Updates are in :mod:`ftpbridge.web.updates`, orders in
in :mod:`ftpbridge.web.intake`.

Each route reads its parameters (:mod:`ftpbridge.web.params`), checks the key's rights and
scope, and hands the work to ``store`` (reads) or ``files`` (changes) in a worker thread.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ftpbridge.errors import RequestError
from ftpbridge.store.api_keys import ApiKey
from ftpbridge.store.engine import utcnow
from ftpbridge.store.limits import statement_deadline
from ftpbridge.store.search import (
    FILTERS,
    SORT_COLUMNS,
    OrderSearch,
    OrdersPage,
    find_orders,
    find_orders_and_acknowledge,
)
from ftpbridge.store.terms import check_term
from ftpbridge.web import schemas
from ftpbridge.web.auth import Key, require_writer
from ftpbridge.web.context import ApiContext, context_of
from ftpbridge.web.params import (
    MAX_PAGE,
    PAGE_HINT,
    Payload,
    boolean,
    fields_of,
    integer,
    json_value,
    page_size_hint,
    read_payload,
    text_choice,
)

router = APIRouter(tags=["orders"])

DEFAULT_PAGE_SIZE = 250
SEARCH_KEYS = ("filter", "terms", "term", "page", "page_size", "sortcol", "sortdir")
VIEW_PARAMETERS = ("search", "set_acknowledged", *SEARCH_KEYS)
# Past due for items no partner takes: the partners' default.
UNROUTED_PAST_DUE_DAYS = 3


def json_response(body: Any, status: int = 200) -> Response:
    return Response(content=encode_json(body), status_code=status, media_type="application/json")


def encode_json(body: Any) -> bytes:
    """``body`` as compact UTF-8 JSON: orjson (a page of 250 orders in a tenth of
    json.dumps's time), json.dumps for what orjson refuses (an integer over 64 bits).
    Answers hold texts, whole numbers, booleans and nulls; orjson would also write a
    float NaN as null and a datetime as ISO text, where json.dumps wrote invalid JSON or
    raised."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------- View Orders


@router.api_route(
    "/api/v1/order",
    methods=["GET", "POST"],
    summary="View Orders (Topspin)",
    response_model=schemas.ViewOrdersResponse,
    responses=schemas.ERRORS,
)
async def view_orders(request: Request, key: Key) -> Response:
    """Orders with their items, a page at a time. Parameters as form fields, a query
    string or a JSON body: ``search`` (``filter``, ``terms``, ``page``, ``page_size``,
    ``sortcol``, ``sortdir``) and ``set_acknowledged``."""
    context = context_of(request)
    payload = await read_payload(request, context.api)
    search, acknowledge = view_search(payload, key, context)
    if acknowledge:
        require_writer(key, "set_acknowledged")
    page = await run_in_threadpool(_read_page, context, search, key, acknowledge)
    return json_response(page_body(page, search))


def view_search(payload: Payload, key: ApiKey, context: ApiContext) -> tuple[OrderSearch, bool]:
    """The View Orders parameters → (the search, set_acknowledged)."""
    fields = fields_of(payload, VIEW_PARAMETERS, "View Orders")
    search_object = json_value(fields.pop("search", None), "search", context.api)
    if search_object is None:
        search_object = {}
    if not isinstance(search_object, dict):
        raise RequestError(
            "search must be a JSON object",
            hint='e.g. search={"filter":"not_shipped","page":1,"page_size":250}',
        )
    unknown = [name for name in search_object if name not in SEARCH_KEYS]
    if unknown:
        raise RequestError(
            f"unknown key {str(unknown[0])[:60]!r} in search",
            hint=f"the keys of search are: {', '.join(SEARCH_KEYS)}",
        )
    acknowledge = boolean(fields.pop("set_acknowledged", False), "set_acknowledged")
    merged = {**search_object, **fields}  # separate parameters win over search's keys
    api = context.api
    terms = _terms(merged.get("terms"), "terms", context) + _terms(
        merged.get("term"), "term", context
    )
    now = utcnow()
    cutoffs: dict[str | None, dt.datetime] = {
        name: now - dt.timedelta(days=partner.past_due_days)
        for name, partner in context.settings.partners.items()
    }
    cutoffs[None] = now - dt.timedelta(days=UNROUTED_PAST_DUE_DAYS)
    search = OrderSearch(
        filter=text_choice(merged.get("filter", "contains_merch"), "filter", FILTERS),
        terms=tuple(terms),
        page=integer(
            merged.get("page", 1), "page", minimum=1, maximum=MAX_PAGE, over_hint=PAGE_HINT
        ),
        page_size=integer(
            merged.get("page_size", DEFAULT_PAGE_SIZE),
            "page_size",
            minimum=1,
            maximum=api.max_page_size,
            over_hint=page_size_hint(api.max_page_size),
            limit_name="[api] max_page_size",
        ),
        sort_column=text_choice(merged.get("sortcol", "order_id"), "sortcol", SORT_COLUMNS),
        descending=text_choice(merged.get("sortdir", "desc"), "sortdir", ("asc", "desc")) == "desc",
        partner=key.partner,
        past_due_before=cutoffs,
    )
    return search, acknowledge


def _terms(value: Any, name: str, context: ApiContext) -> list[tuple[str, Any]]:
    """``[["key", "value"], ...]`` (the seed's shape) or ``{"key": "value"}`` → pairs."""
    value = json_value(value, name, context.api)
    if value is None:
        return []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        if len(value) == 2 and isinstance(value[0], str) and not isinstance(value[1], list):
            value = [value]  # one pair written without the outer list
        pairs = []
        for position, pair in enumerate(value):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise RequestError(
                    f'{name}[{position}] must be a pair such as ["order_id", "3"]',
                )
            pairs.append((pair[0], pair[1]))
    else:
        raise RequestError(
            f'{name} must be a list of pairs such as [["order_id", "3"]]',
        )
    if len(pairs) > 50:
        raise RequestError(f"{name} holds {len(pairs)} terms; at most 50 are taken")
    for term, _value in pairs:
        check_term(term)
    return pairs


def _read_page(
    context: ApiContext, search: OrderSearch, key: ApiKey, acknowledge: bool
) -> OrdersPage:
    seconds = context.api.request_timeout_seconds
    if acknowledge:
        with context.store.begin() as connection, statement_deadline(connection, seconds):
            return find_orders_and_acknowledge(
                connection, search, source=key.audit_source, now=utcnow()
            )
    with context.store.connect() as connection, statement_deadline(connection, seconds):
        return find_orders(connection, search)


def page_body(page: OrdersPage, search: OrderSearch) -> dict[str, Any]:
    return {
        "response": page.orders,
        "current_page": search.page,
        "page_size": search.page_size,
        "total_entries": page.total_entries,
        "total_pages": math.ceil(page.total_entries / search.page_size),
        "status": "ok",
    }


# --------------------------------------------------------------------------- one order


@router.get(
    "/api/v1/orders/{order_id}",
    summary="One order by id (ftpbridge)",
    response_model=schemas.OneOrderResponse,
    responses=schemas.ERRORS,
)
async def one_order(order_id: str, request: Request, key: Key) -> Response:
    """The order with its items in the key's scope, in View Orders' shape; 404 when there
    is no such order, or none of its items is the key's partner's."""
    context = context_of(request)
    search = OrderSearch(
        filter="all", terms=(("order_id", order_id),), page_size=1, partner=key.partner
    )
    page = await run_in_threadpool(_read_page, context, search, key, False)
    if not page.orders:
        raise RequestError(
            f"there is no order {order_id[:64]!r}",
            status=404,
            hint="check the order id; View Orders (/api/v1/order) lists the orders you can see",
        )
    return json_response({"response": page.orders[0], "status": "ok"})
