"""Checking a column of tracking numbers against the formats of each row's carrier.

Warehouses send back files of up to a million rows, each with a carrier and a tracking
number. :func:`check_tracking` answers, row for row: does the number match a format the
carrier accepts (``names.py``), and does it pass that format's check digit (``checks.py``)?
Loops run over carriers, lengths and formats (a few dozen), never over rows: the numbers of
one carrier and one length become an ``(n, length)`` byte matrix, each format is matched on
it through its compiled shapes (``patterns.py``) and checked on the characters its groups
name, exactly as the corpus's reference does for the parse ``re.fullmatch`` finds.

A number that matches several formats of its carrier passes when any of them passes (a
20-digit USPS number can be a plain USPS 20 or a legacy number without its ``91``).

Leading zeros removed by a spreadsheet
--------------------------------------
A spreadsheet that took ``000123450000000027`` for a number keeps ``123450000000027``.
Some formats start with zeros: those whose own valid samples in the corpus do (FedEx
Ground and SSCC-18, USPS 20, Canada Post, DPD, Old Dominion), up to as many zeros as
those samples show (:func:`zero_padding`). A number made of digits only that matches no
format of its carrier, and becomes a valid number of such a format (one with a check
digit, and the check passes) with that many zeros or fewer put back in front, is refused
as such: storing the short number would give the customer a tracking link that finds
nothing. A random unknown number of the right length passes a check digit now and then
(about 1 in 10), so the message says what was found and how to fix the file rather than
claiming certainty.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ftpbridge.carriers.cleaning import byte_matrix, letters_and_digits_only, looks_scientific
from ftpbridge.carriers.formats import TrackingFormat, formats_by_key, load_formats
from ftpbridge.carriers.names import BY_NAME
from ftpbridge.carriers.patterns import (
    Shape,
    compile_length,
    first_match,
    fullmatch,
    lengths,
    row_kinds,
)
from ftpbridge.textarrays import lengths as text_lengths

_ZERO = ord("0")


@dataclass(frozen=True, eq=False)
class Accepted:
    """A format as one carrier accepts it; ``restrict`` pins named groups to literal
    text (an S10 number's CountryCode to the carrier's country)."""

    format: TrackingFormat
    restrict: tuple[tuple[str, str], ...] = ()


@functools.cache
def accepted_formats(carrier: str) -> tuple[Accepted, ...]:
    """The formats ``carrier`` (a canonical name) accepts: its courier's, then ``also``.
    RuntimeError when the table names a format the corpus does not have."""
    entry = BY_NAME[carrier]
    accepted = [Accepted(fmt) for fmt in load_formats() if fmt.courier == entry.courier]
    known = formats_by_key()
    for key in entry.also:
        if key not in known:
            raise RuntimeError(f"carrier {carrier}: the corpus has no format {key!r}")
        if any(item.format.key == key for item in accepted):
            continue
        restrict = (
            (("CountryCode", entry.s10_country),) if key == "s10" and entry.s10_country else ()
        )
        accepted.append(Accepted(known[key], restrict))
    return tuple(accepted)


@functools.cache
def zero_padding(fmt: TrackingFormat) -> int:
    """How many leading zeros the format's own valid samples show at most (0: none)."""
    samples = ["".join(sample.split()).upper() for sample in fmt.valid]
    return max((len(sample) - len(sample.lstrip("0")) for sample in samples), default=0)


@functools.cache
def carrier_lengths(carrier: str) -> frozenset[int]:
    """Every length a number of ``carrier`` can have."""
    return frozenset(
        length for item in accepted_formats(carrier) for length in lengths(item.format.pattern)
    )


@functools.cache
def _shapes(item: Accepted, length: int) -> tuple[Shape, ...]:
    shapes = compile_length(item.format.pattern, length)
    if not item.restrict:
        return shapes
    narrowed: list[Shape] = []
    for shape in shapes:
        table = shape.table.copy()
        for group, literal in item.restrict:
            start, stop = shape.groups.get(group, (0, -1))
            if stop - start != len(literal):
                break
            for offset, character in enumerate(literal):
                only = np.zeros(256, dtype=bool)
                only[ord(character)] = True
                table[start + offset] &= only
        else:
            if table.any(axis=1).all():
                narrowed.append(Shape(table, shape.conditions, shape.groups))
    return tuple(narrowed)


