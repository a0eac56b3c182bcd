"""Carriers and tracking numbers: canonical names, aliases and check digits, vectorised.

Warehouses send back order CSVs of up to a million rows with a carrier name and a tracking
number per row. This module turns the carrier name into one of :data:`CARRIERS` and checks
each tracking number against the formats of its carrier, a whole column at a time: no
Python-level loop runs per row (loops run over carriers and formats, a handful each).

Tracking-number formats
=======================

Normalised numbers (:func:`normalise_tracking`) are matched in full against these formats.
The formats, their check-digit algorithms and the example numbers in the tests come from
the ``tracking_number_data`` repository by Jeff Keen (MIT licence): ``couriers/*.json``
for the formats and ``CHECKSUM_ALGORITHMS.md`` for the algorithms; every rule below was
verified against that repository's valid and invalid test numbers.

================  ===========================================  ==============================
carrier           format (digits unless said)                  check digit
================  ===========================================  ==============================
UPS               ``1Z`` + 16 letters/digits                   mod10, x1/x2 from the left,
                                                               letters = (ASCII - 3) mod 10
FEDEX             12 (Express)                                 weights 3,1,7,... mod 11 mod 10
FEDEX             15 (Ground)                                  mod10, weights 3/1 (GS1)
FEDEX             18 (SSCC-18) and ``00`` + 18 (SSCC with AI)  GS1 mod10
FEDEX             ``96`` + 20 (Ground 96)                      GS1 mod10 on the last 15
FEDEX             ``92`` + 20, or 20 (SmartPost, IMpb)         GS1 mod10, ``92`` put back
                                                               in front when missing
FEDEX             ``100`` + 31 (Express 34), ``96`` + 32 (GSN) weights 1,7,3 mod 11 mod 10
                                                               on digits 21-33
USPS              ``9[1-5]`` + 20 or 24 (IMpb 22/26)           GS1 mod10
USPS              20 (older numbers, and IMpb without its      GS1 mod10, either as is or
                  ``91``)                                      with ``91`` put back in front
USPS              ``420`` + ZIP (5 or 9) + IMpb 22/26 or       the same, on the part after
                  IMpb without ``91``; ``420`` + ZIP+4 + 20    the ZIP (the routing prefix
                                                               is not in the check)
USPS              S10 ``[A-Z]{2}`` + 9 + ``US``                S10 (UPU): weights
                                                               8,6,4,2,3,5,9,7 mod 11
ROYAL_MAIL        S10 ending in ``GB``                         S10
CANADA_POST       S10 ending in ``CA``                         S10
CANADA_POST       16 (domestic)                                GS1 mod10
DHL               10 or 11 (Express air waybill)               the digits before it, mod 7
DHL               ``J`` + 2-3 letters + 9-10 (Express piece    none: format only
                  ID); ``GM``/``LX``/``RX``/``UV``/``CN``/
                  ``SG``/``TH``/``IN``/``HK``/``MY`` + 10-39
                  (eCommerce)
================  ===========================================  ==============================

"GS1 mod10" is the barcode rule: weights 3 and 1 alternate from the rightmost data digit
(weight 3) leftwards, and the check digit brings the sum to a multiple of 10. It is what the
data set's ``mod10`` with ``evens_multiplier``/``odds_multiplier`` 3/1 or 1/3 amounts to for
each of these lengths; the code follows the data set's own parameters.

A number that matches several formats of its carrier (a 20-digit USPS number can be an old
number or an IMpb without its ``91``) passes when any of them passes. None of these check
digits catches every single-digit typo (UPS's x2 weight misses a change of 5; S10 gives 5
for remainders 0 and 6; mod 11 mod 10 folds 10 onto 0): a passing check makes a typo
unlikely, not impossible.

Other carriers in :data:`CARRIERS` (Amazon, OnTrac, LaserShip, DPD, Purolator, Australia
Post, OTHER) have no formats here: their numbers get neither an error nor a warning.
Amazon and OnTrac use several formats beyond the one or two the data set lists, so checking
them would mostly produce false warnings.

Why hand-written rather than the ``tracking-numbers`` package
------------------------------------------------------------
The PyPI package (0.1.8, last released 2022) has ``get_tracking_number(number)``: for one
number it tries its definitions one after another and returns the first that matches. That
is a Python loop per row times a loop over every courier's regex, far over the budget for a
million rows, and it answers "which product is this?" rather than "is this a valid number
of carrier X?". Its definitions are code-generated from the data set at release time, so
they stop at 2022 while the data set is still maintained. The rules above are a few dozen
lines of numpy, follow the data set's current files, and need no new dependency.

Fixed-length formats are matched without a regex call per row: their patterns are compiled
to per-position tables of allowed bytes (see :class:`_Shape`), and the tests check that
these accept exactly what ``re.fullmatch`` accepts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftpbridge.textarrays import WHITESPACE, CodePoints

CARRIERS: tuple[str, ...] = (
    "UPS",
    "USPS",
    "FEDEX",
    "DHL",
    "ROYAL_MAIL",
    "CANADA_POST",
    "AMAZON",
    "ONTRAC",
    "LASERSHIP",
    "DPD",
    "PUROLATOR",
    "AUSTRALIA_POST",
    "OTHER",
)

# Spellings seen in warehouse files, besides the canonical names themselves. Case, spaces,
# dots, dashes, underscores and "&" are ignored (see _fold), so "U.P.S." needs no entry.
_ALIASES: dict[str, tuple[str, ...]] = {
    "UPS": (
        "United Parcel Service",
        "UPS Ground",
        "UPS Standard",
        "UPS Express",
        "UPS Next Day Air",
        "UPS 2nd Day Air",
        "UPS Worldwide Express",
        "UPS SurePost",
    ),
    "USPS": (
        "US Postal Service",
        "United States Postal Service",
        "US Post",
        "US Mail",
        "USPS Priority Mail",
        "USPS First Class",
        "USPS First Class Mail",
        "USPS Ground Advantage",
        "Priority Mail",
        "First Class Mail",
    ),
    "FEDEX": (
        "Fed Ex",
        "Federal Express",
        "FedEx Ground",
        "FedEx Express",
        "FedEx Home Delivery",
        "FedEx SmartPost",
        "FedEx Ground Economy",
        "FedEx International",
        "FDX",
    ),
    "DHL": (
        "DHL Express",
        "DHL eCommerce",
        "DHL Global Mail",
        "DHL Parcel",
        "DHL Worldwide Express",
    ),
    "ROYAL_MAIL": (
        "Royal Mail",
        "Royal Mail Tracked",
        "Royal Mail Tracked 24",
        "Royal Mail Tracked 48",
    ),
    "CANADA_POST": (
        "Canada Post",
        "Postes Canada",
        "Canada Post Corporation",
        "Société canadienne des postes",
    ),
    "AMAZON": ("Amazon Logistics", "Amazon Shipping", "AMZL"),
    "ONTRAC": ("On Trac",),
    "LASERSHIP": ("Laser Ship",),
    "DPD": (),
    "PUROLATOR": (),
    "AUSTRALIA_POST": ("Australia Post", "AusPost"),
    "OTHER": (),
}

# What _fold removes. Only separators: letters of other scripts stay, so that a look-alike
# such as a Cyrillic "Р" in "UРS" makes the name unknown instead of quietly matching.
_SEPARATORS = re.compile(r"[\s.\-_&\u2010-\u2015\u2212]+")


def _fold(name: str) -> str:
    """Return the lookup key of one carrier spelling (used for the alias table only)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", name).casefold())


