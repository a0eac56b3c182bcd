"""The regex subset of the tracking_number_data corpus, parsed into a small syntax tree.

Supported (the loader refuses anything else, with the position): literals, escapes
(``\\s \\d \\w \\b`` and escaped punctuation), classes ``[...]`` with ranges and ``^``,
``.``, ``^`` and ``$``, groups ``(...)``, ``(?:...)``, ``(?P<name>...)``, look-aheads
``(?=...)`` ``(?!...)``, alternation, and the quantifiers ``* + ? {n} {n,} {n,m}``.

A set of bytes is an int used as a 256-bit mask. Numbers are normalised before matching (no
whitespace: see ``cleaning.py``), so ``\\s`` is the empty set here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

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
