"""Row validation of an updated file: a list of small rules, vectorised (no Python loop
over rows).

Given one chunk of the file (text columns, see :func:`ftpbridge.files.reading.iter_chunks`)
and the store's state of the items it names, :func:`validate` decides for every row an
outcome (``applied``, ``unchanged`` or ``rejected``) with a reason a person can act on.
The rules are in :data:`RULES`, in the order they apply: each takes the chunk's
:class:`~ftpbridge.files.rows.Rows` and yields its verdicts, and the first outcome given
to a row is its outcome. A shipped row's fields are checked by
:data:`~ftpbridge.files.shipment_checks.FIELD_CHECKS`, all of them, so that every problem
of a row is reported at once.

This module holds the list and its application (``decide``, ``validate``); the rules
themselves are by subject: ``row_rules`` (the row as written), ``item_rules`` (the item
named and its state in the store), ``shipment_checks`` (a shipped row's fields). The
outcomes are defined in ``verdicts`` and offered here too (``__all__``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ftpbridge.files.item_rules import (
    correction,
    edit_window,
    item_known,
    not_cancelled,
    not_shipped,
    same_as_stored,
    shipped,
)
from ftpbridge.files.row_rules import conflicting_rows, duplicate_rows, ids_present, shipped_spelled
from ftpbridge.files.rows import Rows, Terms
from ftpbridge.files.shipment_checks import shipment_fields, tracking_warning
from ftpbridge.files.verdicts import APPLIED, REJECTED, UNCHANGED, Rule, Verdict, Verdicts

__all__ = [
    "APPLIED",
    "REJECTED",
    "RULES",
    "UNCHANGED",
    "Decisions",
    "Terms",
    "Verdict",
    "decide",
    "validate",
]


# ---------------------------------------------------------------------------- the rules
# Each takes the rows and yields its verdicts; validate() applies them in the order of
# RULES, and the first outcome given to a row is its outcome.
RULES: tuple[Rule, ...] = (
    conflicting_rows,  # rejected: the same item with other values on another row
    duplicate_rows,  # unchanged: the same row again
    ids_present,  # rejected: no order_id or item_id
    shipped_spelled,  # rejected: shipped empty beside filled fields, or an unknown spelling
    item_known,  # rejected: no such item, another order's, another partner's
    not_shipped,  # unchanged (rejected if it would un-ship)
    not_cancelled,  # rejected: the shop cancelled it
    shipment_fields,  # rejected: every problem of shipped_date, carrier, tracking_number
    tracking_warning,  # a note: the tracking number does not look like its carrier's
    same_as_stored,  # unchanged: already shipped with these details
    edit_window,  # rejected: shipped too long ago to change
    correction,  # applied: a change to a recorded shipment
    shipped,  # applied
)


class Decisions(NamedTuple):
    """What :func:`decide` says about each row of a chunk, as numpy arrays in row order:
    the outcome, its reason (with the row's warnings), the warnings alone ("" where none: a
    row applied anyway), and the normalised new values (new_shipped_date as YYYY-MM-DD
    text, new_carrier, new_tracking_number)."""

    outcome: np.ndarray
    reason: np.ndarray
    warning: np.ndarray
    new_shipped_date: np.ndarray
    new_carrier: np.ndarray
    new_tracking_number: np.ndarray


def decide(
    chunk: pd.DataFrame, state: pd.DataFrame, terms: Terms, *, positions: np.ndarray | None = None
) -> Decisions:
    """Decide every row of ``chunk`` by RULES, in order; the first outcome for a row wins.
    ``chunk`` and ``state`` as :func:`validate` takes them; the answers as arrays.
    ``positions``: each row's item's place in ``state`` (-1: unknown), when the caller
    has found them already."""
    rows = Rows(chunk, state, terms, positions)
    verdicts = Verdicts(rows.size)
    for rule in RULES:
        if not verdicts.open.any():  # every row decided: the rules left have nothing to say
            break
        for verdict in rule(rows):
            verdicts.apply(verdict)
    outcome, reason, warning = verdicts.finished()
    return Decisions(outcome, reason, warning, rows.ship_day, rows.carriers, rows.tracking)


def validate(chunk: pd.DataFrame, state: pd.DataFrame, terms: Terms) -> pd.DataFrame:
    """Decide every row of ``chunk`` by RULES, in order; the first outcome for a row wins.

    ``chunk``: columns order_id, item_id, shipped, shipped_date, carrier, tracking_number,
    row (stripped text), plus optional ``duplicate_of`` (row number of an identical earlier
    row, 0 if none) and ``conflicts_with`` (text naming the conflicting rows, "" if none).
    ``state``: the store's items named in the chunk, indexed by item_id, with columns
    order_id, partner, status, shipped_date (date or None), carrier, tracking_number,
    order_created_at (aware datetime).

    Returns the chunk with columns outcome, reason (with the row's warnings), warning (the
    warnings alone, "" where none: a row applied anyway), and the normalised new values
    new_shipped_date (YYYY-MM-DD text), new_carrier, new_tracking_number (see
    :func:`decide` for the same answers as arrays).
    """
    decisions = decide(chunk, state, terms)
    result = chunk.copy()
    for name, values in zip(Decisions._fields, decisions, strict=True):
        result[name] = values
    return result
