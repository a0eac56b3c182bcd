"""A per-value reference for ftpbridge.carriers, the slow and obvious way.

It reads the vendored JSON itself, matches with ``re.fullmatch`` and computes check digits
one number at a time with ports of the corpus's Ruby reference (CHECKSUM_ALGORITHMS.md and
the luhn of its spec helper), sharing no code with ftpbridge.carriers except the carrier
table (which formats each carrier accepts is configuration, not logic).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from ftpbridge.carriers.formats import data_folder
from ftpbridge.carriers.matching import accepted_formats
from ftpbridge.carriers.names import BY_NAME

DIGITS = "0123456789"


@functools.cache
def raw_formats() -> dict[str, dict[str, Any]]:
    """Every format entry of the vendored corpus and supplement, by key, as JSON."""
    entries: dict[str, dict[str, Any]] = {}
    folder = data_folder()
    for path in sorted(folder.glob("couriers/*.json")) + sorted(folder.glob("supplement/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for entry in data["tracking_numbers"]:
            key = entry.get("id") or re.sub(r"[^a-z0-9]+", "_", entry["name"].lower()).strip("_")
            entries[key] = {**entry, "courier_code": data["courier_code"]}
    return entries


def python_pattern(entry: dict[str, Any]) -> str:
    regex = entry["regex"] if isinstance(entry["regex"], str) else "".join(entry["regex"])
    return regex.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!")


def normalised(sample: str) -> str:
    return "".join(sample.split()).upper()


def to_i(character: str) -> int:
    return int(character) if character in DIGITS else 0


def ref_mod10(sequence: str, check: str, spec: dict[str, Any]) -> bool:
    total = 0
    characters = sequence[::-1] if spec.get("reverse") else sequence
    for index, character in enumerate(characters):
        value = int(character) if character in DIGITS else (ord(character) - 3) % 10
        if spec.get("odds_multiplier") and index % 2 == 1:
            value *= spec["odds_multiplier"]
        elif spec.get("evens_multiplier") and index % 2 == 0:
            value *= spec["evens_multiplier"]
        total += value
    result = total % 10
    if result != 0:
        result = 10 - result
    return result == to_i(check)


def ref_mod7(sequence: str, check: str, spec: dict[str, Any]) -> bool:
    return int(sequence) % 7 == to_i(check)


def ref_s10(sequence: str, check: str, spec: dict[str, Any]) -> bool:
    weights = spec.get("weightings", [8, 6, 4, 2, 3, 5, 9, 7])
    total = sum(to_i(a) * b for a, b in zip(sequence, weights, strict=False))
    remainder = total % 11
    expected = 0 if remainder == 1 else 5 if remainder == 0 else 11 - remainder
    return expected == to_i(check)


def ref_weighted(sequence: str, check: str, spec: dict[str, Any]) -> bool:
    weights = spec["weightings"]
    if len(sequence) > len(weights):
        return False  # Ruby multiplies by nil and raises
    total = sum(to_i(a) * b for a, b in zip(sequence, weights, strict=False))
    return total % spec["modulo1"] % spec["modulo2"] == to_i(check)


def ref_luhn(sequence: str, check: str, spec: dict[str, Any]) -> bool:
    total = 0
    for index, character in enumerate(reversed(sequence)):
        value = to_i(character)
        if index % 2 == 0:
            value *= 2
        if value > 9:
            value -= 9
        total += value
    result = total % 10
    if result != 0:
        result = 10 - result
    return result == to_i(check)


def ref_mod_37_36(sequence: str, check: str, spec: dict[str, Any]) -> bool:
    mod = 36
    weights = {letter: 10 + index for index, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
    cd = mod
    for character in sequence:
        value = weights[character] if character in weights else to_i(character)
        cd = value + cd
        if cd > mod:
            cd -= mod
        cd *= 2
        if cd > mod:
            cd -= mod + 1
    cd = (mod + 1) - cd
    if cd == mod:
        cd = 0
    if cd >= 10:
        found = [letter for letter, value in weights.items() if value == cd]
        if not found:
            return False  # Ruby calls [0] on nil and raises
        computed = found[0]
    else:
        computed = str(cd)
    return computed == check


CHECKS = {
    "mod10": ref_mod10,
    "mod7": ref_mod7,
    "s10": ref_s10,
    "sum_product_with_weightings_and_modulo": ref_weighted,
    "luhn": ref_luhn,
    "mod_37_36": ref_mod_37_36,
}


def restriction(carrier: str, key: str) -> dict[str, str]:
    entry = BY_NAME[carrier]
    return {"CountryCode": entry.s10_country} if key == "s10" and entry.s10_country else {}


def format_verdict(key: str, number: str, restrict: dict[str, str] | None = None) -> bool | None:
    """None when ``number`` does not match format ``key`` (or its restriction), else
    whether it passes the format's check digit (True for formats without one)."""
    entry = raw_formats()[key]
    match = re.fullmatch(python_pattern(entry), number)
    if match is None:
        return None
    for group, literal in (restrict or {}).items():
        if match.group(group) != literal:
            return None
    spec = (entry.get("validation") or {}).get("checksum")
    if spec is None:
        return True
    serial = re.sub(r"\s", "", match.group("SerialNumber"))
    check = re.sub(r"\s", "", match.group("CheckDigit"))
    rule = (entry["validation"].get("serial_number_format") or {}).get("prepend_if")
    if rule and re.search(python_pattern({"regex": rule["matches_regex"]}), serial):
        serial = rule["content"] + serial
    return CHECKS[spec["name"]](serial, check, spec)


