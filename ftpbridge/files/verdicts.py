"""Verdicts: what the validation rules say about rows, and how it adds up per row; the
outcomes a row can have (``APPLIED``, ``UNCHANGED``, ``REJECTED``; ``NOTE`` decides
nothing) and what a rule is (``Rule``: the chunk's Rows in, Verdicts out).

A rule yields :class:`Verdict` objects (a mask of rows, an outcome, a reason); a
:class:`Verdicts` collects them for one chunk: the first outcome given to a row is its
outcome, and notes (``NOTE`` verdicts) are added to the rows still undecided. Reasons that
quote a row's values are built for the rows concerned only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ftpbridge.files.rows import Rows
from ftpbridge.textarrays import strip

APPLIED, UNCHANGED, REJECTED = "applied", "unchanged", "rejected"

# A reason: fixed text, or a function of the rows it is for (positions in the chunk) that
# returns their texts. Texts that quote a row's values are built for those rows only:
# most rows of a file are fine and need none.
Reason = str | Callable[[np.ndarray], np.ndarray]
NOTE = "note"  # a Verdict that adds its reason to the rows still undecided, deciding nothing


@dataclass(frozen=True)
class Verdict:
    """What a rule says about the rows in ``rows`` (a bool mask over the chunk): their
    ``outcome`` and why, or (``outcome == NOTE``) a remark for those still undecided."""

    rows: np.ndarray
    outcome: str
    reason: Reason


Rule = Callable[[Rows], Iterator[Verdict]]


def _texts_for(rows: np.ndarray, reason: Reason) -> Any:
    return reason if isinstance(reason, str) else reason(rows)


def append_reason(texts: np.ndarray, mask: np.ndarray, reason: Reason) -> None:
    """Add ``reason`` to ``texts`` where ``mask`` is set, after a "; " where there is one."""
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return
    before = texts[rows]
    texts[rows] = np.where(before == "", "", before + "; ") + _texts_for(rows, reason)


class Verdicts:
    """Per-row outcome and reason: the first decision for a row wins, notes accumulate."""

    def __init__(self, size: int) -> None:
        self.outcome = np.full(size, "", dtype=object)
        self.reason = np.full(size, "", dtype=object)
        self.note = np.full(size, "", dtype=object)
        self.open = np.ones(size, dtype=bool)
        # Rows whose reason may need strip("; ") at the end: those given a built text or
        # a fixed one that starts or ends with "; " (none does), and those with a note.
        self.built = np.zeros(size, dtype=bool)

    def apply(self, verdict: Verdict) -> None:
        if verdict.outcome == NOTE:
            append_reason(self.note, verdict.rows & self.open, verdict.reason)
            return
        rows = np.flatnonzero(verdict.rows & self.open)
        if rows.size == 0:
            return
        self.outcome[rows] = verdict.outcome
        self.reason[rows] = _texts_for(rows, verdict.reason)
        self.open[rows] = False
        if not isinstance(verdict.reason, str) or verdict.reason != verdict.reason.strip("; "):
            self.built[rows] = True

    def finished(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(outcome, reason with the row's notes, the notes alone), reasons and notes
        stripped of "; " (only those that may need it are looked at)."""
        reason = self.reason.copy()
        noted = np.flatnonzero(self.note != "")
        warning = self.note
        if noted.size:
            reason[noted] = reason[noted] + "; " + self.note[noted]
            self.built[noted] = True
            warning = self.note.copy()
            warning[noted] = strip(self.note[noted], "; ")
        touched = np.flatnonzero(self.built)
        if touched.size:
            reason[touched] = strip(reason[touched], "; ")
        return self.outcome, reason, warning
