"""CSV layouts: which columns a partner's file has, in which order, under which headers.

A layout is a TOML file (``schemas/NAME.toml``) with one ``[[columns]]`` entry per column:
``header`` (written on export), ``field`` (the store field, one of :data:`FIELDS`) and
``aliases`` (other headers accepted on import). Which columns the fulfiller fills in
follows from their fields (shipped, shipped_date, carrier, tracking_number); a
``fulfiller = true`` key, which layouts once carried, is still accepted and changes nothing.
Layouts are looked up in the configured ``schemas_dir`` first, then among the layouts
shipped with ftpbridge.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ftpbridge.errors import ConfigError, InputFileError
from ftpbridge.wording import quoted

# Fields a layout column can come from.
FIELDS = (
    "order_id",
    "order_date",
    "item_id",
    "sku_id",
    "warehouse_sku",
    "upc",
    "product_name",
    "product_type",
    "attributes",
    "quantity",
    "ship_name",
    "ship_firstname",
    "ship_lastname",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_state",
    "ship_postal_code",
    "ship_country",
    "ship_phone",
    "email",
    "shipped",
    "shipped_date",
    "carrier",
    "tracking_number",
)
# What an updated file must have; a fulfiller may send back only these.
REQUIRED_ON_IMPORT = (
    "order_id",
    "item_id",
    "shipped",
    "shipped_date",
    "carrier",
    "tracking_number",
)

# Headers every layout accepts on import for the fields import reads, whatever the layout.
COMMON_ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("order id", "order", "order number", "order no", "order #", "orderid"),
    "item_id": ("item id", "item", "order item id", "line item id", "item #", "itemid"),
    "shipped": ("shipped", "shipped status", "is shipped"),
    "shipped_date": ("shipped date", "ship date", "date shipped", "shipping date"),
    "carrier": ("carrier", "shipping company", "shipping carrier", "tracking type", "shipper"),
    "tracking_number": (
        "tracking number",
        "tracking #",
        "tracking",
        "tracking no",
        "tracking code",
        "tracking info",
        "tracking id",
    ),
}


def normalise_header(header: str) -> str:
    """A header as it is compared: trimmed, case-folded, ``_``/``-`` as spaces, one space."""
    text = header.replace("\ufeff", "").replace("_", " ").replace("-", " ")
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layout:
    name: str
    columns: tuple[Column, ...]
    source: str

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def accepted_headers(self) -> dict[str, str]:
        """Normalised header → field, for import (this layout's names, then common ones)."""
        accepted: dict[str, str] = {}
        for field, aliases in COMMON_ALIASES.items():
            for alias in (field, *aliases):
                accepted.setdefault(normalise_header(alias), field)
        for column in self.columns:
            for name in (column.header, column.field, *column.aliases):
                accepted[normalise_header(name)] = column.field
        return accepted


def match_headers(
    name: str,
    headers: Sequence[str],
    accepted: Mapping[str, str],
    *,
    required: Sequence[str] = REQUIRED_ON_IMPORT,
) -> dict[str, int]:
    """Map a file's header cells to fields: field → column position (0-based).

    ``name``: the file's name, for messages; ``accepted``: normalised header → field
    (:meth:`Layout.accepted_headers`); ``required``: the fields that must be there (an
    updated file's by default). Raises :class:`InputFileError` when a required column
    is missing or two columns mean the same field. A CSV header and a workbook's header row
    are matched by this one function, so both give the same messages.
    """
    positions: dict[str, int] = {}
    clashes: list[str] = []
    for position, header in enumerate(headers):
        field = accepted.get(normalise_header(header))
        if field is None:
            continue
        if field in positions:
            clashes.append(
                f"columns {headers[positions[field]]!r} and {header!r} both mean {field}"
            )
            continue
        positions[field] = position
    missing = [field for field in required if field not in positions]
    if missing:
        found = ", ".join(repr(h.strip()) for h in headers[:30]) or "none"
        raise InputFileError(
            f"{name} lacks the required column(s) {', '.join(missing)} (columns found: {found})",
            hint="keep the header row of the exported file; the fulfiller columns may be empty"
            " but must be there",
        )
    if clashes:
        raise InputFileError(
            f"{name}: " + "; ".join(clashes),
            hint="remove or rename one of the two columns",
        )
    return positions


def _parse(text: str, source: str) -> Layout:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the layout {source} is not valid TOML: {exc}") from None
    problems: list[str] = []
    unknown_top = set(data) - {"name", "description", "columns"}
    problems.extend(f"{key}: unknown key" for key in sorted(unknown_top))
    columns: list[Column] = []
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        problems.append("columns: needs at least one [[columns]] entry")
        raw_columns = []
    seen_headers: set[str] = set()
    for index, raw in enumerate(raw_columns, start=1):
        where = f"columns[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a table")
            continue
        unknown = set(raw) - {"header", "field", "fulfiller", "aliases"}
        problems.extend(f"{where}.{key}: unknown key" for key in sorted(unknown))
        header, field = raw.get("header"), raw.get("field")
        if not isinstance(header, str) or not header.strip():
            problems.append(f"{where}.header: must be a non-empty string")
            continue
        if field not in FIELDS:
            problems.append(
                f"{where}.field: {quoted(field)} is not a store field"
                f" (use one of: {', '.join(FIELDS)})"
            )
            continue
        if normalise_header(header) in seen_headers:
            problems.append(f"{where}.header: {quoted(header)} appears twice")
        seen_headers.add(normalise_header(header))
        aliases = raw.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            problems.append(f"{where}.aliases: must be a list of strings")
            aliases = []
        columns.append(Column(header, field, tuple(aliases)))
    fields = {column.field for column in columns}
    missing = [field for field in REQUIRED_ON_IMPORT if field not in fields]
    if columns and missing:
        problems.append(f"columns: the layout must include {', '.join(missing)}")
    if problems:
        raise ConfigError(f"the layout {source} has problems:", problems=problems)
    return Layout(str(data.get("name", Path(source).stem)), tuple(columns), source)


def available(schemas_dir: Path | None = None) -> list[str]:
    """Names of the layouts that can be used."""
    names = {path.name[:-5] for path in _builtin_dir().iterdir() if path.name.endswith(".toml")}
    if schemas_dir is not None and schemas_dir.is_dir():
        names |= {path.stem for path in schemas_dir.glob("*.toml")}
    return sorted(names)


def _builtin_dir() -> Traversable:
    return resources.files("ftpbridge._schemas")


@lru_cache(maxsize=32)
def load_layout(name: str, schemas_dir: Path | None = None) -> Layout:
    """The layout called ``name``. Raises :class:`ConfigError` naming the layouts there are."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(
            f"layout name {quoted(name)} may contain only letters, digits, '_', '-', '.'"
        )
    if schemas_dir is not None:
        candidate = schemas_dir / f"{name}.toml"
        if candidate.is_file():
            return _parse(candidate.read_text(encoding="utf-8"), str(candidate))
    builtin = _builtin_dir() / f"{name}.toml"
    if builtin.is_file():
        return _parse(builtin.read_text(encoding="utf-8"), f"schemas/{name}.toml")
    raise ConfigError(
        f"no CSV layout named {quoted(name)} (available: {', '.join(available(schemas_dir))})",
        hint="set 'schema' in the partner's table to one of those, or add schemas/NAME.toml",
    )
