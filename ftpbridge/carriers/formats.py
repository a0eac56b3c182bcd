"""Tracking-number formats, loaded as data from the vendored tracking_number_data corpus.

``data/couriers/*.json`` is Jeff Keen's tracking_number_data (MIT licence, ``data/LICENSE``;
``data/SOURCE`` says which version), copied unchanged by ``scripts/refresh-carriers``. Each
file is one courier; each of its ``tracking_numbers`` entries is one format: a regex with
named groups (``SerialNumber``, ``CheckDigit``, ...), a check-digit algorithm with its
parameters (``checks.py``), an optional rule that puts digits in front of the serial number
before the check, a tracking URL template, and valid and invalid sample numbers.

The corpus writes named groups the Ruby/JavaScript way, ``(?<Name>...)``; Python's is
``(?P<Name>...)``, which the loader rewrites. Everything else is used as it stands, and
anything the loader does not understand (a new validation key, regex syntax outside
``patterns.py``'s subset, an unknown check-digit algorithm) fails loudly, so a refresh that
brings one in is caught by ``scripts/refresh-carriers`` and the tests, not at run time.

``data/supplement/*.json`` holds ftpbridge's own additions in the same schema, with their own
samples, for numbers the corpus does not describe: today one, the 20-digit GS1 form of an
SSCC (application identifier ``00`` in front), which FedEx Ground labels carry. The refresh
script leaves it alone; the tests treat its samples like the corpus's.

The corpus's ``additional`` lookups (service types, S10 country codes) are descriptive;
the one validation that uses them, S10's "the country code names a postal operator", is
covered by the carrier table (``names.py``): each postal carrier accepts S10 numbers of
its own country only.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ftpbridge.carriers.checks import Check, build_check
from ftpbridge.carriers.patterns import PatternError, parse

_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z_])")
_KNOWN_VALIDATION = {"checksum", "serial_number_format", "additional"}


class CorpusError(ValueError):
    """Raised when a vendored corpus file holds something the loader cannot use."""


@dataclass(frozen=True)
class PrependIf:
    """The corpus's ``serial_number_format.prepend_if``: when the serial number matches
    ``pattern``, ``content`` goes in front of it before the check digit is computed."""

    pattern: str
    content: str


@dataclass(frozen=True, eq=False)
class TrackingFormat:
    """One format of the corpus. ``key`` is its ``id``, or for the few entries without
    one, its name in snake case (``ups_waybill``)."""

    key: str
    courier: str
    name: str
    pattern: str
    check: Check | None
    prepend_if: PrependIf | None
    tracking_url: str | None
    valid: tuple[str, ...]
    invalid: tuple[str, ...]


def python_regex(pattern: str | list[str]) -> str:
    """The corpus's regex (a string or a list of parts) in Python syntax."""
    joined = pattern if isinstance(pattern, str) else "".join(pattern)
    return _NAMED_GROUP.sub("(?P<", joined)


def _key(entry: dict[str, Any]) -> str:
    if entry.get("id"):
        return str(entry["id"])
    return re.sub(r"[^a-z0-9]+", "_", str(entry["name"]).lower()).strip("_")


def _format(courier: str, entry: dict[str, Any], source: str) -> TrackingFormat:
    key = _key(entry)
    where = f"{source}: format {key!r}"
    validation = entry.get("validation") or {}
    unknown = set(validation) - _KNOWN_VALIDATION
    if unknown:
        raise CorpusError(f"{where}: unknown validation keys {sorted(unknown)}")
    pattern = python_regex(entry["regex"])
    try:
        parse(pattern)
        check = build_check(validation["checksum"]) if "checksum" in validation else None
        prepend = None
        serial_format = validation.get("serial_number_format")
        if serial_format is not None:
            if set(serial_format) != {"prepend_if"}:
                raise CorpusError(f"serial_number_format {serial_format!r} is not prepend_if")
            rule = serial_format["prepend_if"]
            prepend = PrependIf(python_regex(rule["matches_regex"]), str(rule["content"]))
            parse(prepend.pattern)
    except (PatternError, ValueError, KeyError, TypeError) as error:
        raise CorpusError(f"{where}: {error}") from error
    if check is not None and "(?P<CheckDigit>" not in pattern:
        raise CorpusError(f"{where}: a check digit algorithm but no CheckDigit group")
    if check is not None and "(?P<SerialNumber>" not in pattern:
        raise CorpusError(f"{where}: a check digit algorithm but no SerialNumber group")
    samples = entry.get("test_numbers") or {}
    return TrackingFormat(
        key=key,
        courier=courier,
        name=str(entry["name"]),
        pattern=pattern,
        check=check,
        prepend_if=prepend,
        tracking_url=entry.get("tracking_url") or None,
        valid=tuple(samples.get("valid", ())),
        invalid=tuple(samples.get("invalid", ())),
    )


def data_folder() -> Path:
    """The folder of the vendored data (inside the installed package)."""
    return Path(str(resources.files("ftpbridge.carriers") / "data"))


@functools.cache
def load_formats(folder: Path | None = None) -> tuple[TrackingFormat, ...]:
    """Every format of every courier file in ``folder``'s ``couriers/`` (the vendored
    corpus by default) and then ``supplement/``, in file-name order and each file's own
    order. CorpusError names the file and the format when one cannot be used."""
    folder = folder or data_folder()
    files = sorted((folder / "couriers").glob("*.json"))
    if not files:
        raise CorpusError(f"no courier files in {folder / 'couriers'}")
    files += sorted((folder / "supplement").glob("*.json"))
    formats: list[TrackingFormat] = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        courier = str(data["courier_code"])
        source = f"{path.parent.name}/{path.name}"
        formats.extend(_format(courier, entry, source) for entry in data["tracking_numbers"])
    keys = [fmt.key for fmt in formats]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise CorpusError(f"format keys used twice in {folder}: {duplicates}")
    return tuple(formats)


def formats_by_key() -> dict[str, TrackingFormat]:
    """The vendored formats by key."""
    return {fmt.key: fmt for fmt in load_formats()}
