"""Tracking-number regexes compiled to numpy position tables: a column matched without a
regex call per row.

The corpus's patterns (``formats.py``) are bounded: no ``*`` or ``+`` except on ``\\s`` or
inside a look-ahead, so every pattern matches strings of a few known lengths only. For one
length ``L`` a pattern is expanded into its *shapes*: each a sequence of ``L`` sets of
allowed bytes (a ``(L, 256)`` bool table), the positions of its named groups, and the
look-ahead and ``\\b`` conditions that the tables alone cannot say. Matching ``n`` numbers
of length ``L`` is then one fancy-index into the table per shape.

Shapes come out in the order a backtracking matcher tries them (alternatives left to right,
greedy repeats longest first, an optional part present first), so the first shape that
matches a number is the parse ``re.fullmatch`` finds, with the same group positions: the
check digit is computed on the same characters as the corpus's reference.

Numbers are normalised before matching (no whitespace, upper case: see ``cleaning.py``), so
``\\s`` matches nothing here and ``\\s*`` is empty. The tests check, with hypothesis, that
the shapes accept exactly what ``re.fullmatch`` accepts on such strings.

Supported syntax (the loader refuses anything else): literals, escapes (``\\s \\d \\w \\b``
and escaped punctuation), classes ``[...]`` with ranges and ``^``, ``.``, ``^`` and ``$``,
groups ``(...)``, ``(?:...)``, ``(?P<name>...)``, look-aheads ``(?=...)`` ``(?!...)``,
alternation, and the quantifiers ``* + ? {n} {n,} {n,m}``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

# A set of bytes is an int used as a 256-bit mask: cheap to intersect, compare and hash.
Mask = int
ALL: Mask = (1 << 256) - 1


def mask_of(text: str) -> Mask:
    """The mask of the bytes of ``text`` (ASCII characters only)."""
    mask = 0
    for character in text:
        mask |= 1 << ord(character)
    return mask


def _range_mask(first: int, last: int) -> Mask:
    return ((1 << (last + 1)) - 1) & ~((1 << first) - 1)


DIGIT = _range_mask(ord("0"), ord("9"))
WORD = DIGIT | _range_mask(ord("A"), ord("Z")) | _range_mask(ord("a"), ord("z")) | mask_of("_")
NEWLINE = mask_of("\n")
# Normalised numbers hold no whitespace (cleaning.normalise_tracking removes it all).
SPACE: Mask = 0
_ESCAPES = {"d": DIGIT, "w": WORD, "s": SPACE}


class PatternError(ValueError):
    """Raised when a pattern uses syntax outside the supported subset."""


# ---------------------------------------------------------------------------- parsing


@dataclass(frozen=True, eq=False)
class Chars:
    mask: Mask


@dataclass(frozen=True, eq=False)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Alt:
    options: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Repeat:
    inner: Node
    low: int
    high: int | None  # None: unbounded


@dataclass(frozen=True, eq=False)
class Group:
    name: str | None  # None: a group that does not capture
    inner: Node


@dataclass(frozen=True, eq=False)
class Look:
    positive: bool
    inner: Node


@dataclass(frozen=True, eq=False)
class Assertion:
    kind: str  # "boundary" (\\b), "start" (^) or "end" ($)


Node = Chars | Seq | Alt | Repeat | Group | Look | Assertion
# Nodes compare and hash by identity (eq=False): a pattern is parsed once (parse is cached),
# and the caches below are keyed by node, where a recursive hash per call would dominate.


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.at = 0

    def fail(self, why: str) -> PatternError:
        return PatternError(f"pattern {self.pattern!r} at {self.at}: {why}")

    def peek(self, ahead: int = 0) -> str:
        at = self.at + ahead
        return self.pattern[at] if at < len(self.pattern) else ""

    def take(self) -> str:
        character = self.peek()
        if not character:
            raise self.fail("unexpected end")
        self.at += 1
        return character

    def parse(self) -> Node:
        node = self.alternation()
        if self.at != len(self.pattern):
            raise self.fail(f"unexpected {self.peek()!r}")
        return node

    def alternation(self) -> Node:
        options = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            options.append(self.sequence())
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self) -> Node:
        items: list[Node] = []
        while self.peek() not in ("", "|", ")"):
            items.append(self.quantified(self.atom()))
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def quantified(self, node: Node) -> Node:
        character = self.peek()
        high: int | None
        if character in ("*", "+", "?"):
            self.at += 1
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[character]
        elif character == "{" and _COUNTS.match(self.pattern, self.at):
            counts = _COUNTS.match(self.pattern, self.at)
            assert counts is not None  # just matched
            self.at = counts.end()
            low = int(counts["low"])
            high = (
                low
                if counts["comma"] is None
                else (int(counts["high"]) if counts["high"] else None)
            )
        else:
            return node
        if self.peek() in ("?", "+"):
            raise self.fail("lazy and possessive quantifiers are not supported")
        if isinstance(node, Look | Assertion):
            raise self.fail("a quantifier on an assertion")
        if high is not None and high < low:
            raise self.fail("a repeat whose maximum is below its minimum")
        return Repeat(node, low, high)

    def atom(self) -> Node:
        character = self.take()
        if character == "(":
            return self.group()
        if character == "[":
            return Chars(self.char_class())
        if character == "\\":
            escaped = self.take()
            if escaped == "b":
                return Assertion("boundary")
            if escaped in _ESCAPES:
                return Chars(_ESCAPES[escaped])
            if escaped.isalnum() or ord(escaped) > 127:
                raise self.fail(f"unsupported escape \\{escaped}")
            return Chars(mask_of(escaped))
        if character == ".":
            return Chars(ALL & ~NEWLINE)
        if character == "^":
            return Assertion("start")
        if character == "$":
            return Assertion("end")
        if character in "*+?{})|":
            raise self.fail(f"unexpected {character!r}")
        if ord(character) > 127:
            raise self.fail("non-ASCII literal")
        return Chars(mask_of(character))

    def group(self) -> Node:
        if self.peek() != "?":
            return self._group_body(lambda inner: Group(None, inner))
        kind = self.peek(1)
        if kind == ":":
            self.at += 2
            return self._group_body(lambda inner: Group(None, inner))
        if kind in ("=", "!"):
            self.at += 2
            return self._group_body(lambda inner: Look(kind == "=", inner))
        if kind == "P" and self.peek(2) == "<":
            end = self.pattern.find(">", self.at)
            name = self.pattern[self.at + 3 : end] if end > 0 else ""
            if not name.isidentifier():
                raise self.fail(f"bad group name {name!r}")
            self.at = end + 1
            return self._group_body(lambda inner: Group(name, inner))
        raise self.fail("unsupported group extension")

    def _group_body(self, make: Callable[[Node], Node]) -> Node:
        inner = self.alternation()
        if self.take() != ")":
            raise self.fail("missing )")
        return make(inner)

    def char_class(self) -> Mask:
        negate = self.peek() == "^"
        if negate:
            self.at += 1
        mask = 0
        first = True
        while first or self.peek() != "]":
            first = False
            low = self._class_item()
            if isinstance(low, int) and self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.at += 1
                high = self._class_item()
                if not isinstance(high, int) or high < low:
                    raise self.fail("bad range in a class")
                mask |= _range_mask(low, high)
            elif isinstance(low, int):
                mask |= 1 << low
            else:
                mask |= low.mask
        self.take()  # the closing ]
        return (ALL & ~mask) if negate else mask

    def _class_item(self) -> int | Chars:
        """A byte, or for an escape such as \\s the Chars it stands for."""
        character = self.take()
        if character == "\\":
            escaped = self.take()
            if escaped in _ESCAPES:
                return Chars(_ESCAPES[escaped])
            if escaped.isalnum():
                raise self.fail(f"unsupported escape \\{escaped} in a class")
            character = escaped
        if ord(character) > 127:
            raise self.fail("non-ASCII character in a class")
        return ord(character)


_COUNTS = re.compile(r"\{(?P<low>[0-9]+)(?P<comma>,(?P<high>[0-9]*))?\}")


@functools.cache
def parse(pattern: str) -> Node:
    """The syntax tree of ``pattern``; PatternError if it leaves the supported subset."""
    return _Parser(pattern).parse()


# --------------------------------------------------------------------------- expansion


@dataclass(frozen=True)
class Fragment:
    """One way a node matches from ``start``: ``masks`` for positions start..end-1, the
    conditions met on the way, and the named groups as (name, start, end)."""

    start: int
    end: int
    masks: tuple[Mask, ...] = ()
    conditions: tuple[Condition, ...] = ()
    groups: tuple[tuple[str, int, int], ...] = ()

    def then(self, other: Fragment) -> Fragment:
        return Fragment(
            self.start,
            other.end,
            self.masks + other.masks,
            self.conditions + other.conditions,
            self.groups + other.groups,
        )


@dataclass(frozen=True)
class Ahead:
    """A look-ahead at ``position``: one of ``alternatives`` matches there (or, when not
    ``positive``, none does)."""

    positive: bool
    position: int
    alternatives: tuple[Fragment, ...]


@dataclass(frozen=True)
class Boundary:
    """``\\b`` at ``position``: a word character on exactly one side of it."""

    position: int


@dataclass(frozen=True)
class Option:
    """What remains of one look-ahead alternative once the shape's tables are known: the
    narrower byte sets it needs at some positions and its undecided inner conditions."""

    constraints: tuple[tuple[int, Mask], ...]
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Pending:
    """A look-ahead the tables cannot decide: checked per row as an OR of ``options``."""

    positive: bool
    options: tuple[Option, ...]


Condition = Ahead | Boundary | Pending


@functools.cache
def _min_length(node: Node) -> int:
    match node:
        case Chars():
            return 1
        case Seq(items):
            return sum(_min_length(item) for item in items)
        case Alt(options):
            return min(_min_length(option) for option in options)
        case Repeat(inner, low, _):
            return _min_length(inner) * low
        case Group(_, inner):
            return _min_length(inner)
    return 0


@functools.cache
def _max_length(node: Node) -> int | None:
    """The longest match of ``node``; None when unbounded."""
    match node:
        case Chars(mask):
            return 1 if mask else 0
        case Seq(items):
            parts = [_max_length(item) for item in items]
            return None if None in parts else sum(part or 0 for part in parts)
        case Alt(options):
            parts = [_max_length(option) for option in options]
            return None if None in parts else max(part or 0 for part in parts)
        case Repeat(inner, _, high):
            longest = _max_length(inner)
            if longest == 0:
                return 0
            return None if high is None or longest is None else longest * high
        case Group(_, inner):
            return _max_length(inner)
    return 0


def _expand(node: Node, position: int, limit: int) -> Iterator[Fragment]:
    """Every way ``node`` can match from ``position`` without passing ``limit``, in the
    order a backtracking matcher tries them."""
    if position + _min_length(node) > limit:
        return
    match node:
        case Chars(mask):
            if mask:
                yield Fragment(position, position + 1, (mask,))
        case Seq():
            yield from _expand_sequence(node, 0, position, limit)
        case Alt(options):
            for option in options:
                yield from _expand(option, position, limit)
        case Group(name, inner):
            for fragment in _expand(inner, position, limit):
                if name is not None:
                    fragment = fragment.then(
                        Fragment(
                            fragment.end, fragment.end, groups=((name, position, fragment.end),)
                        )
                    )
                yield fragment
        case Repeat():
            yield from _expand_repeat(node, 0, position, limit)
        case Look(positive, inner):
            alternatives = _alternatives(inner, position, limit)
            yield Fragment(
                position, position, conditions=(Ahead(positive, position, alternatives),)
            )
        case Assertion("boundary"):
            yield Fragment(position, position, conditions=(Boundary(position),))
        case Assertion("start"):
            if position == 0:
                yield Fragment(position, position)
        case Assertion("end"):
            if position == limit:
                yield Fragment(position, position)


@functools.cache
def _alternatives(node: Node, position: int, limit: int) -> tuple[Fragment, ...]:
    """A look-ahead's expansions: the same at one position whatever came before it (DHL
    eCommerce's two look-aheads follow ten prefixes), so computed once."""
    return tuple(_expand(node, position, limit))


