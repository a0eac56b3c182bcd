"""``ftpbridge orders load FILE``: a JSON Lines file of orders, streamed.

One pass over the file: each line is decoded and checked (:func:`order_checks.parse_order`),
and the good orders go into the store in batches, all inside one transaction. Any
problem (a line that is not JSON, an order that is not valid, an order or item id that
appears twice) is listed, the rest of the file is still checked so that every problem is
reported at once, and the transaction is rolled back: all or nothing, as before.

Memory stays flat in the file's size: a batch of orders at a time, and, to find an id
given twice, 16 bytes per order and per item (a hash and a line number in an
``array``); the ids themselves are read again only for the duplicates found. The whole
file used to be parsed into dicts first: 997 MB peak for a 111 MB file
(docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as dt
import json
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftpbridge.errors import InputFileError, OrdersFileError
from ftpbridge.files.intake import LoadResult, NotJson, json_problem
from ftpbridge.files.order_checks import (
    OrderProblem,
    _LineError,
    item_campaigns,
    parse_order,
)
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.orders import LoadSummary, upsert_orders
from ftpbridge.store.sku_catalogue import upsert_from_items

BATCH_ORDERS = 5_000
PROBLEMS_KEPT = 200  # OrdersFileError shows the first 50 and counts the rest
_BOM = b"\xef\xbb\xbf"


class _Abandon(Exception):
    """Raised inside the transaction when the file has problems: nothing is kept."""


@dataclass
class SeenIds:
    """Hashes of the ids seen and their line numbers, 16 bytes each (`orders load` and
    `skus load` find an id given twice with it, never holding the ids)."""

    hashes: array[int] = field(default_factory=lambda: array("q"))
    lines: array[int] = field(default_factory=lambda: array("q"))

    def add(self, identifier: str, line: int) -> None:
        self.hashes.append(hash(identifier))
        self.lines.append(line)

    def repeated(self) -> list[tuple[int, int]]:
        """(line, line of the first occurrence) for every id seen again, by line."""
        if not self.hashes:
            return []
        hashes = np.frombuffer(self.hashes, dtype=np.int64)
        lines = np.frombuffer(self.lines, dtype=np.int64)
        order = np.lexsort((lines, hashes))
        sorted_hashes, sorted_lines = hashes[order], lines[order]
        again = np.flatnonzero(sorted_hashes[1:] == sorted_hashes[:-1]) + 1
        if again.size == 0:
            return []
        starts = np.ones(len(sorted_hashes), dtype=bool)
        starts[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))
        first_line = sorted_lines[group_start]
        return sorted(zip(sorted_lines[again].tolist(), first_line[again].tolist(), strict=True))


@dataclass
class _Totals:
    orders: int = 0
    items: int = 0
    unrouted: int = 0
    routed: dict[str, int] = field(default_factory=dict)
    orders_new: int = 0
    orders_updated: int = 0
    items_new: int = 0
    items_updated: int = 0
    items_kept_shipped: int = 0

    def add(self, summary: LoadSummary, item_rows: list[dict[str, Any]]) -> None:
        self.orders_new += summary.orders_new
        self.orders_updated += summary.orders_updated
        self.items_new += summary.items_new
        self.items_updated += summary.items_updated
        self.items_kept_shipped += summary.items_kept_shipped
        for row in item_rows:
            partner = row["partner"]
            if partner is None:
                self.unrouted += 1
            else:
                self.routed[partner] = self.routed.get(partner, 0) + 1


def load_orders_file(
    store: Store,
    path: Path,
    partners: list[PartnerSettings],
    *,
    progress: Callable[[int, int], None] | None = None,
    now: dt.datetime | None = None,
) -> LoadResult:
    """Check ``path`` (JSON Lines) and load it in one transaction, streamed.

    ``progress(done, total)`` is called with the bytes read so far and the file's size.
    Raises :class:`OrdersFileError` listing every bad line (nothing is loaded then) and
    :class:`InputFileError` when the file cannot be read, is not UTF-8 or holds no order.
    """
    now = now or utcnow()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(
            f"cannot read {path}: {exc.strerror}", hint="check the path and its permissions"
        ) from None
    problems: list[OrderProblem] = []
    problem_count = 0
    orders, items = SeenIds(), SeenIds()
    totals = _Totals()
    try:
        with store.begin() as connection:
            batch_orders: list[dict[str, Any]] = []
            batch_items: list[dict[str, Any]] = []
            batch_campaigns: list[tuple[str, str]] = []
            # Ids in this batch: one given twice within a batch is left out of it (the end
            # of the pass reports it, and nothing is kept); across batches a repeat is an
            # update, rolled back just the same.
            batch_ids: set[str] = set()

            def flush() -> None:
                if batch_orders and not problem_count:
                    summary = upsert_orders(connection, batch_orders, batch_items, now)
                    # Items with SKU data create or update their SKUs (issue 14).
                    upsert_from_items(connection, batch_items, now, campaigns=batch_campaigns)
                    totals.add(summary, batch_items)
                batch_orders.clear()
                batch_items.clear()
                batch_campaigns.clear()
                batch_ids.clear()

            for number, record in _records(path, size, progress):
                try:
                    if isinstance(record, NotJson):
                        raise _LineError(record.reason)
                    order, order_items = parse_order(record, partners)
                except _LineError as exc:
                    problem_count += 1
                    if len(problems) < PROBLEMS_KEPT:
                        order_id = record.get("id") if isinstance(record, dict) else None
                        problems.append(
                            OrderProblem(
                                f"line {number}",
                                number,
                                None if order_id is None else str(order_id)[:64],
                                exc.field,
                                str(exc),
                            )
                        )
                    continue
                orders.add(order["id"], number)
                for row in order_items:
                    items.add(row["id"], number)
                totals.orders += 1
                totals.items += len(order_items)
                keys = ["order:" + order["id"], *("item:" + row["id"] for row in order_items)]
                if problem_count or batch_ids.intersection(keys) or len(set(keys)) < len(keys):
                    continue
                batch_ids.update(keys)
                batch_orders.append(order)
                batch_items.extend(order_items)
                batch_campaigns.extend(item_campaigns(record, order_items))
                if len(batch_orders) >= BATCH_ORDERS:
                    flush()
            flush()
            repeated = _repeated(path, orders, items)
            problem_count += len(repeated)
            if problem_count:
                problems = sorted(problems + repeated[:PROBLEMS_KEPT], key=_line_of)
                raise _Abandon
    except _Abandon:
        raise OrdersFileError(
            f"{path}: {problem_count:,} invalid line{'' if problem_count == 1 else 's'};"
            " nothing was loaded:",
            problems=[str(problem) for problem in problems[:PROBLEMS_KEPT]],
            hint="fix these lines and load the file again",
            total=problem_count,
        ) from None
    if totals.orders == 0:
        raise InputFileError(f"{path} holds no orders", hint="one JSON order per line")
    return LoadResult(
        summary=LoadSummary(
            orders_new=totals.orders_new,
            orders_updated=totals.orders_updated,
            items_new=totals.items_new,
            items_updated=totals.items_updated,
            items_kept_shipped=totals.items_kept_shipped,
        ),
        orders=totals.orders,
        items=totals.items,
        unrouted=totals.unrouted,
        routed=totals.routed,
    )


def _line_of(problem: OrderProblem) -> int:
    return problem.index


def _records(
    path: Path, size: int, progress: Callable[[int, int], None] | None
) -> Iterator[tuple[int, Any]]:
    """(line number, decoded JSON or NotJson) per non-blank line, read as bytes."""
    done = 0
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputFileError(
            f"cannot read {path}: {exc.strerror}", hint="check the path and its permissions"
        ) from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            done += len(raw)
            if progress is not None and number % 2_000 == 0:
                progress(done, size)
            line = raw[len(_BOM) :] if number == 1 and raw.startswith(_BOM) else raw
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise InputFileError(
                    f"{path} is not UTF-8 text (line {number})",
                    hint="orders files are JSON Lines in UTF-8, one order per line",
                ) from None
            try:
                yield number, json.loads(text)
            except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
                yield number, NotJson(json_problem(error))
    if progress is not None:
        progress(size, size)


def _repeated(path: Path, orders: SeenIds, items: SeenIds) -> list[OrderProblem]:
    """Orders and items given on more than one line, each named with its first line (the
    ids are read again from those lines only, which also rules out a hash collision)."""
    order_pairs, item_pairs = orders.repeated(), items.repeated()
    if not order_pairs and not item_pairs:
        return []
    wanted = {line for pair in order_pairs + item_pairs for line in pair}
    found: dict[int, tuple[str, list[str]]] = {}
    for number, record in _records(path, 0, None):
        if number in wanted and isinstance(record, dict):
            try:
                order, order_items = parse_order(record, [])
            except _LineError:
                continue
            found[number] = (order["id"], [row["id"] for row in order_items])
    problems: list[OrderProblem] = []
    seen_lines: set[int] = set()
    for line, first in order_pairs:
        if line in found and first in found and found[line][0] == found[first][0]:
            order_id = found[line][0]
            problems.append(
                OrderProblem(
                    f"line {line}",
                    line,
                    order_id,
                    "id",
                    f"order {order_id} already appears on line {first}",
                )
            )
            seen_lines.add(line)
    for line, first in item_pairs:
        if line in seen_lines or line not in found or first not in found:
            continue
        listed = found[line][1]
        if line == first:  # twice in one order
            clash = [item for index, item in enumerate(listed) if item in listed[:index]]
            if clash:
                problems.append(
                    OrderProblem(
                        f"line {line}",
                        line,
                        found[line][0],
                        "items",
                        f"item {clash[0]} appears twice in this order",
                    )
                )
                seen_lines.add(line)
            continue
        clash = [item for item in listed if item in found[first][1]]
        if clash:
            problems.append(
                OrderProblem(
                    f"line {line}",
                    line,
                    found[line][0],
                    "items",
                    f"item {clash[0]} already appears on line {first}",
                )
            )
            seen_lines.add(line)
    return problems
