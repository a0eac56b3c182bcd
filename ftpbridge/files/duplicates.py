"""The same item on several rows of one file: identical rows, and rows that disagree.

The importer reads a file twice; its first pass keeps a hash of each row's values read
by meaning (:func:`comparable`), and :func:`find_duplicates` tells which rows repeat an
earlier one (``duplicate_of``) and which disagree (``conflicts_with``). The validation
rules ``duplicate_rows`` and ``conflicting_rows`` then decide them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ftpbridge.carriers.tracking import canonical_carrier, normalise_tracking
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
