"""``ftpbridge skus load FILE``: the shop's SKU catalogue, CSV or JSON Lines, into the store.

One SKU per line (JSON Lines: an object in the shape of a View SKUs entry; CSV: a header
row naming the columns, read by the careful reader of :mod:`ftpbridge.files.reading`).
Fields (any may be left out but ``id``): ``id`` (the shop's sku id), ``product_name``,
``product_id``, ``attributes`` (an object such as ``{"Size": "M"}``, or ``Size: M; ...``
text), ``factory_sku`` (the warehouse's SKU), ``upc``, ``weight`` and ``weight_unit``
(lb, oz, kg, g; or ``weight`` as ``{"US": "1.5 lb"}`` or ``"1.5 lb"``), ``available``,
``in_stock_quantity``, ``reserve_quantity``, ``max_backorder_quantity``, ``partner`` (a
configured partner; without it the partners' ``skus`` globs route the SKU, as for order
items), ``campaign_id`` (one or several). A field left out keeps the SKU's value.

The whole file loads in one transaction, or nothing does and the bad lines are listed
(the first PROBLEMS_KEPT, and how many). Streamed like ``orders load``
(:mod:`ftpbridge.files.orders_file`): one pass reads and checks the lines and writes
batches of BATCH_ROWS SKUs inside the transaction; an id given twice is found from 16
bytes per SKU (a hash and a line number), the ids read again only from the lines found.
Memory stays flat in the file's size (docs/benchmarks.md: ``python -m bench.skus_load``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftpbridge.errors import CatalogueFileError, InputFileError
from ftpbridge.files.intake import NotJson, json_lines
from ftpbridge.files.layouts import normalise_header
from ftpbridge.files.orders_file import SeenIds
from ftpbridge.files.reading import CsvShape, inspect_bytes, iter_chunks, map_headers, read_header
from ftpbridge.files.routing import route
from ftpbridge.settings import PartnerSettings
from ftpbridge.store import Store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.sku_catalogue import CatalogueSummary, upsert_catalogue
from ftpbridge.store.skus import MAX_QUANTITY, WEIGHT_UNITS
from ftpbridge.wording import plural

TEXT_LIMITS = {
    "id": 64,
    "product_name": 500,
    "product_id": 64,
    "attributes": 500,
    "factory_sku": 100,
    "upc": 64,
}
QUANTITIES = ("in_stock_quantity", "reserve_quantity", "max_backorder_quantity")
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("sku id", "sku", "id"),
    "product_name": ("product name", "name", "title"),
    "product_id": ("product id",),
    "attributes": ("attributes", "sku attributes"),
    "factory_sku": ("factory sku", "warehouse sku"),
    "upc": ("upc", "sku upc", "barcode"),
    "weight": ("weight",),
    "weight_unit": ("weight unit",),
    "available": ("available",),
    "in_stock_quantity": ("in stock quantity", "in stock", "on hand", "quantity"),
    "reserve_quantity": ("reserve quantity", "reserve"),
    "max_backorder_quantity": ("max backorder quantity", "backorder", "max backorder"),
    "partner": ("partner", "fulfiller"),
    "campaign_id": ("campaign id", "campaign ids", "campaigns"),
}
# View SKUs fields that are read-only or not kept: accepted in a line and ignored, so that
# an API response can be loaded back.
IGNORED = (
    "sold_unshipped_quantity",
    "sold_shipped_quantity",
    "artist_id",
    "artist_name",
    "poster_image",
    "updated_at",
)
WEIGHT_MAX = 1_000_000.0
BATCH_ROWS = 5_000  # SKUs written at a time, inside the one transaction
CSV_CHUNK_ROWS = 5_000  # CSV rows read at a time
PROBLEMS_KEPT = 50  # bad lines kept to show (CatalogueFileError); the rest are counted
_TRUE = ("true", "yes", "1", "y")
_FALSE = ("false", "no", "0", "n")
_MAX_CAMPAIGNS = 50


class _FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _FieldError(field, f"must be text, not {_shown(value)}")
    text = str(value).strip()
    if len(text) > TEXT_LIMITS[field]:
        raise _FieldError(field, f"is longer than {TEXT_LIMITS[field]} characters")
    return text


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _quantity(value: Any, field: str) -> int:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\+?\d{1,12}(\.0*)?", value.strip()):
        number = float(value.strip())
    if number is None or number != int(number):
        raise _FieldError(field, f"must be a whole number, not {_shown(value)}")
    if not 0 <= number <= MAX_QUANTITY:
        raise _FieldError(field, f"must be from 0 to {MAX_QUANTITY:,}, not {_shown(value)}")
    return int(number)


def _boolean(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _FieldError(field, f"must be true or false, not {_shown(value)}")


def _weight(record: Mapping[str, Any]) -> dict[str, Any]:
    """``weight`` and ``weight_unit`` → {"weight": float, "weight_unit": unit}."""
    value, unit = record.get("weight"), record.get("weight_unit")
    if isinstance(value, Mapping):  # View SKUs' {"US": "1.5 lb", "SI": "680.38 g"}
        value = value.get("US") or value.get("SI")
    if isinstance(value, str) and unit in (None, ""):
        match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*", value)
        if match:
            value, unit = match.group(1), match.group(2)
    if value in (None, ""):
        if unit not in (None, ""):
            raise _FieldError("weight_unit", "is given without a weight")
        return {}
    try:
        weight = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        weight = -1.0
    if not 0 <= weight <= WEIGHT_MAX:
        raise _FieldError(
            "weight", f"must be a number from 0 to {WEIGHT_MAX:,.0f}, not {_shown(value)}"
        )
    if not isinstance(unit, str) or unit.strip().lower() not in WEIGHT_UNITS:
        raise _FieldError(
            "weight_unit", f"must be one of {', '.join(WEIGHT_UNITS)}, not {_shown(unit)}"
        )
    return {"weight": weight, "weight_unit": unit.strip().lower()}


def _attributes(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        value = "; ".join(f"{key}: {val}" for key, val in value.items())
    if not isinstance(value, str):
        raise _FieldError("attributes", 'must be an object such as {"Size": "M"} or text')
    return _text(value, "attributes")


def _campaigns(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    values = value if isinstance(value, list) else re.split(r"[,;\s]+", str(value).strip())
    campaigns = tuple(
        str(item).strip() for item in values if not isinstance(item, bool) and str(item).strip()
    )
    if len(campaigns) > _MAX_CAMPAIGNS or any(len(item) > 64 for item in campaigns):
        raise _FieldError("campaign_id", f"must be up to {_MAX_CAMPAIGNS} ids of 64 characters")
    return campaigns


def sku_row(record: Mapping[str, Any], partners: Sequence[PartnerSettings]) -> dict[str, Any]:
    """One catalogue line → the row upsert_catalogue takes. Raises _FieldError."""
    unknown = [key for key in record if key not in ALIASES and key not in IGNORED]
    if unknown:
        raise _FieldError(
            str(unknown[0])[:60], "is not a SKU field (see ftpbridge skus load --help)"
        )
    row: dict[str, Any] = {"id": _text(record.get("id"), "id")}
    if not row["id"]:
        raise _FieldError("id", "is missing (the shop's sku id)")
    for field in ("product_name", "product_id", "factory_sku", "upc"):
        if field in record:
            row[field] = _text(record[field], field)
    if "attributes" in record:
        row["attributes"] = _attributes(record["attributes"])
    row.update(_weight(record))
    if record.get("available") not in (None, ""):
        row["available"] = _boolean(record["available"], "available")
    for field in QUANTITIES:
        if record.get(field) not in (None, ""):
            row[field] = _quantity(record[field], field)
    names = {partner.name for partner in partners}
    partner = record.get("partner")
    if partner not in (None, ""):
        if partner not in names:
            known = ", ".join(sorted(names)) or "none"
            raise _FieldError("partner", f"{_shown(partner)} is not a configured partner ({known})")
        row["partner"] = partner
    else:
        routed = route(partners, row.get("factory_sku", ""), row["id"])
        if routed is not None:
            row["partner"] = routed
    row["campaign_ids"] = _campaigns(record.get("campaign_id"))
    return row


@dataclass(frozen=True)
class CatalogueLoad:
    summary: CatalogueSummary
    skus: int


@dataclass
class _Problems:
    """The bad lines: the first PROBLEMS_KEPT as (line number, text), and how many."""

    kept: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    count: int = 0

    def add(self, number: int, text: str) -> None:
        self.count += 1
        if len(self.kept) < PROBLEMS_KEPT:
            self.kept.append((number, text))


@dataclass
class _Totals:
    skus: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    stock_changed: int = 0

    def add(self, summary: CatalogueSummary) -> None:
        self.new += summary.new
        self.updated += summary.updated
        self.unchanged += summary.unchanged
        self.stock_changed += summary.stock_changed


class _Abandon(Exception):
    """Raised inside the transaction when the file has problems: nothing is kept."""


def load_catalogue(
    store: Store,
    path: Path,
    partners: Sequence[PartnerSettings],
    *,
    max_file_bytes: int,
    now: dt.datetime | None = None,
    batch_rows: int = BATCH_ROWS,
) -> CatalogueLoad:
    """Check ``path`` and load it in one transaction, streamed (see the module doc).
    Raises CatalogueFileError (bad lines: the first PROBLEMS_KEPT and how many),
    InputFileError (unreadable, too large, no SKU)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
    if size > max_file_bytes:
        raise InputFileError(
            f"{path.name} is {size / 1e6:.1f} MB, over the limit of {max_file_bytes / 1e6:.0f} MB"
            " (max_file_bytes); nothing was loaded",
            hint="split the catalogue, or raise [daemon] max_file_bytes",
        )
    now = now or utcnow()
    source = f"command:skus load {path.name}"
    problems = _Problems()
    ids = SeenIds()
    totals = _Totals()
    try:
        with store.begin() as connection:
            batch: list[dict[str, Any]] = []
            # An id given twice within a batch is left out of it (the end of the pass
            # reports it, and nothing is kept); across batches a repeat is an update,
            # rolled back just the same.
            batch_ids: set[str] = set()

            def flush() -> None:
                if batch and not problems.count:
                    totals.add(upsert_catalogue(connection, batch, source=source, now=now))
                batch.clear()
                batch_ids.clear()

            for number, where, record in _records(path):
                if isinstance(record, str):
                    problems.add(number, f"{where}: {record}")
                    continue
                try:
                    row = sku_row(record, partners)
                except _FieldError as exc:
                    problems.add(number, f"{where}: {exc}")
                    continue
                ids.add(row["id"], number)
                totals.skus += 1
                if problems.count or row["id"] in batch_ids:
                    continue
                batch_ids.add(row["id"])
                batch.append(row)
                if len(batch) >= batch_rows:
                    flush()
            flush()
            repeated = _repeated(path, ids)
            if problems.count or repeated:
                raise _Abandon
    except _Abandon:
        count = problems.count + len(repeated)
        kept = sorted(problems.kept + repeated[:PROBLEMS_KEPT])[:PROBLEMS_KEPT]
        raise CatalogueFileError(
            f"{path}: {plural(count, 'invalid line')}; nothing was loaded:",
            problems=[text for _number, text in kept],
            total=count,
            hint="fix these lines and load the file again",
        ) from None
    if not totals.skus:
        raise InputFileError(f"{path} holds no SKUs", hint="one SKU per line, with its id")
    summary = CatalogueSummary(totals.new, totals.updated, totals.unchanged, totals.stock_changed)
    return CatalogueLoad(summary, totals.skus)


