"""Check-digit algorithms of the tracking_number_data corpus, a column at a time.

Each algorithm is built from the corpus's ``validation.checksum`` object (its name and
parameters) by :func:`build_check` and then takes ``serial``, an ``(n, k)`` uint8 matrix of
the ASCII codes of n serial numbers, and ``digit``, the ``(n,)`` codes of their check
characters, and returns a bool array: does each check character hold? Loops run over the
k positions, never over the n rows.

The arithmetic follows the corpus's reference (``CHECKSUM_ALGORITHMS.md`` and the luhn of
its test helper, both Ruby), including how characters become numbers: ``mod10`` counts a
letter as (ASCII - 3) mod 10 (UPS: A=2, B=3, ... I=0); the others read a character the way
Ruby's ``to_i`` does, so anything but a digit counts 0.

None of these catches every single-digit typo (UPS's x2 weight misses a change of 5; S10
gives 5 for remainders 0 and 6; mod 11 mod 10 folds 10 onto 0): a passing check makes a
typo unlikely, not impossible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Check = Callable[[np.ndarray, np.ndarray], np.ndarray]
_ZERO = ord("0")


# Character values by byte, looked up a matrix at a time (``take``: a third of the time
# of indexing with a uint8 matrix).
_TO_I = np.zeros(256, dtype=np.int64)
_TO_I[_ZERO : _ZERO + 10] = np.arange(10)
_MOD10 = (np.arange(256, dtype=np.int64) - 3) % 10
_MOD10[_ZERO : _ZERO + 10] = np.arange(10)
_MOD10_FLOAT = _MOD10.astype(np.float64)


def digit_values(matrix: np.ndarray) -> np.ndarray:
    """Ruby's ``to_i`` of each character: 0-9 for digits, 0 for anything else (int64)."""
    values: np.ndarray = _TO_I.take(matrix)
    return values


def mod10_values(matrix: np.ndarray) -> np.ndarray:
    """``mod10``'s value of each character: digits as 0-9, others as (ASCII - 3) mod 10."""
    values: np.ndarray = _MOD10.take(matrix)
    return values


def _integer(spec: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = spec.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"checksum {spec.get('name')!r}: {name} must be an integer, not {value!r}")
    return value


def _require_modulo(spec: Mapping[str, Any], expected: int) -> None:
    """The corpus states the constant some algorithms run on; the reference hard-codes it."""
    if _integer(spec, "modulo", expected) != expected:
        raise ValueError(
            f"checksum {spec['name']!r} with modulo {spec['modulo']} is not {expected}"
        )


def mod10(*, evens: int, odds: int, reverse: bool) -> Check:
    """Character i of the serial (from the right when ``reverse``; i from 0) is weighted
    ``odds`` when i is odd, ``evens`` when even; the check digit brings the sum to a
    multiple of 10."""

    def passes(serial: np.ndarray, digit: np.ndarray) -> np.ndarray:
        values = _MOD10_FLOAT.take(serial[:, ::-1] if reverse else serial)
        weights = np.where(np.arange(values.shape[1]) % 2 == 1, odds, evens).astype(np.float64)
        # A float64 matrix-vector product (BLAS) is exact here: at most 64 x 9 x weight.
        total = np.rint(values @ weights).astype(np.int64)
        return np.asarray((10 - total % 10) % 10 == digit_values(digit))

    return passes