def zero_padding(key: str) -> int:
    samples = [normalised(sample) for sample in raw_formats()[key]["test_numbers"]["valid"]]
    return max((len(sample) - len(sample.lstrip("0")) for sample in samples), default=0)


def carrier_verdicts(carrier: str, number: str) -> list[bool | None]:
    return [
        format_verdict(item.format.key, number, restriction(carrier, item.format.key))
        for item in accepted_formats(carrier)
    ]


def restored_zeros(carrier: str, number: str) -> int:
    if not number or any(c not in DIGITS for c in number) or number.startswith("0"):
        return 0
    keys = [item.format.key for item in accepted_formats(carrier)]
    for zeros in range(1, 10):
        for key in keys:
            entry = raw_formats()[key]
            if "checksum" not in (entry.get("validation") or {}) or zero_padding(key) < zeros:
                continue
            if format_verdict(key, "0" * zeros + number, restriction(carrier, key)):
                return zeros
    return 0


def reference_check(carrier: object, number: str) -> tuple[str, str]:
    """(error, warning) for one row, as check_tracking gives them."""
    if not isinstance(carrier, str) or carrier not in BY_NAME or number == "":
        return "", ""
    if not accepted_formats(carrier):
        return "", ""
    name = BY_NAME[carrier].display
    verdicts = carrier_verdicts(carrier, number)
    if any(verdicts):
        return "", ""
    if any(verdict is False for verdict in verdicts):
        return (
            f"tracking number {number} fails the {name} check digit; a digit is probably mistyped",
            "",
        )
    zeros = restored_zeros(carrier, number)
    if zeros:
        return (
            f"tracking number {number} lost its leading zeros in a spreadsheet"
            f" ({'0' * zeros}{number} is a valid {name} number); re-export the file with the"
            " tracking number column formatted as text",
            "",
        )
    if re.fullmatch("[A-Z0-9]+", number):
        return (
            "",
            f"tracking number {number} does not look like a {name} tracking number; applied anyway",
        )
    if re.fullmatch(r"[0-9]+(?:[.,][0-9]+E[+-]?[0-9]+|E[+-][0-9]+)", number):
        return (
            f"tracking number {number} was turned into scientific notation by a spreadsheet, "
            "which loses digits; re-export the file with the tracking number column "
            "formatted as text",
            "",
        )
    offending = re.sub("[A-Z0-9]", "", number)
    return (
        f'tracking number {number} contains characters other than A-Z and 0-9 ("{offending}"); '
        "tracking numbers are letters and digits only",
        "",
    )
