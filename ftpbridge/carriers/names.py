"""The carrier table: canonical carriers, the spellings that map to them, the corpus formats
each accepts, and each one's tracking page.

A warehouse file names its carrier in many ways ("Fedex", "fed ex", "FedEx Ground"); the
store keeps one canonical name (``FEDEX``). Each carrier lists the tracking_number_data
courier whose formats it accepts (``courier``, see ``formats.py``) and formats it accepts
besides (``also``):

- FedEx SmartPost / Ground Economy and DHL eCommerce (US) parcels are handed to USPS and
  carry a USPS IMpb number (the corpus folded its ``fedex_smartpost`` and
  ``dhl_ecommerce_30`` into ``usps_impb_c`` in 2.0.0): FEDEX and DHL accept it too.
- OnTrac took over LaserShip in 2024 and both print either kind of number.
- UPU S10 numbers (``RB123456785GB``) end in the country of the postal operator: USPS,
  Royal Mail, Canada Post and Australia Post each accept S10 numbers of their country only
  (``s10_country``), which is also the corpus's "the country code names an operator" rule.

``OTHER`` accepts anything and checks nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Carrier:
    """One canonical carrier. ``tracking_url`` is a template with ``%s`` where the
    (URL-quoted) number goes, or None when the carrier has no public tracking page."""

    name: str
    display: str
    aliases: tuple[str, ...] = ()
    courier: str | None = None
    also: tuple[str, ...] = ()
    s10_country: str | None = None
    tracking_url: str | None = None


_LASERSHIP_AND_ONTRAC = (
    "ontrac_c",
    "ontrac_d",
    "lasership_lx",
    "lasership_1ls7",
    "lasership_1ls7_18",
    "lasership_1lscx",
)

TABLE: tuple[Carrier, ...] = (
    Carrier(
        "UPS",
        "UPS",
        (
            "United Parcel Service",
            "UPS Ground",
            "UPS Standard",
            "UPS Express",
            "UPS Next Day Air",
            "UPS 2nd Day Air",
            "UPS Worldwide Express",
            "UPS SurePost",
        ),
        courier="ups",
        tracking_url="https://www.ups.com/track?tracknum=%s",
    ),
    Carrier(
        "USPS",
        "USPS",
        (
            "US Postal Service",
            "United States Postal Service",
            "US Post",
            "US Mail",
            "USPS Priority Mail",
            "USPS First Class",
            "USPS First Class Mail",
            "USPS Ground Advantage",
            "Priority Mail",
            "First Class Mail",
        ),
        courier="usps",
        also=("s10",),
        s10_country="US",
        tracking_url="https://tools.usps.com/go/TrackConfirmAction?tLabels=%s",
    ),
    Carrier(
        "FEDEX",
        "FedEx",
        (
            "Fed Ex",
            "Federal Express",
            "FedEx Ground",
            "FedEx Express",
            "FedEx Home Delivery",
            "FedEx SmartPost",
            "FedEx Ground Economy",
            "FedEx International",
            "FDX",
        ),
        courier="fedex",
        also=("usps_impb_c",),
        tracking_url="https://www.fedex.com/fedextrack/?trknbr=%s",
    ),
    Carrier(
        "DHL",
        "DHL",
        ("DHL Express", "DHL eCommerce", "DHL Global Mail", "DHL Parcel", "DHL Worldwide Express"),
        courier="dhl",
        also=("usps_impb_c",),
        tracking_url="https://www.dhl.com/en/express/tracking.html?AWB=%s&brand=DHL",
    ),
    Carrier(
        "ROYAL_MAIL",
        "Royal Mail",
        ("Royal Mail", "Royal Mail Tracked", "Royal Mail Tracked 24", "Royal Mail Tracked 48"),
        also=("s10",),
        s10_country="GB",
        tracking_url="https://www.royalmail.com/track-your-item#/tracking-results/%s",
    ),
    Carrier(
        "CANADA_POST",
        "Canada Post",
        (
            "Canada Post",
            "Postes Canada",
            "Canada Post Corporation",
            "Société canadienne des postes",
        ),
        courier="canada_post",
        also=("s10",),
        s10_country="CA",
        tracking_url=(
            "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%s"
        ),
    ),
    Carrier(
        "AMAZON",
        "Amazon",
        ("Amazon Logistics", "Amazon Shipping", "AMZL"),
        courier="amazon",
        tracking_url="https://track.amazon.com/tracking/%s",
    ),
    Carrier(
        "ONTRAC",
        "OnTrac",
        ("On Trac",),
        courier="ontrac",
        also=_LASERSHIP_AND_ONTRAC,
        tracking_url="https://www.ontrac.com/tracking/?number=%s",
    ),
    Carrier(
        "LASERSHIP",
        "LaserShip",
        ("Laser Ship",),
        courier="lasership",
        also=_LASERSHIP_AND_ONTRAC,
        tracking_url="https://www.ontrac.com/tracking/?number=%s",
    ),
    Carrier(
        "DPD",
        "DPD",
        courier="dpd",
        tracking_url="https://www.dpdgroup.com/nl/mydpd/my-parcels/track?lang=en&parcelNumber=%s",
    ),
    Carrier(
        "PUROLATOR",
        "Purolator",
        courier="purolator",
        tracking_url="https://www.purolator.com/en/shipping/tracker?searchValue=%s",
    ),
    Carrier(
        "AUSTRALIA_POST",
        "Australia Post",
        ("Australia Post", "AusPost"),
        also=("s10",),
        s10_country="AU",
        tracking_url="https://auspost.com.au/mypost/track/details/%s",
    ),
    Carrier(
        "CANPAR",
        "Canpar",
        ("Canpar Express",),
        courier="canpar",
        tracking_url="https://www.canpar.com/en/track/tracking.jsp?reference=%s&locale=en",
    ),
    Carrier(
        "GOFO",
        "GOFO Express",
        ("GOFO Express",),
        courier="gofo",
        tracking_url="https://www.gofoexpress.com/tracking.html?searchID=%s",
    ),
    Carrier(
        "LANDMARK",
        "Landmark Global",
        ("Landmark Global",),
        courier="landmark",
        tracking_url="https://track.landmarkglobal.com/?search=%s",
    ),
    Carrier(
        "OLD_DOMINION",
        "Old Dominion",
        ("Old Dominion Freight Line", "ODFL"),
        courier="old_dominion",
        tracking_url=(
            "https://www.odfl.com/us/en/tools/trace-track-ltl-freight/trace.html?proNumbers=%s"
        ),
    ),
    Carrier(
        "SPEE_DEE",
        "Spee-Dee",
        ("Spee-Dee Delivery",),
        courier="speedee",
        tracking_url="https://www.speedeedelivery.com/track/?tracking=%s",
    ),
    Carrier(
        "YODEL",
        "Yodel",
        courier="yodel",
        tracking_url="https://www.yodel.co.uk/tracking/%s",
    ),
    Carrier(
        "YUNEXPRESS",
        "YunExpress",
        courier="yunexpress",
        tracking_url="https://www.yuntrack.com/parcelTracking?id=%s",
    ),
    Carrier("OTHER", "other carrier"),
)

CARRIERS: tuple[str, ...] = tuple(carrier.name for carrier in TABLE)
BY_NAME: dict[str, Carrier] = {carrier.name: carrier for carrier in TABLE}


def display_name(carrier: str) -> str:
    """The carrier's name for people ("Royal Mail" for ``ROYAL_MAIL``); an unknown name
    as it is."""
    entry = BY_NAME.get(carrier)
    return entry.display if entry is not None else carrier


# What _fold removes. Only separators: letters of other scripts stay, so that a look-alike
# such as a Cyrillic "Р" in "UРS" makes the name unknown instead of quietly matching.
_SEPARATORS = re.compile(r"[\s.\-_&\u2010-\u2015\u2212]+")


def _fold(name: str) -> str:
    """Return the lookup key of one carrier spelling (used for the alias table only)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", name).casefold())