def _build_alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for carrier in CARRIERS:
        for spelling in (carrier, *_ALIASES[carrier]):
            key = _fold(spelling)
            if index.setdefault(key, carrier) != carrier:
                raise RuntimeError(f"carrier spelling {spelling!r} is listed twice")
    return index


_ALIAS_INDEX: dict[str, str] = _build_alias_index()


def canonical_carrier(values: pd.Series) -> pd.Series:
    """Return the canonical carrier name of each value.

    ``values`` is a str Series, already stripped, where ``""`` means empty. The result has
    the same index: a name from :data:`CARRIERS`, ``""`` where the value is empty, and a
    missing value (``isna()`` is true) where the name is unknown or the value is missing.
    Names are compared after NFKC normalisation (fullwidth and other compatibility forms
    become plain letters) and case folding, ignoring spaces, dots, dashes, underscores and
    "&"; letters of other scripts are never folded onto Latin ones.
    """
    # Work on the distinct spellings (a handful per file) and spread the answers back with
    # the factorize codes: the per-row work is two C-level passes.
    codes, uniques = pd.factorize(values)  # missing values get code -1
    spellings = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    keys = spellings.str.normalize("NFKC").str.casefold().str.replace(_SEPARATORS, "", regex=True)
    answers = keys.map(_ALIAS_INDEX).to_numpy(dtype=object, na_value=None)
    answers[(spellings == "").to_numpy(dtype=bool)] = ""
    answers = np.append(answers, None)  # what code -1 points at
    return pd.Series(answers[codes], index=values.index, name=values.name, dtype="str")


