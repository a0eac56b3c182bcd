"""A pattern's syntax tree expanded into the ways it can match a string of a given length.

``expand`` yields :class:`Fragment` s in the order a backtracking matcher tries them
(alternatives left to right, greedy repeats longest first, an optional part present first);
each says which bytes may stand at each position, where the named groups are, and the
look-ahead and ``\\b`` conditions met on the way. ``decide`` settles a condition from the
fragment's own byte sets where it can (most look-aheads say "so many digits follow", which
a fragment of that many digit positions already says); what remains is checked per row by
``patterns.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from ftpbridge.carriers.syntax import (
    WORD,
    Alt,
    Assertion,
    Chars,
    Group,
    Look,
    Mask,
    Node,
    Repeat,
    Seq,
)

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
def min_length(node: Node) -> int:
    match node:
        case Chars():
            return 1
        case Seq(items):
            return sum(min_length(item) for item in items)
        case Alt(options):
            return min(min_length(option) for option in options)
        case Repeat(inner, low, _):
            return min_length(inner) * low
        case Group(_, inner):
            return min_length(inner)
    return 0


@functools.cache
def max_length(node: Node) -> int | None:
    """The longest match of ``node``; None when unbounded."""
    match node:
        case Chars(mask):
            return 1 if mask else 0
        case Seq(items):
            parts = [max_length(item) for item in items]
            return None if None in parts else sum(part or 0 for part in parts)
        case Alt(options):
            parts = [max_length(option) for option in options]
            return None if None in parts else max(part or 0 for part in parts)
        case Repeat(inner, _, high):
            longest = max_length(inner)
            if longest == 0:
                return 0
            return None if high is None or longest is None else longest * high
        case Group(_, inner):
            return max_length(inner)
    return 0


def expand(node: Node, position: int, limit: int) -> Iterator[Fragment]:
    """Every way ``node`` can match from ``position`` without passing ``limit``, in the
    order a backtracking matcher tries them."""
    if position + min_length(node) > limit:
        return
    match node:
        case Chars(mask):
            if mask:
                yield Fragment(position, position + 1, (mask,))
        case Seq():
            yield from _expand_sequence(node, 0, position, limit)
        case Alt(options):
            for option in options:
                yield from expand(option, position, limit)
        case Group(name, inner):
            for fragment in expand(inner, position, limit):
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
    return tuple(expand(node, position, limit))


@functools.cache
def _rest_lengths(node: Seq) -> tuple[int, ...]:
    """For each item of the sequence, the shortest match of the items after it."""
    lengths = [min_length(item) for item in node.items]
    return tuple(sum(lengths[index + 1 :]) for index in range(len(lengths)))


def _expand_sequence(node: Seq, index: int, position: int, limit: int) -> Iterator[Fragment]:
    if index == len(node.items):
        yield Fragment(position, position)
        return
    rest = _rest_lengths(node)[index]
    for head in expand(node.items[index], position, limit):
        if head.end + rest > limit:
            continue  # no room left for what follows (limit stays the string's length:
            # look-aheads and $ inside the head need it)
        for tail in _expand_sequence(node, index + 1, head.end, limit):
            yield head.then(tail)


def _expand_repeat(node: Repeat, count: int, position: int, limit: int) -> Iterator[Fragment]:
    if node.high is None or count < node.high:
        for head in expand(node.inner, position, limit):
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


def decide(condition: Condition, masks: tuple[Mask, ...]) -> bool | Condition:
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
        decided = decide(nested, masks)
        if decided is False:
            return None
        if decided is not True:
            remaining.append(decided)
    return Option(tuple(constraints), tuple(remaining))
