"""Tracking page URLs: the carrier table's template with the number URL-quoted into it."""

from __future__ import annotations

from urllib.parse import quote

import numpy as np
import pandas as pd

from ftpbridge.carriers.cleaning import letters_and_digits_only
from ftpbridge.carriers.names import BY_NAME


def tracking_url(carrier: str, number: str) -> str | None:
    """The carrier's tracking page for ``number``, or None when the carrier (a canonical
    name) is unknown or has no tracking page (OTHER) or the number is empty. The number
    is URL-quoted, so nothing in it can change the URL's meaning."""
    entry = BY_NAME.get(carrier)
    if entry is None or entry.tracking_url is None or not number:
        return None
    return entry.tracking_url.replace("%s", quote(number, safe=""))


def tracking_urls(carriers: pd.Series, numbers: pd.Series) -> pd.Series:
    """:func:`tracking_url` for two columns row for row (the index of ``numbers``): a str
    Series with missing values where there is no URL. Numbers of letters and digits only
    (nearly all) need no quoting and are joined in a column at a time."""
    if len(carriers) != len(numbers):
        raise ValueError(
            f"carriers and numbers differ in length ({len(carriers)} and {len(numbers)})"
        )
    values = numbers.to_numpy(dtype=object, na_value="")
    sizes = numbers.str.len().to_numpy(dtype=np.int64, na_value=0)
    quoted = values.copy()
    odd = np.flatnonzero(~letters_and_digits_only(values, sizes))
    quoted[odd] = [quote(str(value), safe="") for value in values[odd]]
    result = np.full(len(numbers), None, dtype=object)
    codes, names = pd.factorize(carriers)
    for code, name in enumerate(names):
        entry = BY_NAME.get(name)
        if entry is None or entry.tracking_url is None:
            continue
        before, _, after = entry.tracking_url.partition("%s")
        rows = np.flatnonzero((codes == code) & (sizes > 0))
        result[rows] = before + quoted[rows] + after
    return pd.Series(result, index=numbers.index, dtype="str")