@functools.cache
def _rest_lengths(node: Seq) -> tuple[int, ...]:
    """For each item of the sequence, the shortest match of the items after it."""
    lengths = [_min_length(item) for item in node.items]
    return tuple(sum(lengths[index + 1 :]) for index in range(len(lengths)))


def _expand_sequence(node: Seq, index: int, position: int, limit: int) -> Iterator[Fragment]:
    if index == len(node.items):
        yield Fragment(position, position)
        return
    rest = _rest_lengths(node)[index]
    for head in _expand(node.items[index], position, limit):
        if head.end + rest > limit:
            continue  # no room left for what follows (limit stays the string's length:
            # look-aheads and $ inside the head need it)
        for tail in _expand_sequence(node, index + 1, head.end, limit):
            yield head.then(tail)


def _expand_repeat(node: Repeat, count: int, position: int, limit: int) -> Iterator[Fragment]:
    if node.high is None or count < node.high:
        for head in _expand(node.inner, position, limit):
            if head.end == position and count >= node.low:
                continue  # an empty iteration once the minimum is met ends the loop in re too
            for tail in _expand_repeat(node, count + 1, head.end, limit):
                yield head.then(tail)
    if count >= node.low:
        yield Fragment(position, position)


# ------------------------------------------------------------------------ simplifying
# Most conditions are decided by the shape's own tables: a look-ahead saying "22 digits
# follow" holds for a shape of 22 digit positions. What remains is checked per row.