def carrier_aliases_text() -> str:
    """Return the accepted carrier names as one line for error messages: ``"UPS, USPS, ..."``."""
    return ", ".join(CARRIERS)


# Every whitespace character up to the CJK ideographic space, plus invisible zero-width
# characters that spreadsheets and web copies slip into numbers and nobody can see to fix.
_INVISIBLE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
_INVISIBLE_RE = re.compile("[" + re.escape(_INVISIBLE) + "\u200b\u200c\u200d\u2060\ufeff]+")


def normalise_tracking(values: pd.Series) -> pd.Series:
    """Return the tracking numbers with all whitespace (and zero-width characters) removed,
    upper-cased. Missing values stay missing; the index is kept.

    Numbers made of A-Z and 0-9 only (nearly all) are kept as they are, found a column at
    a time (see ftpbridge.textarrays); the regex runs on the others only."""
    array = values.to_numpy(dtype=object, na_value=None)
    present = np.flatnonzero(~pd.isna(values).to_numpy(dtype=bool))
    if present.size == 0:
        return values
    points = CodePoints.of(array[present])
    odd = present[_rows_with_codes_outside(points, _UPPER_LETTER_OR_DIGIT)]
    if odd.size == 0:
        return values
    fixed = array.copy()
    fixed[odd] = (
        pd.Series(array[odd], dtype=object)
        .str.replace(_INVISIBLE_RE, "", regex=True)
        .str.upper()
        .to_numpy(dtype=object)
    )
    result = pd.Series(fixed, index=values.index, name=values.name, dtype=object)
    return result.astype(values.dtype)


