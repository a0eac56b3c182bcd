"""The short ways validation takes for small chunks and common values give exactly what the
general ways give (pandas on every value): dates, order days, shipped spellings, carrier
names. Each is held against the general way, kept here as the reference."""

from __future__ import annotations

import datetime as dt
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ftpbridge.carriers import canonical_carrier
from ftpbridge.carriers.names import _ALIAS_INDEX, _SEPARATORS
from ftpbridge.files import rows as rows_module
from ftpbridge.files.rows import SHIPPED, _parse_texts, _parse_with_pandas, local_days

FORMATS = ("%m/%d/%Y", "%d.%m.%Y %H:%M")

iso_days = st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat)
texts = st.one_of(
    iso_days,
    iso_days.map(lambda day: day + "T10:30:00Z"),
    iso_days.map(lambda day: day + " 23:59"),
    st.dates().map(lambda day: day.strftime("%m/%d/%Y")),
    st.dates().map(lambda day: day.strftime("%d.%m.%Y 10:00")),
    st.sampled_from(
        ["", "0000-01-01", "2023-02-29", "2026-13-01", "45567", "٢٠٢٦-٠١-٠٥", "2026-1-5"]
    ),
    st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=30, unique=True), st.sampled_from([(), FORMATS]))
@example(["0000-01-01", "", "2026-11-22"], FORMATS)
def test_a_few_dates_are_read_as_pandas_reads_them(values: list[str], formats) -> None:
    """ISO dates read one by one (year 0 and invalid days left to pandas) give the days
    that the pandas way gives for every text, NaT where it gives NaT."""
    index = pd.Index(values, dtype=object)
    quick = _parse_texts(index, formats)
    reference = _parse_with_pandas(index, formats)
    assert quick.dtype == reference.dtype == np.dtype("datetime64[s]")
    np.testing.assert_array_equal(quick, reference)


def test_many_distinct_dates_take_the_pandas_way(monkeypatch) -> None:
    """Over FEW_TEXTS distinct texts, the texts go to pandas in one call (a file whose
    dates carry times can hold a distinct text per row)."""
    calls = []
    real = rows_module._parse_with_pandas
    monkeypatch.setattr(
        rows_module, "_parse_with_pandas", lambda t, f: calls.append(len(t)) or real(t, f)
    )
    days = pd.date_range("2026-01-01", periods=rows_module.FEW_TEXTS + 1, freq="h")
    index = pd.Index(days.strftime("%Y-%m-%d %H:%M"), dtype=object)
    parsed = _parse_texts(index, ())
    assert calls == [len(index)]
    assert parsed[-1] == np.datetime64(days[-1].normalize().to_datetime64(), "s")


def _days_by_pandas(values: pd.Series, timezone: str) -> np.ndarray:
    """The reference: what validation computed before local_days."""
    return (
        pd.to_datetime(values, utc=True, format="ISO8601")
        .dt.tz_convert(timezone)
        .dt.tz_localize(None)
        .dt.normalize()
        .to_numpy(dtype="datetime64[s]")
    )


moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(moments, st.none()), min_size=1, max_size=20),
    st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Asia/Kathmandu"]),
    st.booleans(),
)
def test_order_days_read_by_numpy_are_the_days_pandas_reads(moments_, timezone, aware) -> None:
    """SQLite's text of UTC times (and PostgreSQL's aware datetimes, and missing values)
    give each time's day in the partner's zone exactly as to_datetime(ISO8601) does."""
    if aware:
        values = [None if m is None else m.replace(tzinfo=dt.UTC) for m in moments_]
    else:
        values = [None if m is None else m.strftime("%Y-%m-%d %H:%M:%S.%f") for m in moments_]
    series = pd.Series(values, dtype=object)
    np.testing.assert_array_equal(
        local_days(series.to_numpy(), timezone), _days_by_pandas(series, timezone)
    )


@pytest.mark.parametrize(
    "odd",
    [
        "2026-11-22 23:30:00.000+01",  # 26 characters, an offset instead of microseconds
        "2026-11-22 23:30:00.000000+01:00",  # SQLite's shape, and an offset after it
        "2026-11-22T23:30:00.000000",
        "2026-11-22 23:30:00",
    ],
)
def test_a_time_not_in_sqlites_shape_takes_the_pandas_way(odd: str) -> None:
    """Text that is not exactly SQLite's time, beside text that is: pandas reads them
    all, with the same answer as before."""
    for timezone in ("UTC", "Asia/Kathmandu"):
        series = pd.Series([odd, "2026-11-22 10:00:00.000000"], dtype=object)
        np.testing.assert_array_equal(
            local_days(series.to_numpy(), timezone), _days_by_pandas(series, timezone)
        )


@given(st.lists(st.one_of(st.sampled_from(sorted(SHIPPED)), st.text(max_size=8)), max_size=20))
def test_shipped_spellings_mean_what_the_pandas_way_said(spellings: list[str]) -> None:
    """True/False for the contract's spellings in any case, None (missing) otherwise."""
    index = pd.Index(
        [spelling.upper() if position % 2 else spelling for position, spelling in
         enumerate(spellings)],
        dtype=object,
    )  # fmt: skip
    quick = rows_module._shipped_meanings(index)
    reference = np.asarray(index.str.casefold().map(SHIPPED), dtype=object)
    assert [None if pd.isna(value) else value for value in reference] == quick.tolist()


spellings = st.one_of(
    st.sampled_from(sorted(_ALIAS_INDEX)),
    st.sampled_from(["UPS", "u.p.s.", "ＵＰＳ", "UРS", "Fed-Ex", "dhl express", "", " "]),
    st.text(max_size=10),
)


@given(st.lists(spellings, max_size=20))
def test_carrier_names_are_folded_as_the_pandas_way_folded_them(values: list[str]) -> None:
    """NFKC, case folding and separators out, per distinct spelling: the same canonical
    names, "" for empty, missing for unknown."""
    series = pd.Series(values, dtype="str")
    folded = series.str.normalize("NFKC").str.casefold().str.replace(_SEPARATORS, "", regex=True)
    reference = folded.map(_ALIAS_INDEX).where(series != "", "")
    quick = canonical_carrier(series)
    assert quick.dtype == "str"
    assert quick.isna().tolist() == reference.isna().tolist()
    assert quick.fillna("?").tolist() == reference.fillna("?").tolist()
    assert all(unicodedata.is_normalized("NFKC", name) for name in quick.dropna())
