"""Carriers: canonical names and aliases, tracking-number formats as data, check digits,
tracking URLs.

The rooms, each owning one thing:

- ``names``: the carrier table (canonical names, spellings, the formats each accepts, its
  tracking page) and :func:`canonical_carrier`;
- ``formats``: the tracking_number_data corpus vendored in ``data/`` (see ``data/SOURCE``
  and ``scripts/refresh-carriers``), loaded as data;
- ``syntax``: the corpus's regex subset, parsed;
- ``expansion``: a parsed pattern expanded into the ways it matches a string of one length;
- ``patterns``: those ways as numpy position tables (shapes), matched a column at a time;
- ``checks``: the check-digit algorithms, a column at a time;
- ``matching``: :func:`check_tracking`, a column of numbers against their carriers
  (:func:`tracking_problems` the same on numpy arrays);
- ``cleaning``: normalising numbers and spotting spreadsheet damage;
- ``urls``: tracking page URLs.

This module is the public surface; the others are free to change behind it.
"""

from ftpbridge.carriers.cleaning import cleaned_tracking, looks_scientific, normalise_tracking
from ftpbridge.carriers.matching import check_tracking, tracking_problems
from ftpbridge.carriers.names import (
    CARRIERS,
    accepted_carriers_text,
    canonical_carrier,
    canonical_carriers,
    display_name,
)
from ftpbridge.carriers.urls import tracking_url, tracking_urls

__all__ = [
    "CARRIERS",
    "accepted_carriers_text",
    "canonical_carrier",
    "canonical_carriers",
    "check_tracking",
    "cleaned_tracking",
    "display_name",
    "looks_scientific",
    "normalise_tracking",
    "tracking_problems",
    "tracking_url",
    "tracking_urls",
]