def _repeated(path: Path, ids: SeenIds) -> list[tuple[int, str]]:
    """SKUs given on more than one line, each named with its first line (the ids are read
    again from those lines only, which also rules out a hash collision)."""
    pairs = ids.repeated()
    if not pairs:
        return []
    wanted = {line for pair in pairs for line in pair}
    found: dict[int, tuple[str, str]] = {}  # line number -> (where, sku id)
    for number, where, record in _records(path):
        if number in wanted and isinstance(record, dict):
            try:
                found[number] = (where, _text(record.get("id"), "id"))
            except _FieldError:
                continue
    return [
        (line, f"{found[line][0]}: SKU {found[line][1]} already appears on {found[first][0]}")
        for line, first in pairs
        if line in found and first in found and found[line][1] == found[first][1]
    ]


def _records(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line or row number, where, the line as a dict or a reason text) for each line of
    the file."""
    with path.open("rb") as handle:
        start = handle.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"{"):
        for where, number, record in json_lines(path):
            if isinstance(record, NotJson):
                yield number, where, record.reason
            elif not isinstance(record, dict):
                yield number, where, "must be a JSON object (one SKU per line)"
            else:
                yield number, where, record
        return
    facts = inspect_bytes(path)
    delimiter, headers, skip = read_header(path, facts, expected=("id",))
    accepted = {
        normalise_header(alias): field
        for field, aliases in ALIASES.items()
        for alias in (field, *aliases)
    }
    positions = map_headers(path, headers, accepted)
    if "id" not in positions:
        raise InputFileError(
            f"{path.name} has no id column (columns found: "
            + (", ".join(repr(header) for header in headers[:30]) or "none")
            + ")",
            hint="name the shop's sku id column id or sku_id; or send JSON Lines",
        )
    shape = CsvShape(facts.encoding, delimiter, tuple(headers), positions, skip=skip)
    for chunk in iter_chunks(path, shape, chunk_rows=CSV_CHUNK_ROWS, fields=tuple(positions)):
        for record in chunk.to_dict("records"):
            row_number = int(record.pop("row"))
            values = {key: value for key, value in record.items() if value != ""}
            yield row_number, f"row {row_number}", values
