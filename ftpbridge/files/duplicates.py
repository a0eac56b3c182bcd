"""The same item on several rows of one file: identical rows, and rows that disagree.

The importer reads a file twice. Its first pass, :func:`duplicate_rows`, finds the rows
naming an item another row names too, compares their values by meaning
(:func:`comparable`) and tells (:func:`find_duplicates`) which rows repeat an earlier one
(``duplicate_of``) and which disagree (``conflicts_with``). The validation rules
``duplicate_rows`` and ``conflicting_rows`` then decide them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ftpbridge.carriers import canonical_carrier, normalise_tracking
from ftpbridge.files.reading import CsvShape, iter_chunks
from ftpbridge.files.rows import SHIPPED


def comparable(chunk: pd.DataFrame) -> pd.DataFrame:
    """The values that say whether two rows for one item agree, each spelled one way:
    shipped as true/false, the carrier by its canonical name, the tracking number
    normalised, the rest case-folded. Unknown spellings stay as written (case-folded), so
    rows that disagree in meaning never compare equal. No loop over rows."""
    shipped_text = chunk["shipped"].str.casefold()
    shipped = shipped_text.map({word: str(value) for word, value in SHIPPED.items()})
    carrier = canonical_carrier(chunk["carrier"])
    return pd.DataFrame(
        {
            "order_id": chunk["order_id"].str.casefold(),
            "shipped": shipped.fillna(shipped_text),
            "shipped_date": chunk["shipped_date"].str.casefold(),
            "carrier": carrier.fillna(chunk["carrier"].str.casefold()),
            "tracking_number": normalise_tracking(chunk["tracking_number"]),
        },
        index=chunk.index,
    )


def find_duplicates(keys: pd.DataFrame) -> pd.DataFrame:
    """Same item on several rows of one file.

    ``keys``: columns item_id, signature (a hash of the row's values), row. Returns, for
    the rows concerned only, columns row, duplicate_of (the first identical row, 0 for the
    first itself) and conflicts_with ("" or the rows that disagree, e.g. "2, 7").
    """
    repeated = keys[keys["item_id"].duplicated(keep=False) & (keys["item_id"] != "")]
    if repeated.empty:
        return pd.DataFrame({"row": [], "duplicate_of": [], "conflicts_with": []})
    groups = repeated.groupby("item_id", sort=False)
    kinds = groups["signature"].transform("nunique")
    conflicting = repeated[kinds > 1]
    identical = repeated[kinds == 1]
    first_row = identical.groupby("item_id", sort=False)["row"].transform("min")
    duplicates = pd.DataFrame(
        {
            "row": identical["row"].to_numpy(),
            "duplicate_of": np.where(
                identical["row"].to_numpy() == first_row.to_numpy(), 0, first_row.to_numpy()
            ),
            "conflicts_with": "",
        }
    )
    rows_text = conflicting.groupby("item_id", sort=False)["row"].transform(
        lambda rows: ", ".join(map(str, sorted(rows)))
    )
    conflicts = pd.DataFrame(
        {
            "row": conflicting["row"].to_numpy(),
            "duplicate_of": 0,
            "conflicts_with": rows_text.to_numpy(),
        }
    )
    return pd.concat([duplicates, conflicts], ignore_index=True)


def _signature(chunk: pd.DataFrame) -> pd.Series:
    # Compared by meaning: "TRUE"/"yes", "ups"/"UPS", "1z5r 8939..."/"1Z5R8939..." agree.
    return pd.util.hash_pandas_object(comparable(chunk), index=False)


def duplicate_rows(path: Path, shape: CsvShape, chunk_rows: int) -> pd.DataFrame:
    """First pass: rows naming an item that another row names too (usually none).

    What it keeps per row is a 64-bit hash of the item id and the row number, in numpy
    arrays (16 bytes a row: 16 MB for a million rows, no Python strings). Rows whose hash
    occurs more than once are candidates; only when there are any is the file read once
    more, keeping just those rows with their text, so that the ids themselves decide
    (two ids may share a hash) and their values are compared by meaning.
    """
    hashes: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for chunk in iter_chunks(path, shape, chunk_rows=chunk_rows, fields=("item_id",)):
        named = (chunk["item_id"] != "").to_numpy(dtype=bool)
        item_ids = chunk["item_id"].to_numpy(dtype=object)[named]
        hashes.append(pd.util.hash_array(item_ids, categorize=False))
        rows.append(chunk["row"].to_numpy(dtype=np.int64)[named])
    candidates = _rows_with_repeated_hash(hashes, rows)
    if candidates.size == 0:
        return find_duplicates(pd.DataFrame({"item_id": [], "signature": [], "row": []}))
    keys = []
    for chunk in iter_chunks(path, shape, chunk_rows=chunk_rows):
        chosen = chunk[np.isin(chunk["row"].to_numpy(dtype=np.int64), candidates)]
        if not chosen.empty:
            keys.append(
                pd.DataFrame(
                    {
                        "item_id": chosen["item_id"],
                        "signature": _signature(chosen),
                        "row": chosen["row"],
                    }
                )
            )
    return find_duplicates(pd.concat(keys, ignore_index=True)).set_index("row")


def _rows_with_repeated_hash(hashes: list[np.ndarray], rows: list[np.ndarray]) -> np.ndarray:
    """The row numbers whose hash occurs more than once, sorted."""
    if not hashes:
        return np.empty(0, dtype=np.int64)
    every_hash = np.concatenate(hashes)
    every_row = np.concatenate(rows)
    order = np.argsort(every_hash, kind="stable")
    ordered = every_hash[order]
    same_as_next = ordered[1:] == ordered[:-1]
    repeated = np.zeros(ordered.size, dtype=bool)
    repeated[1:] |= same_as_next
    repeated[:-1] |= same_as_next
    return np.sort(every_row[order[repeated]])
