"""View Orders' search terms: how each term's value is checked and becomes the parameters
of a query, and the condition the term puts on an item or on its order, written with
those parameters.

A condition never holds a value: it depends on the term alone (for ``sku_attributes``,
on how many pairs are asked for), so that the statements of a search are built once per
shape of search and kept (:mod:`ftpbridge.store.search`), each request binding its own
values. Building and compiling SQLAlchemy statements for every request was most of a term
search's time in the store (0.45 of 0.67 ms, the queries themselves 0.03 ms).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, String, and_, func, type_coerce

from ftpbridge.errors import UsageError
from ftpbridge.store.schema import items, orders

TERM_VALUE_MAX = 300
# Seed terms about things ftpbridge does not keep (spins, bundles, money).
NOT_KEPT = ("bundle_sku_id", "spin_id", "spin_name", "order_subtotal")
# What LIKE patterns escape "%", "_" and itself with (SQLAlchemy's autoescape does the same).
LIKE_ESCAPE = "/"


class SearchError(UsageError):
    """Raised when a search cannot be run as asked (unknown term, bad date); the message
    names the term and what is accepted."""


Parameters = Sequence[BindParameter[Any]]


@dataclass(frozen=True)
class Term:
    """A search term: ``values`` checks a value and gives the query's parameter values
    (SearchError naming the term when it cannot); ``condition`` is the term's condition on
    as many parameters; ``on_orders``: a condition on the order (else on the item)."""

    values: Callable[[str, Any], tuple[Any, ...]]
    condition: Callable[[Parameters], ColumnElement[bool]]
    on_orders: bool


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


def _escaped(text: str) -> str:
    """``text`` for a LIKE pattern escaped with LIKE_ESCAPE (as autoescape=True did)."""
    return (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


def _typed(parameter: BindParameter[Any]) -> ColumnElement[str]:
    """A text parameter given where SQL functions leave its type open (PostgreSQL is told
    it is text, as it was when the value was written into the statement)."""
    return type_coerce(parameter, String)


def _text(name: str, value: Any) -> tuple[str]:
    return (_text_value(name, value),)


def _pattern(name: str, value: Any) -> tuple[str]:
    return (_escaped(_text_value(name, value)),)


def _equals(column: Any, on_orders: bool) -> Term:
    return Term(_text, lambda p: column == p[0], on_orders)


def _contains(column: Any, on_orders: bool) -> Term:
    # lower(column) LIKE '%' || lower(?) || '%' ESCAPE '/', the value escaped by _pattern.
    return Term(_pattern, lambda p: column.icontains(p[0], escape=LIKE_ESCAPE), on_orders)


def _attribute_values(name: str, value: Any) -> tuple[str, ...]:
    # Stored as "Size: M; Color: Black"; {"Color": "Black"} asks for that pair.
    if isinstance(value, dict):
        if not value:
            raise SearchError(f"the term {name} is empty")
        return tuple(
            _escaped(f"{_text_value(name, key)}: {_text_value(name, part)}")
            for key, part in value.items()
        )
    return _pattern(name, value)


def _day_values(name: str, value: Any) -> tuple[dt.date]:
    return (_day(name, value),)


def _days_from(shift: int) -> Callable[[str, Any], tuple[dt.datetime]]:
    return lambda name, value: (_midnight(_day(name, value) + dt.timedelta(days=shift)),)


def _order_day(name: str, value: Any) -> tuple[dt.datetime, dt.datetime]:
    day = _day(name, value)
    return _midnight(day), _midnight(day + dt.timedelta(days=1))


ORDER_TERMS: dict[str, Term] = {
    "order_id": _equals(orders.c.id, True),
    "order_date": Term(
        _order_day,
        lambda p: and_(orders.c.created_at >= p[0], orders.c.created_at < p[1]),
        True,
    ),
    "order_date_before": Term(_days_from(0), lambda p: orders.c.created_at < p[0], True),
    "order_date_after": Term(_days_from(1), lambda p: orders.c.created_at >= p[0], True),
    "country": Term(
        lambda name, value: (_text_value(name, value).upper(),),
        lambda p: func.upper(orders.c.ship_country) == _typed(p[0]),
        True,
    ),
    "fan_email": Term(
        _text, lambda p: func.lower(orders.c.email) == func.lower(_typed(p[0])), True
    ),
    # The store keeps one name per order, the shipping name: fan and shipping names are it.
    "fan_first_name": _contains(orders.c.ship_firstname, True),
    "fan_last_name": _contains(orders.c.ship_lastname, True),
    "shipping_first_name": _contains(orders.c.ship_firstname, True),
    "shipping_last_name": _contains(orders.c.ship_lastname, True),
    "shipping_postal_code": Term(
        lambda name, value: (_text_value(name, value).replace(" ", "").upper(),),
        lambda p: func.upper(func.replace(orders.c.ship_postal_code, " ", "")) == _typed(p[0]),
        True,
    ),
}
ITEM_TERMS: dict[str, Term] = {
    "sku_id": _equals(items.c.sku_id, False),
    "factory_sku": _equals(items.c.warehouse_sku, False),
    "sku_upc": _equals(items.c.upc, False),
    "product_id": _equals(items.c.product_id, False),
    "product_description": _contains(items.c.product_name, False),
    "sku_attributes": Term(
        _attribute_values,
        lambda p: and_(*(items.c.attributes.icontains(one, escape=LIKE_ESCAPE) for one in p)),
        False,
    ),
    "order_ship_date": Term(_day_values, lambda p: items.c.shipped_date == p[0], False),
    "order_ship_date_before": Term(_day_values, lambda p: items.c.shipped_date < p[0], False),
    "order_ship_date_after": Term(_day_values, lambda p: items.c.shipped_date > p[0], False),
}
TERMS: dict[str, Term] = {**ORDER_TERMS, **ITEM_TERMS}


def check_term(name: str) -> Term:
    """The term ``name``; SearchError naming it unless it is a term the store answers."""
    term = TERMS.get(name)
    if term is not None:
        return term
    accepted = ", ".join(TERMS)
    if name in NOT_KEPT:
        raise SearchError(
            f"the term {name} cannot be answered: ftpbridge keeps no spins, bundles or totals",
            hint=f"search with one of: {accepted}",
        )
    raise SearchError(f"unknown search term {name[:60]!r}", hint=f"use one of: {accepted}")