def _word_state(mask: Mask) -> bool | None:
    if mask & ~WORD == 0:
        return True
    if mask & WORD == 0:
        return False
    return None


def _decide(condition: Condition, masks: tuple[Mask, ...]) -> bool | Condition:
    """True or False when the shape ``masks`` decides ``condition``, else what to check."""
    if isinstance(condition, Boundary):
        position = condition.position
        before = _word_state(masks[position - 1]) if position > 0 else False
        after = _word_state(masks[position]) if position < len(masks) else False
        if before is None or after is None:
            return condition
        return before != after
    if isinstance(condition, Pending):
        return condition
    options: list[Option] = []
    for alternative in condition.alternatives:
        option = _option(alternative, masks)
        if option is None:
            continue
        if not option.constraints and not option.conditions:
            return condition.positive  # this alternative always holds
        options.append(option)
    if not options:
        return not condition.positive
    return Pending(condition.positive, tuple(options))


def _option(alternative: Fragment, masks: tuple[Mask, ...]) -> Option | None:
    """What ``alternative`` still needs given the shape's masks; None if it cannot hold."""
    constraints: list[tuple[int, Mask]] = []
    for position, mask in enumerate(alternative.masks, start=alternative.start):
        if mask & masks[position] == 0:
            return None
        if masks[position] & ~mask:
            constraints.append((position, mask))
    remaining: list[Condition] = []
    for nested in alternative.conditions:
        decided = _decide(nested, masks)
        if decided is False:
            return None
        if decided is not True:
            remaining.append(decided)  # type: ignore[arg-type]  # a Condition, not a bool
    return Option(tuple(constraints), tuple(remaining))