def _check_digit(fmt: TrackingFormat, shape: Shape, matrix: np.ndarray) -> np.ndarray:
    """Bool array: do the rows (all matching ``shape``) pass the format's check digit?"""
    assert fmt.check is not None  # the caller passes formats with a check only
    serial_span = shape.groups.get("SerialNumber")
    digit_span = shape.groups.get("CheckDigit")
    if serial_span is None or digit_span is None or digit_span[1] - digit_span[0] != 1:
        return np.zeros(matrix.shape[0], dtype=bool)
    serial = matrix[:, serial_span[0] : serial_span[1]]
    digit = matrix[:, digit_span[0]]
    if fmt.prepend_if is None:
        return fmt.check(serial, digit)
    needs = fullmatch(fmt.prepend_if.pattern, serial)
    content = np.frombuffer(fmt.prepend_if.content.encode("ascii"), dtype=np.uint8)
    longer = np.hstack([np.broadcast_to(content, (serial.shape[0], content.size)), serial])
    return np.where(needs, fmt.check(longer, digit), fmt.check(serial, digit))


def _evaluate(
    carrier: str, matrix: np.ndarray, zeros: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the (n, length) byte matrix of numbers of ``carrier``: (matched, passed,
    passed a check digit) as bool arrays. With ``zeros``, only the formats with a check
    digit whose samples start with at least that many zeros are tried."""
    rows = matrix.shape[0]
    matched = np.zeros(rows, dtype=bool)
    passed = np.zeros(rows, dtype=bool)
    checked = np.zeros(rows, dtype=bool)
    kinds = row_kinds(matrix)
    for item in accepted_formats(carrier):
        if zeros and (item.format.check is None or zero_padding(item.format) < zeros):
            continue
        shapes = _shapes(item, matrix.shape[1])
        if not shapes:
            continue
        chosen = first_match(shapes, matrix, kinds)
        matched |= chosen >= 0
        if item.format.check is None:
            passed |= chosen >= 0
            continue
        for index, shape in enumerate(shapes):
            hits = np.flatnonzero(chosen == index)
            if hits.size:
                good = hits[_check_digit(item.format, shape, matrix[hits])]
                passed[good] = True
                checked[good] = True
    return matched, passed, checked


def _restore_zeros(carrier: str, matrix: np.ndarray) -> np.ndarray:
    """How many zeros put in front make each row a valid number of a zero-padded format of
    ``carrier`` (0: none found, or the row is not digits only without a leading 0)."""
    restored = np.zeros(matrix.shape[0], dtype=np.int64)
    digits = ((matrix >= _ZERO) & (matrix <= ord("9"))).all(axis=1) & (matrix[:, 0] != _ZERO)
    length = matrix.shape[1]
    most = max((zero_padding(item.format) for item in accepted_formats(carrier)), default=0)
    for zeros in range(1, most + 1):
        open_rows = np.flatnonzero(digits & (restored == 0))
        if open_rows.size == 0 or length + zeros not in carrier_lengths(carrier):
            continue
        padding = np.full((open_rows.size, zeros), _ZERO, dtype=np.uint8)
        _, _, checked = _evaluate(carrier, np.hstack([padding, matrix[open_rows]]), zeros)
        restored[open_rows[checked]] = zeros
    return restored


def check_tracking(carriers: pd.Series, tracking: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Check each tracking number against the formats of its carrier.

    ``carriers`` holds canonical names (``names.canonical_carrier``), ``tracking``
    normalised numbers (``cleaning.normalise_tracking``), row for row (same length; the
    result takes the index of ``tracking``). Returns ``(error, warning)``, two str Series
    with ``""`` where there is nothing to say:

    - error: the number matches a format of its carrier but fails its check digit; or it
      lost its leading zeros in a spreadsheet (see the module's docstring); or it contains
      characters other than A-Z and 0-9 (with its own message when the value looks like
      spreadsheet scientific notation);
    - warning: the carrier has known formats but the number matches none of them.

    Empty numbers, and carriers without known formats (OTHER, unknown or missing names),
    get neither: callers that want to catch scientific notation for every carrier use
    ``cleaning.looks_scientific`` on the raw column.
    """
    if len(carriers) != len(tracking):
        raise ValueError(
            f"carriers and tracking numbers differ in length ({len(carriers)} and {len(tracking)})"
        )
    error, warning = tracking_problems(
        # pandas-stubs types na_value without None; pandas accepts it (missing -> None).
        carriers.to_numpy(dtype=object, na_value=None),  # type: ignore[call-overload]
        tracking.to_numpy(dtype=object, na_value=""),
    )
    return (
        pd.Series(error, index=tracking.index, dtype="str"),
        pd.Series(warning, index=tracking.index, dtype="str"),
    )


def tracking_problems(
    carriers: np.ndarray, numbers: np.ndarray, sizes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_tracking` on numpy object arrays (carrier names, None where missing;
    numbers, "" where missing): the (error, warning) texts as object arrays. Validation
    calls this one: a Series in and two out cost more than the check of a small chunk.
    ``sizes``: the numbers' lengths, when the caller has them."""
    if sizes is None:
        sizes = text_lengths(numbers)
    carrier_codes, carrier_names = pd.factorize(carriers)
    error = np.full(len(numbers), "", dtype=object)
    warning = np.full(len(numbers), "", dtype=object)

    for code, carrier in enumerate(carrier_names):
        if carrier not in BY_NAME or not accepted_formats(carrier):
            continue
        rows = np.flatnonzero((carrier_codes == code) & (sizes > 0))
        matched = np.zeros(rows.size, dtype=bool)
        passed = np.zeros(rows.size, dtype=bool)
        zeros = np.zeros(rows.size, dtype=np.int64)
        longest = max(carrier_lengths(carrier))
        # The lengths present, in order (bincount: a fifth of np.unique's time).
        for length in np.flatnonzero(np.bincount(sizes[rows])).tolist():
            if length > longest:
                continue
            group = np.flatnonzero(sizes[rows] == length)
            matrix = byte_matrix(numbers[rows[group]], length)
            matched[group], passed[group], _ = _evaluate(carrier, matrix)
            unmatched = group[~matched[group]]
            zeros[unmatched] = _restore_zeros(carrier, matrix[~matched[group]])
        _describe(
            BY_NAME[carrier].display, numbers, sizes, rows, matched, passed, zeros, error, warning
        )
    return error, warning


def _describe(
    name: str,
    numbers: np.ndarray,
    sizes: np.ndarray,
    rows: np.ndarray,
    matched: np.ndarray,
    passed: np.ndarray,
    zeros: np.ndarray,
    error: np.ndarray,
    warning: np.ndarray,
) -> None:
    """Write the messages of one carrier's rows into ``error`` and ``warning``."""
    failed = rows[matched & ~passed]
    if failed.size:
        error[failed] = (
            "tracking number " + numbers[failed] + f" fails the {name} check digit;"
            " a digit is probably mistyped"
        )
    shortened = rows[zeros > 0]
    if shortened.size:
        restored = np.array(["0" * count for count in range(zeros.max() + 1)], dtype=object)
        error[shortened] = (
            "tracking number "
            + numbers[shortened]
            + " lost its leading zeros in a spreadsheet ("
            + restored[zeros[zeros > 0]]
            + numbers[shortened]
            + f" is a valid {name} number); re-export the file with the tracking number"
            " column formatted as text"
        )
    unmatched = rows[~matched & (zeros == 0)]
    if unmatched.size == 0:
        return
    clean = letters_and_digits_only(numbers[unmatched], sizes[unmatched])
    odd = unmatched[~clean]
    if odd.size:
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
