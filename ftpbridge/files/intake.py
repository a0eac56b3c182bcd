"""Getting orders in: checked orders (:mod:`ftpbridge.files.order_checks`) stored in one
transaction with their SKUs, and JSON Lines files of orders read and checked.

The whole file loads in one transaction, or nothing does and every bad line is listed.
The HTTP route (``web/intake``), the ``[orders] inbox`` folder (``files/inbox``) and
``orders load`` (``files/orders_file``, streamed) all come here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ftpbridge.errors import InputFileError, OrdersFileError
from ftpbridge.files.order_checks import OrderProblem, ParsedOrders, parse_orders
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.orders import LoadSummary, upsert_orders
from ftpbridge.store.sku_catalogue import upsert_from_items
from ftpbridge.wording import plural


@dataclass(frozen=True)
class LoadResult:
    summary: LoadSummary
    orders: int
    items: int
    unrouted: int
    routed: dict[str, int]


def store_orders(
    store: Store,
    parsed: ParsedOrders,
    *,
    also: Callable[[Connection], None] | None = None,
) -> LoadResult:
    """Load parsed orders (no problems) in one transaction: new ones inserted, known ones
    updated (a load never un-ships). ``also`` runs in the same transaction (a ledger row)."""
    with store.begin() as connection:
        now = utcnow()
        summary = upsert_orders(connection, parsed.orders, parsed.items, now)
        # Items with SKU data create or update their SKUs (issue 14).
        upsert_from_items(connection, parsed.items, now, campaigns=parsed.campaigns)
        if also is not None:
            also(connection)
    routed: dict[str, int] = {}
    for row in parsed.items:
        if row["partner"] is not None:
            routed[row["partner"]] = routed.get(row["partner"], 0) + 1
    return LoadResult(
        summary=summary,
        orders=len(parsed.orders),
        items=len(parsed.items),
        unrouted=sum(1 for row in parsed.items if row["partner"] is None),
        routed=routed,
    )


def json_lines(path: Path) -> Iterator[tuple[str, int, Any]]:
    """(``"line N"``, N, decoded JSON) for each non-blank line of a JSON Lines file; a line
    that is not JSON yields a NotJson in place of its value. Raises InputFileError when
    the file cannot be read or is not UTF-8."""
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"line {number}", number, json.loads(line)
                except (ValueError, RecursionError) as exc:  # JSONDecodeError is one
                    yield f"line {number}", number, NotJson(json_problem(exc))
        except UnicodeDecodeError:
            raise InputFileError(
                f"{path} is not UTF-8 text",
                hint="orders files are JSON Lines in UTF-8, one order per line",
            ) from None


@dataclass(frozen=True)
class NotJson:
    """A line that is not JSON we can read, and why (:func:`json_problem`)."""

    reason: str


def json_problem(error: ValueError | RecursionError) -> str:
    """Why ``json.loads`` refused a line, in words: bad JSON names its column; a number of
    over 4,300 digits (Python's limit, a ValueError) or nesting deeper than the interpreter
    allows (RecursionError) is refused as such, never as an internal error."""
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg}, column {error.colno})"
    if isinstance(error, RecursionError):
        return "not valid JSON we can read (nested too deeply)"
    return "not valid JSON we can read (a number of more than 4,300 digits)"


def load_orders(
    store: Store,
    path: Path,
    partners: list[PartnerSettings],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Validate ``path`` (JSON Lines) and load it in one transaction, streamed (see
    :mod:`ftpbridge.files.orders_file`; ``progress(bytes read, size)``).

    Raises :class:`OrdersFileError` listing every bad line (nothing is loaded then) and
    :class:`InputFileError` when the file cannot be read.
    """
    from ftpbridge.files.orders_file import load_orders_file  # it builds on this module

    return load_orders_file(store, path, partners, progress=progress)


def parse_file_orders(path: Path, partners: list[PartnerSettings]) -> ParsedOrders:
    """Every order of a JSON Lines file, checked; OrdersFileError listing the bad lines."""
    bad_json: list[OrderProblem] = []

    def readable() -> Iterator[tuple[str, int, Any]]:
        for where, index, record in json_lines(path):
            if isinstance(record, NotJson):
                bad_json.append(OrderProblem(where, index, None, None, record.reason))
                continue
            yield where, index, record

    parsed = parse_orders(readable(), partners)
    problems = sorted(bad_json + parsed.problems, key=lambda problem: problem.index)
    if problems:
        raise OrdersFileError(
            f"{path}: {plural(len(problems), 'invalid line')}; nothing was loaded:",
            problems=[str(problem) for problem in problems],
            hint="fix these lines and load the file again",
        )
    return parsed