# ------------------------------------------------------------------------------ shapes

_WORD_TABLE = np.array([bool(WORD >> byte & 1) for byte in range(256)])


def table_of(masks: tuple[Mask, ...]) -> np.ndarray:
    """(len(masks), 256) bool table: may byte b stand at position i?"""
    packed = np.frombuffer(b"".join(mask.to_bytes(32, "little") for mask in masks), np.uint8)
    bits = np.unpackbits(packed, bitorder="little").reshape(len(masks), 256)
    return bits.astype(bool)


def _holds(condition: Condition, matrix: np.ndarray) -> np.ndarray:
    """Bool array: does the undecided ``condition`` hold for each row of the byte matrix?"""
    rows = matrix.shape[0]
    if isinstance(condition, Boundary):
        position = condition.position
        before = _WORD_TABLE[matrix[:, position - 1]] if position > 0 else np.zeros(rows, bool)
        inside = position < matrix.shape[1]
        after = _WORD_TABLE[matrix[:, position]] if inside else np.zeros(rows, bool)
        return np.asarray(before != after)
    if not isinstance(condition, Pending):
        raise TypeError(f"undecided condition expected, got {condition!r}")
    found = np.zeros(rows, dtype=bool)
    for option in condition.options:
        holds = np.ones(rows, dtype=bool)
        for position, mask in option.constraints:
            holds &= table_of((mask,))[0][matrix[:, position]]
        for nested in option.conditions:
            holds &= _holds(nested, matrix)
        found |= holds
    return found if condition.positive else ~found