def _build_alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for carrier in TABLE:
        for spelling in (carrier.name, *carrier.aliases):
            key = _fold(spelling)
            if index.setdefault(key, carrier.name) != carrier.name:
                raise RuntimeError(f"carrier spelling {spelling!r} is listed twice")
    return index


_ALIAS_INDEX: dict[str, str] = _build_alias_index()


def canonical_carrier(values: pd.Series) -> pd.Series:
    """Return the canonical carrier name of each value.

    ``values`` is a str Series, already stripped, where ``""`` means empty. The result has
    the same index: a name from :data:`CARRIERS`, ``""`` where the value is empty, and a
    missing value (``isna()`` is true) where the name is unknown or the value is missing.
    Names are compared after NFKC normalisation (fullwidth and other compatibility forms
    become plain letters) and case folding, ignoring spaces, dots, dashes, underscores and
    "&"; letters of other scripts are never folded onto Latin ones.
    """
    names = canonical_carriers(values.to_numpy(dtype=object))
    return pd.Series(names, index=values.index, name=values.name, dtype="str")


def canonical_carriers(values: np.ndarray) -> np.ndarray:
    """:func:`canonical_carrier` on a numpy object array, None where unknown or missing
    (validation calls this one: a str Series in and out costs more than the work)."""
    # Work on the distinct spellings (a handful per file) and spread the answers back with
    # the factorize codes: the per-row work is two C-level passes. _fold on a spelling is
    # what pandas' str.normalize, str.casefold and str.replace did to it, without their
    # fixed cost per call (0.4 ms of a 1,000-item API update).
    codes, uniques = pd.factorize(values)  # missing values get code -1
    answers = np.array(
        [
            "" if spelling == "" else _ALIAS_INDEX.get(_fold(spelling))
            for spelling in np.asarray(uniques, dtype=object).tolist()
        ]
        + [None],  # what code -1 points at
        dtype=object,
    )
    names: np.ndarray = answers[codes]
    return names


def accepted_carriers_text() -> str:
    """The accepted carrier names as one line for error messages: ``"UPS, USPS, ..."``."""
    return ", ".join(CARRIERS)