def mod7(serial: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """The serial read as a number, mod 7, is the check digit (DHL Express)."""
    remainder = np.zeros(serial.shape[0], dtype=np.int64)
    for column in digit_values(serial).T:  # Horner's rule, mod 7 at each step: no overflow
        remainder = (remainder * 10 + column) % 7
    return np.asarray(remainder == digit_values(digit))


def s10(*, weights: tuple[int, ...]) -> Check:
    """UPU S10: the serial's digits times ``weights``, summed, mod 11: remainder 0 gives 5,
    1 gives 0, any other r gives 11 - r."""
    weight_vector = np.asarray(weights, dtype=np.int64)
    by_remainder = np.array([5, 0, *range(9, 0, -1)], dtype=np.int64)

    def passes(serial: np.ndarray, digit: np.ndarray) -> np.ndarray:
        values = digit_values(serial[:, : weight_vector.size])
        remainder = (values @ weight_vector[: values.shape[1]]) % 11
        return np.asarray(by_remainder[remainder] == digit_values(digit))

    return passes


def weighted_modulo(*, weights: tuple[int, ...], modulo1: int, modulo2: int) -> Check:
    """``sum_product_with_weightings_and_modulo``: the serial's digits times ``weights``,
    summed, mod ``modulo1`` mod ``modulo2`` is the check digit (FedEx)."""
    weight_vector = np.asarray(weights, dtype=np.int64)

    def passes(serial: np.ndarray, digit: np.ndarray) -> np.ndarray:
        if serial.shape[1] > weight_vector.size:
            # The reference multiplies by nil and raises: no such number passes.
            return np.zeros(serial.shape[0], dtype=bool)
        total = digit_values(serial) @ weight_vector[: serial.shape[1]]
        return np.asarray(total % modulo1 % modulo2 == digit_values(digit))

    return passes


def luhn(serial: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """Luhn: from the right, every other digit (starting with the one next to the check
    digit) doubled, 9 taken off a result over 9; the check digit makes a multiple of 10."""
    values = digit_values(serial[:, ::-1])
    doubled = values * 2
    values[:, 0::2] = np.where(doubled[:, 0::2] > 9, doubled[:, 0::2] - 9, doubled[:, 0::2])
    total = values.sum(axis=1)
    return np.asarray((10 - total % 10) % 10 == digit_values(digit))


def mod_37_36(*, alphabet: str) -> Check:
    """ISO 7064 MOD 37,36 as DPD prints it: the check character is a digit or a letter."""
    if len(alphabet) != 36:
        raise ValueError(f"mod_37_36 needs a 36-character alphabet, not {alphabet!r}")
    value_of = np.zeros(256, dtype=np.int64)  # letters A-Z: 10-35 (alphabet order)
    for value, character in enumerate(alphabet):
        value_of[ord(character)] = value if not character.isdigit() else 0
    codes = np.frombuffer(alphabet.encode("ascii") + b"\0\0", dtype=np.uint8)

    def passes(serial: np.ndarray, digit: np.ndarray) -> np.ndarray:
        letters = value_of.take(serial)
        values = np.where(letters > 0, letters, digit_values(serial))
        check = np.full(serial.shape[0], 36, dtype=np.int64)
        for column in values.T:
            check = column + check
            check = np.where(check > 36, check - 36, check)
            check = check * 2
            check = np.where(check > 36, check - 37, check)
        check = 37 - check
        check = np.where(check == 36, 0, check)  # 37 (from 0) names no character: fails
        return np.asarray(codes[np.minimum(check, 37)] == digit)

    return passes


def build_check(spec: Mapping[str, Any]) -> Check:
    """The check of a corpus ``checksum`` object; ValueError for an unknown algorithm or
    parameters the reference would not run with."""
    name = spec.get("name")
    if name == "mod10":
        _require_modulo(spec, 10)
        return mod10(
            evens=_integer(spec, "evens_multiplier", 1),
            odds=_integer(spec, "odds_multiplier", 1),
            reverse=bool(spec.get("reverse", False)),
        )
    if name == "mod7":
        _require_modulo(spec, 7)
        return mod7
    if name == "s10":
        _require_modulo(spec, 11)
        # Older corpus versions leave the weights out; the reference hard-codes these.
        weights = spec.get("weightings", (8, 6, 4, 2, 3, 5, 9, 7))
        return s10(weights=tuple(int(weight) for weight in weights))
    if name == "sum_product_with_weightings_and_modulo":
        return weighted_modulo(
            weights=tuple(int(weight) for weight in spec["weightings"]),
            modulo1=_integer(spec, "modulo1"),
            modulo2=_integer(spec, "modulo2"),
        )
    if name == "luhn":
        _require_modulo(spec, 10)
        return luhn
    if name == "mod_37_36":
        _require_modulo(spec, 36)
        return mod_37_36(alphabet=str(spec["alphabet"]))
    raise ValueError(f"unknown check digit algorithm {name!r}")
