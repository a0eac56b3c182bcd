"""Words for people: counts with the right noun, formats shown as examples.

The bottom layer, so that every message of ftpbridge (files, exchange, CLI, HTTP) says
"1 row" and "2 rows", never "1 rows" or "row(s)".
"""

from __future__ import annotations

import re

_IRREGULAR = {"entry": "entries", "was": "were", "is": "are", "has": "have", "this": "these"}

# strftime codes → what a person types (as a spreadsheet shows the format).
_EXAMPLES = {
    "%Y": "YYYY",
    "%y": "YY",
    "%m": "MM",
    "%d": "DD",
    "%-m": "M",
    "%-d": "D",
    "%H": "hh",
    "%I": "hh",
    "%M": "mm",
    "%S": "ss",
    "%p": "AM/PM",
    "%b": "Mon",
    "%B": "Month",
    "%a": "Mon",
    "%A": "Monday",
    "%e": "D",
    "%j": "DDD",
    "%%": "%",
}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``"1 row"``, ``"2 rows"``, ``"3,000 rows"``; ``many`` for an irregular plural."""
    word = noun if count == 1 else (many or _IRREGULAR.get(noun) or noun + "s")
    return f"{count:,} {word}"


def format_example(strftime_format: str) -> str:
    """A strftime format as people write it: ``%m/%d/%Y`` → ``MM/DD/YYYY``."""
    return re.sub(
        r"%-?[a-zA-Z%]",
        lambda match: _EXAMPLES.get(match.group(0), match.group(0)),
        strftime_format,
    )


def quoted(value: object, limit: int = 80) -> str:
    """``value`` in single quotes as a person typed it, never escaped the way ``repr``
    does (``'O'Brien'``, not ``"O'Brien"``; ``'Zürich'``), cut to ``limit`` characters."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"
