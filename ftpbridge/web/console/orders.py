"""The Orders page: items found by order id, item id, e-mail or tracking number, with the
``orders list`` filters; an item with its audit trail (every change, its source, its time)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ftpbridge.store.engine import utcnow
from ftpbridge.store.reads import (
    ITEM_FILTERS,
    SEARCH_FIELDS,
    find_items,
    item_details,
    item_history,
)
from ftpbridge.web.console.access import SignedIn
from ftpbridge.web.console.rendering import ConsoleProblem, console_of, render

router = APIRouter()

RESULTS = 100
HISTORY = 500
MAX_TERM = 320
FIELD_LABELS = {
    "": "Any of these",
    "order_id": "Order id",
    "item_id": "Item id",
    "email": "E-mail",
    "tracking_number": "Tracking number",
}


@router.get("/console/orders", response_class=HTMLResponse)
def orders_page(
    request: Request,
    session: SignedIn,
    q: str = "",
    field: str = "",
    filter: str = "all",
    partner: str = "",
) -> Response:
    context = console_of(request)
    term = q.strip()
    if len(term) > MAX_TERM:
        raise ConsoleProblem(
            f"The search is {len(term)} characters long; at most {MAX_TERM} are looked for.",
            "Search for an order id, item id, e-mail or tracking number.",
        )
    if field and field not in SEARCH_FIELDS:
        raise ConsoleProblem(
            f"{field[:40]!r} is not something the Orders page searches by.",
            "Choose order id, item id, e-mail or tracking number.",
        )
    if filter not in ITEM_FILTERS:
        raise ConsoleProblem(
            f"{filter[:40]!r} is not a filter of the Orders page.",
            f"Choose one of: {', '.join(ITEM_FILTERS)}.",
        )
    if partner and partner not in context.settings.partners:
        raise ConsoleProblem(
            f"There is no partner named {partner[:60]!r}.",
            f"Choose one of: {', '.join(sorted(context.settings.partners))}.",
        )
    now = utcnow()
    cutoffs = {
        name: now - dt.timedelta(days=settings.past_due_days)
        for name, settings in context.settings.partners.items()
    }
    with context.store.connect() as connection:
        rows, more = find_items(
            connection,
            field=field or None,
            value=term,
            partner=partner or None,
            status_filter=filter,
            past_due_before=cutoffs,
            limit=RESULTS,
        )
    return render(
        request,
        "orders.html",
        session,
        page="orders",
        title="Orders",
        rows=rows,
        more=more,
        q=term,
        field=field,
        filter=filter,
        partner=partner,
        fields=FIELD_LABELS,
        filters=ITEM_FILTERS,
        partners=sorted(context.settings.partners),
        limit=RESULTS,
    )


@router.get("/console/orders/item", response_class=HTMLResponse)
def item_page(request: Request, session: SignedIn, id: str = "") -> Response:
    context = console_of(request)
    with context.store.connect() as connection:
        item = item_details(connection, id[:MAX_TERM]) if id else None
        history = item_history(connection, id, HISTORY) if item else []
    if item is None:
        raise ConsoleProblem(
            f"There is no item {id[:64]!r}.",
            "Search for it on the Orders page by order id, e-mail or tracking number.",
            status=404,
        )
    return render(
        request,
        "item.html",
        session,
        page="orders",
        title=f"Item {item['item_id']}",
        item=item,
        history=history,
        limit=HISTORY,
    )