_UPPER_LETTER_OR_DIGIT = np.array(
    [ord(character) for character in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"], dtype=np.uint32
)
# Every character a number in scientific notation may hold (see _SCIENTIFIC).
_SCIENTIFIC_CODES = np.concatenate(
    [np.array([ord(character) for character in "0123456789+-.,Ee"], dtype=np.uint32), WHITESPACE]
)


def _rows_with_codes_outside(points: CodePoints, allowed: np.ndarray) -> np.ndarray:
    """Positions of the strings holding a character not in ``allowed``."""
    owner = np.repeat(np.arange(points.lengths.size), points.lengths)
    outside = ~np.isin(points.codes, allowed)
    return np.flatnonzero(np.bincount(owner[outside], minlength=points.lengths.size))


# A spreadsheet that took a long number for a number writes it as "1.23457E+21" (or with a
# decimal comma): digits, optionally a fraction, "E", an exponent. Either a fraction or a
# signed exponent is required, so that a real alphanumeric number such as "12E45" is not
# taken for one.
_SCIENTIFIC = re.compile(
    r"\s*[+-]?[0-9]+(?:[.,][0-9]+E[+-]?[0-9]+|E[+-][0-9]+)\s*", flags=re.IGNORECASE
)


def looks_scientific(values: pd.Series) -> pd.Series:
    """Return a bool Series: true where the value looks like a number a spreadsheet wrote in
    scientific notation ("1.23457E+21", "9.4001E+21", "1,23457E+21", "1.2E21", "1E+21"),
    which means the digits of the tracking number are lost. Missing values give false."""
    array = values.to_numpy(dtype=object, na_value="")
    result = np.zeros(array.size, dtype=bool)
    if array.size == 0:
        return pd.Series(result, index=values.index)
    # Only strings made of digits, signs, separators, E and whitespace, with an E, can
    # match: the regex runs on those alone (usually none).
    points = CodePoints.of(array)
    owner = np.repeat(np.arange(array.size), points.lengths)
    has_e = np.zeros(array.size, dtype=bool)
    has_e[owner[(points.codes == ord("E")) | (points.codes == ord("e"))]] = True
    candidates = np.flatnonzero(has_e)
    candidates = np.setdiff1d(candidates, _rows_with_codes_outside(points, _SCIENTIFIC_CODES))
    if candidates.size:
        result[candidates] = (
            pd.Series(array[candidates], dtype=object)
            .str.fullmatch(_SCIENTIFIC)
            .to_numpy(dtype=bool)
        )
    return pd.Series(result, index=values.index)


# ----------------------------------------------------------------------------------------
# Check digits. Each check takes an (n, length) uint8 matrix of the ASCII codes of n numbers
# of one format and returns a bool array: does each row's check digit hold?

Check = Callable[[np.ndarray], np.ndarray]
_ZERO = ord("0")


def _digit_values(matrix: np.ndarray) -> np.ndarray:
    """Digits as 0-9 and letters as (ASCII - 3) mod 10 (UPS: A=2, B=3, ... I=0), as int64."""
    codes = matrix.astype(np.int64)
    return np.where(codes >= ord("A"), (codes - 3) % 10, codes - _ZERO)


def _mod10(*, start: int, evens: int, odds: int, prefix: str = "") -> Check:
    """tracking_number_data's ``mod10``: the sequence is ``prefix`` + the characters from
    ``start`` up to the last one, which is the check digit; character i (from 0, prefix
    included) is weighted ``evens`` or ``odds`` by its parity; the check digit brings the
    weighted sum to a multiple of 10."""

    def weight(position: int) -> int:
        return odds if position % 2 else evens

    prefix_total = sum(weight(i) * int(digit) for i, digit in enumerate(prefix))

    def passes(matrix: np.ndarray) -> np.ndarray:
        sequence = _digit_values(matrix[:, start:-1])
        positions = np.arange(len(prefix), len(prefix) + sequence.shape[1])
        weights = np.where(positions % 2 == 1, odds, evens).astype(np.int64)
        total = sequence @ weights + prefix_total
        return (10 - total % 10) % 10 == matrix[:, -1].astype(np.int64) - _ZERO

    return passes


def _weighted_mod(*, start: int, weights: tuple[int, ...], modulo1: int, modulo2: int) -> Check:
    """tracking_number_data's ``sum_product_with_weightings_and_modulo``: the digits from
    ``start`` times ``weights``, summed, mod ``modulo1`` mod ``modulo2`` is the digit that
    follows them."""
    stop = start + len(weights)
    weight_vector = np.asarray(weights, dtype=np.int64)

    def passes(matrix: np.ndarray) -> np.ndarray:
        total = _digit_values(matrix[:, start:stop]) @ weight_vector
        return total % modulo1 % modulo2 == matrix[:, stop].astype(np.int64) - _ZERO

    return passes


def _mod7(matrix: np.ndarray) -> np.ndarray:
    """DHL Express: the number before the last digit, mod 7, is the last digit."""
    digits = _digit_values(matrix)
    powers = 10 ** np.arange(digits.shape[1] - 2, -1, -1, dtype=np.int64)  # at most 10**9
    return (digits[:, :-1] @ powers) % 7 == digits[:, -1]


_S10_WEIGHTS = np.array([8, 6, 4, 2, 3, 5, 9, 7], dtype=np.int64)
# remainder mod 11 -> check digit: 11 - remainder, except 0 -> 5 and 1 -> 0 (UPU S10).
_S10_CHECK = np.array([5, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1], dtype=np.int64)


def _s10(matrix: np.ndarray) -> np.ndarray:
    """UPU S10 (two letters, 8 serial digits, check digit, country): weights 8,6,4,2,3,5,9,7."""
    remainder = (_digit_values(matrix[:, 2:10]) @ _S10_WEIGHTS) % 11
    return _S10_CHECK[remainder] == matrix[:, 10].astype(np.int64) - _ZERO


@dataclass(frozen=True)
class TrackingFormat:
    """One tracking-number format of one carrier.

    ``pattern`` is matched against the whole normalised number. ``length`` is the length
    of every number it matches, or None for a variable-length format; ``check`` is None
    for a format without a check digit (matching it is enough).
    """

    carrier: str
    name: str
    pattern: str
    length: int | None
    check: Check | None


_FEDEX_34_WEIGHTS = (1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1)

FORMATS: tuple[TrackingFormat, ...] = (
    TrackingFormat("UPS", "UPS 1Z", "1Z[A-Z0-9]{16}", 18, _mod10(start=2, evens=1, odds=2)),
    TrackingFormat(
        "FEDEX",
        "FedEx Express (12)",
        "[0-9]{12}",
        12,
        _weighted_mod(start=0, weights=(3, 1, 7) * 3 + (3, 1), modulo1=11, modulo2=10),
    ),
    TrackingFormat("FEDEX", "FedEx Ground (15)", "[0-9]{15}", 15, _mod10(start=0, evens=1, odds=3)),
    TrackingFormat("FEDEX", "FedEx SSCC-18", "[0-9]{18}", 18, _mod10(start=0, evens=3, odds=1)),
    TrackingFormat(
        "FEDEX", "FedEx SSCC-18 with AI 00", "00[0-9]{18}", 20, _mod10(start=2, evens=3, odds=1)
    ),
    TrackingFormat(
        "FEDEX", "FedEx Ground 96 (22)", "96[0-9]{20}", 22, _mod10(start=7, evens=1, odds=3)
    ),
    TrackingFormat(
        "FEDEX", "FedEx SmartPost (22)", "92[0-9]{20}", 22, _mod10(start=0, evens=3, odds=1)
    ),
    TrackingFormat(
        "FEDEX", "FedEx SmartPost (20)", "92[0-9]{18}", 20, _mod10(start=0, evens=3, odds=1)
    ),
    TrackingFormat(
        "FEDEX",
        "FedEx SmartPost (20, without 92)",
        "(?!92)[0-9]{20}",
        20,
        _mod10(start=0, prefix="92", evens=3, odds=1),
    ),
    TrackingFormat(
        "FEDEX",
        "FedEx Express (34)",
        "100[0-9]{31}",
        34,
        _weighted_mod(start=20, weights=_FEDEX_34_WEIGHTS, modulo1=11, modulo2=10),
    ),
    TrackingFormat(
        "FEDEX",
        "FedEx Ground GSN (34)",
        "96[0-9]{32}",
        34,
        _weighted_mod(start=20, weights=_FEDEX_34_WEIGHTS, modulo1=11, modulo2=10),
    ),
    TrackingFormat(
        "USPS", "USPS IMpb (22)", "9[1-5][0-9]{20}", 22, _mod10(start=0, evens=3, odds=1)
    ),
    TrackingFormat(
        "USPS", "USPS IMpb (26)", "9[1-5][0-9]{24}", 26, _mod10(start=0, evens=3, odds=1)
    ),
    TrackingFormat("USPS", "USPS (20)", "[0-9]{20}", 20, _mod10(start=0, evens=3, odds=1)),
    TrackingFormat(
        "USPS",
        "USPS IMpb (20, without 91)",
        "(?!9[1-5])[0-9]{20}",
        20,
        _mod10(start=0, prefix="91", evens=3, odds=1),
    ),
    # 420 + ZIP (5 digits) or ZIP+4 (9 digits) routing prefix in front of an IMpb.
    *(
        TrackingFormat(
            "USPS",
            f"USPS IMpb ({size}) with 420 ZIP{zip_name}",
            f"420[0-9]{{{zip_length}}}9[1-5][0-9]{{{size - 2}}}",
            3 + zip_length + size,
            _mod10(start=3 + zip_length, evens=3, odds=1),
        )
        for zip_length, zip_name in ((5, ""), (9, "+4"))
        for size in (22, 26)
    ),
    *(
        TrackingFormat(
            "USPS",
            f"USPS IMpb (20, without 91) with 420 ZIP{zip_name}",
            f"420[0-9]{{{zip_length}}}(?!9[1-5])[0-9]{{20}}",
            3 + zip_length + 20,
            _mod10(start=3 + zip_length, prefix="91", evens=3, odds=1),
        )
        for zip_length, zip_name in ((5, ""), (9, "+4"))
    ),
    TrackingFormat(
        "USPS",
        "USPS (20) with 420 ZIP+4",
        "420[0-9]{29}",
        32,
        _mod10(start=12, evens=3, odds=1),
    ),
    TrackingFormat("USPS", "USPS S10", "[A-Z]{2}[0-9]{9}US", 13, _s10),
    TrackingFormat("ROYAL_MAIL", "Royal Mail S10", "[A-Z]{2}[0-9]{9}GB", 13, _s10),
    TrackingFormat("CANADA_POST", "Canada Post S10", "[A-Z]{2}[0-9]{9}CA", 13, _s10),
    TrackingFormat(
        "CANADA_POST", "Canada Post (16)", "[0-9]{16}", 16, _mod10(start=0, evens=3, odds=1)
    ),
    TrackingFormat("DHL", "DHL Express (10)", "[0-9]{10}", 10, _mod7),
    TrackingFormat("DHL", "DHL Express (11)", "[0-9]{11}", 11, _mod7),
    TrackingFormat("DHL", "DHL Express piece ID", "J[A-Z]{2,3}[0-9]{9,10}", None, None),
    TrackingFormat(
        "DHL",
        "DHL eCommerce",
        "(?:GM|LX|RX|UV|CN|SG|TH|IN|HK|MY)[0-9]{10,39}",
        None,
        None,
    ),
)

_DISPLAY_NAMES = {
    "UPS": "UPS",
    "USPS": "USPS",
    "FEDEX": "FedEx",
    "DHL": "DHL",
    "ROYAL_MAIL": "Royal Mail",
    "CANADA_POST": "Canada Post",
}
_FORMATS_BY_CARRIER: dict[str, tuple[TrackingFormat, ...]] = {
    carrier: tuple(fmt for fmt in FORMATS if fmt.carrier == carrier) for carrier in _DISPLAY_NAMES
}


# ----------------------------------------------------------------------------------------
# Matching fixed-length formats without a regex call per row. Their patterns use a small
# part of regex syntax: literal letters and digits, classes such as [A-Z0-9] or [1-5], a
# repeat {n}, and a negative look-ahead (?!...) made of the same. Such a pattern becomes
# a (length, 256) table saying which byte may stand at each position, so that matching n
# numbers is one fancy-index into the table. The tests check it agrees with re.fullmatch.

_ATOM = re.compile(r"(?:\[(?P<cls>[^\]]+)\]|(?P<lit>[A-Z0-9]))(?:\{(?P<count>[0-9]+)\})?")
_LOOKAHEAD = re.compile(r"\(\?!(?P<body>[^()]+)\)")


def _position_table(pattern: str) -> np.ndarray:
    """(length, 256) bool table of a pattern made of atoms only; ValueError otherwise."""
    rows: list[np.ndarray] = []
    offset = 0
    while offset < len(pattern):
        atom = _ATOM.match(pattern, offset)
        if atom is None:
            raise ValueError(f"pattern {pattern!r}: cannot read it from {pattern[offset:]!r}")
        allowed = np.zeros(256, dtype=bool)
        for first, last in re.findall(r"(.)(?:-(.))?", atom["cls"] or atom["lit"]):
            allowed[ord(first) : ord(last or first) + 1] = True
        rows.extend([allowed] * int(atom["count"] or 1))
        offset = atom.end()
    return np.array(rows, dtype=bool).reshape(len(rows), 256)


@dataclass(frozen=True)
class _Shape:
    """A fixed-length pattern compiled to position tables: ``table`` must match at every
    position and none of ``exclusions`` (position, table) may match where it starts."""

    table: np.ndarray
    exclusions: tuple[tuple[int, np.ndarray], ...]

    def matches(self, matrix: np.ndarray) -> np.ndarray:
        """Bool array: which rows of the (n, length) byte matrix match the pattern."""
        found = self.table[np.arange(self.table.shape[0]), matrix].all(axis=1)
        for position, table in self.exclusions:
            window = matrix[:, position : position + table.shape[0]]
            found &= ~table[np.arange(table.shape[0]), window].all(axis=1)
        return found


def _compile_shape(pattern: str) -> _Shape:
    """Compile a fixed-length pattern; ValueError if it uses more than the syntax above."""
    parts: list[np.ndarray] = []
    exclusions: list[tuple[int, np.ndarray]] = []
    position = 0
    for piece in re.split(r"(\(\?![^()]+\))", pattern):
        lookahead = _LOOKAHEAD.fullmatch(piece)
        if lookahead:
            exclusions.append((position, _position_table(lookahead["body"])))
        elif piece:
            parts.append(_position_table(piece))
            position += parts[-1].shape[0]
    return _Shape(np.concatenate(parts), tuple(exclusions))


def _build_shapes() -> dict[str, _Shape]:
    shapes: dict[str, _Shape] = {}
    for fmt in FORMATS:
        if fmt.length is None:
            continue
        shape = _compile_shape(fmt.pattern)
        if shape.table.shape[0] != fmt.length:
            raise RuntimeError(f"{fmt.name}: pattern {fmt.pattern!r} is not {fmt.length} long")
        shapes[fmt.pattern] = shape
    return shapes


_SHAPES: dict[str, _Shape] = _build_shapes()


def _byte_matrix(numbers: np.ndarray, length: int) -> np.ndarray:
    """(n, length) uint8 matrix of n strings that all have ``length`` characters; a
    character outside ASCII becomes "?", which no format allows."""
    joined = "".join(numbers.tolist()).encode("ascii", errors="replace")
    return np.frombuffer(joined, dtype=np.uint8).reshape(len(numbers), length)


_LETTER_OR_DIGIT = _position_table("[A-Z0-9]")[0]


def _letters_and_digits_only(numbers: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Bool array: which strings (of the given lengths) hold nothing but A-Z and 0-9.

    All strings are joined into one byte array; each byte that is not a letter or digit
    marks its row through np.bincount, so strings of any length cost no Python call each.
    """
    joined = "".join(numbers.tolist()).encode("ascii", errors="replace")
    bad_bytes = ~_LETTER_OR_DIGIT[np.frombuffer(joined, dtype=np.uint8)]
    row_of_byte = np.repeat(np.arange(numbers.size), lengths)
    return np.bincount(row_of_byte[bad_bytes], minlength=numbers.size) == 0


def _fullmatch(numbers: np.ndarray, pattern: str) -> np.ndarray:
    """Bool array: which of the strings match ``pattern`` in full (one regex call each)."""
    if numbers.size == 0:
        return np.zeros(0, dtype=bool)
    return pd.Series(numbers, dtype=object).str.fullmatch(pattern).to_numpy(dtype=bool)


def check_tracking(carriers: pd.Series, tracking: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Check each tracking number against the formats of its carrier.

    ``carriers`` holds canonical names (:func:`canonical_carrier`), ``tracking`` normalised
    numbers (:func:`normalise_tracking`), row for row (same length; the result takes the
    index of ``tracking``). Returns ``(error, warning)``, two str Series with ``""`` where
    there is nothing to say:

    - error: the number matches a format of its carrier but fails that format's check
      digit, or it contains characters other than A-Z and 0-9 (with its own message when
      the value looks like spreadsheet scientific notation);
    - warning: the carrier has known formats but the number matches none of them.

    Empty numbers, and carriers without known formats (OTHER, unknown or missing names),
    get neither: callers that want to catch scientific notation for every carrier use
    :func:`looks_scientific` on the raw column.
    """
    if len(carriers) != len(tracking):
        raise ValueError(
            f"carriers and tracking numbers differ in length ({len(carriers)} and {len(tracking)})"
        )
    row_count = len(tracking)
    numbers = tracking.to_numpy(dtype=object, na_value="")
    lengths = tracking.str.len().to_numpy(dtype=np.int64, na_value=0)
    carrier_codes, carrier_names = pd.factorize(carriers)
    error = np.full(row_count, "", dtype=object)
    warning = np.full(row_count, "", dtype=object)

    for code, carrier in enumerate(carrier_names):
        formats = _FORMATS_BY_CARRIER.get(carrier)
        if not formats:
            continue
        rows = np.flatnonzero((carrier_codes == code) & (lengths > 0))
        row_lengths = lengths[rows]
        matched = np.zeros(rows.size, dtype=bool)
        passed = np.zeros(rows.size, dtype=bool)

        for length in sorted({fmt.length for fmt in formats if fmt.length is not None}):
            candidates = np.flatnonzero(row_lengths == length)
            if candidates.size == 0:
                continue
            matrix = _byte_matrix(numbers[rows[candidates]], length)
            for fmt in formats:
                if fmt.length != length:
                    continue
                shaped = _SHAPES[fmt.pattern].matches(matrix)
                hits = candidates[shaped]
                matched[hits] = True
                if fmt.check is None:
                    passed[hits] = True
                else:
                    passed[hits] |= fmt.check(matrix[shaped])

        for fmt in formats:
            if fmt.length is not None:
                continue
            candidates = np.flatnonzero(~passed)
            hits = candidates[_fullmatch(numbers[rows[candidates]], fmt.pattern)]
            matched[hits] = True
            passed[hits] = True

        name = _DISPLAY_NAMES[carrier]
        failed = rows[matched & ~passed]
        error[failed] = (
            "tracking number "
            + numbers[failed]
            + f" fails the {name} check digit; a digit is probably mistyped"
        )

        unmatched = rows[~matched]
        clean = _letters_and_digits_only(numbers[unmatched], lengths[unmatched])
        odd = unmatched[~clean]
        scientific = looks_scientific(pd.Series(numbers[odd], dtype=object)).to_numpy(dtype=bool)
        damaged = odd[scientific]
        error[damaged] = (
            "tracking number "
            + numbers[damaged]
            + " was turned into scientific notation by a spreadsheet, which loses digits;"
            " re-export the file with the tracking number column formatted as text"
        )
        garbled = odd[~scientific]
        offending = (
            pd.Series(numbers[garbled], dtype=object)
            .str.replace("[A-Z0-9]", "", regex=True)
            .to_numpy(dtype=object)
        )
        error[garbled] = (
            "tracking number "
            + numbers[garbled]
            + ' contains characters other than A-Z and 0-9 ("'
            + offending
            + '"); tracking numbers are letters and digits only'
        )
        doubtful = unmatched[clean]
        warning[doubtful] = (
            "tracking number "
            + numbers[doubtful]
            + f" does not look like a {name} tracking number; applied anyway"
        )

    return (
        pd.Series(error, index=tracking.index, dtype="str"),
        pd.Series(warning, index=tracking.index, dtype="str"),
    )
