"""One tracking number on the orders of two different customers, within one import.

A parcel goes to one address: a tracking number given to the orders of two customers is
almost always a number pasted on the wrong row. It is applied (carriers do consolidate,
and a false refusal would hold a real shipment back) but warned about, in the report and
the command's summary, naming the earlier row.

Vectorised across the chunks of a file, in numpy: what is kept between chunks is, per
tracking number, its first customer and first row (hashes and a row number, 24 bytes a
number, in arrays sorted by number), and for the few numbers a second customer gave, that
one's first row; never the rows. A customer is the order's e-mail, else its shipping name
and postal code (the store's ``lookup`` gives it). Numbers and customers are compared by
Python's 64-bit string hash (both would have to collide at once for a wrong warning).
"""

from __future__ import annotations

import numpy as np

_NONE = -1  # no other customer (row numbers are >= 2)


def _hashes(values: np.ndarray) -> np.ndarray:
    return np.fromiter(map(hash, values), dtype=np.int64, count=len(values))


class TrackingAcrossCustomers:
    """Feed it each chunk's decided rows in file order; it returns the warning per row."""

    def __init__(self) -> None:
        empty = np.empty(0, np.int64)
        self._tracking, self._first, self._first_row = empty, empty, empty
        # tracking hash -> (the second customer's hash, its first row)
        self._second: dict[int, tuple[int, int]] = {}

    def warnings(
        self, applied: np.ndarray, tracking: np.ndarray, customer: np.ndarray, rows: np.ndarray
    ) -> np.ndarray:
        """Per row of a chunk: "" or the warning for an applied row whose tracking number an
        earlier row (of this chunk or an earlier one) gave to another customer's order.

        ``applied``: bool per row; ``tracking``: the normalised tracking numbers;
        ``customer``: the order's customer ("" when unknown); ``rows``: row numbers, in
        file order.
        """
        result = np.full(len(rows), "", dtype=object)
        use = np.flatnonzero(applied & (tracking != "") & (customer != ""))
        if use.size == 0:
            return result
        unsorted = _hashes(tracking[use])
        order = np.argsort(unsorted, kind="stable")  # file order within one number
        positions = use[order]
        numbers = unsorted[order]
        customers = _hashes(customer[positions])
        row = rows[positions].astype(np.int64)
        starts = np.empty(numbers.size, dtype=bool)
        starts[0] = True
        np.not_equal(numbers[1:], numbers[:-1], out=starts[1:])
        group = np.cumsum(starts) - 1
        distinct = numbers[starts]
        first, first_row = customers[starts], row[starts]

        # Numbers seen in earlier chunks: their first customer came first.
        at = np.searchsorted(self._tracking, distinct)
        seen = at < self._tracking.size
        seen[seen] = self._tracking[at[seen]] == distinct[seen]
        first[seen], first_row[seen] = self._first[at[seen]], self._first_row[at[seen]]

        # Rows of another customer than their number's first: the rare case, per number.
        other = customers != first[group]
        named = np.where(other, first_row[group], _NONE)
        if other.any() or self._second:
            second_row = np.full(distinct.size, _NONE, np.int64)
            for index in np.unique(group[other]).tolist():
                number = int(distinct[index])
                if number not in self._second:
                    head = np.flatnonzero((group == index) & other)[0]
                    self._second[number] = (int(customers[head]), int(row[head]))
            for index in np.flatnonzero(seen | np.isin(distinct, list(self._second))).tolist():
                found = self._second.get(int(distinct[index]))
                if found is not None:
                    second_row[index] = found[1]
            named = np.where(other, named, second_row[group])
        warn = (named != _NONE) & (named < row)
        if warn.any():
            result[positions[warn]] = (
                "the same tracking number is on row "
                + named[warn].astype(str).astype(object)
                + " for another customer's order; check which is right"
            )
        if (~seen).any():
            self._add(distinct[~seen], first[~seen], first_row[~seen])
        return result

    def _add(self, tracking: np.ndarray, first: np.ndarray, first_row: np.ndarray) -> None:
        """Merge new numbers (sorted, none known yet) into the sorted arrays: one stable
        sort of two sorted runs and a gather per array."""
        merged = np.concatenate([self._tracking, tracking])
        order = np.argsort(merged, kind="stable")
        self._tracking = merged[order]
        self._first = np.concatenate([self._first, first])[order]
        self._first_row = np.concatenate([self._first_row, first_row])[order]