# Rows are sorted into kinds once per matrix: a shape then checks, for a row of digits only,
# just the positions whose byte set does not hold every digit (a "9" or "4" of "94..."), and
# for a row of letters and digits just those not holding every letter and digit. Nearly all
# rows are of one of these two kinds, so most positions are never looked at.
DIGITS_ONLY, LETTERS_AND_DIGITS, ANY_BYTES = 2, 1, 0
_ALNUM = DIGIT | _range_mask(ord("A"), ord("Z"))


_KIND_OF_BYTE = np.full(256, ANY_BYTES, dtype=np.int8)
_KIND_OF_BYTE[ord("A") : ord("Z") + 1] = LETTERS_AND_DIGITS
_KIND_OF_BYTE[ord("0") : ord("9") + 1] = DIGITS_ONLY


def row_kinds(matrix: np.ndarray) -> np.ndarray:
    """The kind of each row of the byte matrix (DIGITS_ONLY, LETTERS_AND_DIGITS, ANY_BYTES)."""
    if matrix.shape[1] == 0:
        return np.full(matrix.shape[0], DIGITS_ONLY, dtype=np.int8)
    kinds: np.ndarray = _KIND_OF_BYTE[matrix].min(axis=1)
    return kinds


@dataclass(frozen=True, eq=False)
class Shape:
    """One way a pattern matches strings of one length: ``table`` (length, 256) says which
    byte may stand at each position, ``conditions`` what the table cannot say, ``groups``
    the (start, end) of each named group."""

    table: np.ndarray
    conditions: tuple[Condition, ...]
    groups: dict[str, tuple[int, int]]

    @functools.cached_property
    def _columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Positions to look at for rows of each kind: those whose byte set lacks a digit;
        then those that lack a letter or digit but not a digit; then all the others."""
        digits = np.frombuffer(b"0123456789", dtype=np.uint8)
        letters = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
        lacks_digit = ~self.table[:, digits].all(axis=1)
        lacks_alnum = lacks_digit | ~self.table[:, letters].all(axis=1)
        return (
            np.flatnonzero(lacks_digit),
            np.flatnonzero(lacks_alnum & ~lacks_digit),
            np.flatnonzero(~lacks_alnum),
        )

    def _fits(self, matrix: np.ndarray, columns: np.ndarray) -> np.ndarray:
        if columns.size == 0:
            return np.ones(matrix.shape[0], dtype=bool)
        found: np.ndarray = self.table[columns, matrix[:, columns]].all(axis=1)
        return found

    def matches(self, matrix: np.ndarray, kinds: np.ndarray | None = None) -> np.ndarray:
        """Bool array: which rows of the (n, length) byte matrix match this shape.
        ``kinds`` is :func:`row_kinds` of the matrix (computed when not given)."""
        if kinds is None:
            kinds = row_kinds(matrix)
        for_digits, for_alnum, for_any = self._columns
        found = self._fits(matrix, for_digits)
        for kind, columns in ((LETTERS_AND_DIGITS, for_alnum), (ANY_BYTES, for_any)):
            if columns.size == 0:
                continue
            rows = np.flatnonzero(found & (kinds <= kind))
            if rows.size:
                found[rows] = self._fits(matrix[rows], columns)
        for condition in self.conditions:
            rows = np.flatnonzero(found)
            if rows.size:
                found[rows] = _holds(condition, matrix[rows])
        return found


@functools.cache
def compile_length(pattern: str, length: int) -> tuple[Shape, ...]:
    """The shapes of ``pattern`` for strings of ``length`` characters, in the order a
    backtracking matcher tries them (the first that matches is ``re``'s parse)."""
    shapes: list[Shape] = []
    seen: set[tuple[tuple[Mask, ...], tuple[Condition, ...]]] = set()
    for fragment in _expand(parse(pattern), 0, length):
        if fragment.end != length:
            continue
        remaining: list[Condition] = []
        for condition in fragment.conditions:
            decided = _decide(condition, fragment.masks)
            if decided is False:
                break
            if decided is not True:
                remaining.append(decided)  # type: ignore[arg-type]  # a Condition
        else:
            key = (fragment.masks, tuple(remaining))
            if key in seen:
                continue  # an identical earlier shape claims every row this one would
            seen.add(key)
            spans = {name: (start, stop) for name, start, stop in fragment.groups}
            shapes.append(Shape(table_of(fragment.masks), tuple(remaining), spans))
    return tuple(shapes)


LONGEST = 64  # no tracking number is longer (files refuse more than 40 characters)


@functools.cache
def lengths(pattern: str) -> tuple[int, ...]:
    """The lengths (up to LONGEST) of the strings ``pattern`` can match."""
    node = parse(pattern)
    longest = min(_max_length(node) or LONGEST, LONGEST)
    return tuple(
        length
        for length in range(_min_length(node), longest + 1)
        if length and compile_length(pattern, length)
    )


def compile_all_lengths(pattern: str) -> dict[int, tuple[Shape, ...]]:
    """Every length's shapes (to check a pattern once, e.g. after a corpus refresh)."""
    return {length: compile_length(pattern, length) for length in lengths(pattern)}


def first_match(
    shapes: tuple[Shape, ...], matrix: np.ndarray, kinds: np.ndarray | None = None
) -> np.ndarray:
    """For each row of the byte matrix, the index of the first shape that matches it, or
    -1: the parse ``re.fullmatch`` would find. ``kinds``: :func:`row_kinds` of the matrix,
    when the caller has it already."""
    chosen = np.full(matrix.shape[0], -1, dtype=np.int64)
    if not shapes or matrix.shape[0] == 0:
        return chosen
    if kinds is None:
        kinds = row_kinds(matrix)
    if len(shapes) == 1:
        chosen[shapes[0].matches(matrix, kinds)] = 0
        return chosen
    open_rows = np.arange(matrix.shape[0])
    for index, shape in enumerate(shapes):
        if open_rows.size == 0:
            break
        whole = open_rows.size == matrix.shape[0]
        hit = shape.matches(
            matrix if whole else matrix[open_rows], kinds if whole else kinds[open_rows]
        )
        chosen[open_rows[hit]] = index
        open_rows = open_rows[~hit]
    return chosen


def fullmatch(pattern: str, matrix: np.ndarray) -> np.ndarray:
    """Bool array: which rows of the (n, length) byte matrix match ``pattern`` in full."""
    if matrix.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return first_match(compile_length(pattern, matrix.shape[1]), matrix) >= 0
