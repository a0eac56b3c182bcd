"""Tests for ftpbridge.carriers: carrier names, tracking-number formats and check digits.

Known numbers come from the tracking_number_data corpus by Jeff Keen (MIT licence), which
ftpbridge vendors (ftpbridge/carriers/data); tests/unit/test_carriers_corpus.py walks all of
its samples. tests/carrier_reference.py is the one-number-at-a-time reference that the
vectorised code must agree with.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ftpbridge.carriers
from ftpbridge.carriers import (
    CARRIERS,
    accepted_carriers_text,
    canonical_carrier,
    check_tracking,
    looks_scientific,
    normalise_tracking,
)
from ftpbridge.carriers.matching import accepted_formats
from tests.carrier_reference import carrier_verdicts, reference_check

# --------------------------------------------------------------------------------------
# Known numbers (corpus samples, and the forms they travel in)

VALID = [
    ("UPS", "1Z5R89390357567127"),
    ("UPS", "1Z879E930346834440"),
    ("UPS", "1Z410E7W0392751591"),
    ("UPS", "1Z8V92A70367203024"),
    ("UPS", "1ZXX3150YW44070023"),
    ("UPS", "K1506235620"),  # UPS waybill (warned about before)
    ("UPS", "J4603636537"),
    ("FEDEX", "986578788855"),
    ("FEDEX", "477179081230"),
    ("FEDEX", "799531274483"),
    ("FEDEX", "790535312317"),
    ("FEDEX", "974367662710"),
    ("FEDEX", "1001921334250001000300779017972697"),
    ("FEDEX", "1001901781990001000300617767839437"),
    ("FEDEX", "1027590111820004833500785458233610"),  # Express 34 starting 102
    ("FEDEX", "1195266473930007521100871079919940"),  # and 119 (warned about before)
    ("FEDEX", "32971514560102447849175802862014"),  # ASTRA (warned about before)
    ("FEDEX", "9261292700768711948021"),  # SmartPost: a USPS IMpb
    ("FEDEX", "4201028200009261290113185417468510"),  # SmartPost behind 420 + ZIP
    ("FEDEX", "041441760228964"),
    ("FEDEX", "568283610012734"),
    ("FEDEX", "000123450000000027"),
    ("FEDEX", "00012345000000000027"),  # SSCC with AI 00 (supplement)
    ("FEDEX", "012345000000000027"),  # SSCC-18, GS1 check over 17 digits (supplement)
    ("FEDEX", "9611020987654312345672"),
    ("FEDEX", "9622001900000000000000776632517510"),
    ("FEDEX", "9632001560123456789900794808390594"),
    ("USPS", "03071790000523483741"),
    ("USPS", "71123456789123456787"),
    ("USPS", "71969010756003077385"),
    ("USPS", "4201002334249200190132607600833457"),
    ("USPS", "420221539101026837331000039521"),
    ("USPS", "420787459400111206206406260787"),
    ("USPS", "9505511069605048600624"),
    ("USPS", "9101123456789000000013"),
    ("USPS", "92748931507708513018050063"),
    ("USPS", "9400111201080805483016"),
    ("USPS", "9361289878700317633795"),
    ("USPS", "RB123456785US"),
    ("USPS", "42012345" + "92748931507708513018050063"),
    ("USPS", "42012345" + "71969010756003077385"),
    ("USPS", "420123456789" + "71969010756003077385"),
    ("ROYAL_MAIL", "RB123456785GB"),
    ("CANADA_POST", "RB123456785CA"),
    ("CANADA_POST", "0073938000549297"),
    ("CANADA_POST", "7035114477138472"),
    ("DHL", "3318810025"),
    ("DHL", "8487135506"),
    ("DHL", "73891051146"),
    ("DHL", "JJD0099999999"),
    ("DHL", "JVGL0999999990"),
    ("DHL", "GM2951173225174494"),
    ("DHL", "GM9E44608A27984866BA2D"),  # eCommerce with letters (warned about before)
    ("DHL", "60120172242323"),  # eCommerce 14 (warned about before)
    ("DHL", "9261292700768711948021"),  # eCommerce handed to USPS
    ("AMAZON", "TBA010000000000"),
    ("ONTRAC", "C11031500001879"),
    ("ONTRAC", "D10011354453707"),
    ("ONTRAC", "1LS7119013618127-1"),  # a LaserShip number, with its dash
    ("LASERSHIP", "LX17635036"),
    ("LASERSHIP", "C11031500001879"),
    ("DPD", "008182709980000020033350276C"),
    ("DPD", "09980000020033F"),
    ("PUROLATOR", "320595463938"),
    ("PUROLATOR", "KYV009956937"),
    ("AUSTRALIA_POST", "RB123456785AU"),
    ("OLD_DOMINION", "07209562763"),
    ("YODEL", "JJD0002257639032011"),
]

# Numbers of a known format with a wrong check digit: refused.
INVALID_CHECK_DIGIT = [
    ("UPS", "1Z1111111111111111"),
    ("UPS", "K1506235622"),
    ("FEDEX", "996578788855"),
    ("FEDEX", "1001901781990001000300617767839438"),
    ("FEDEX", "568283610012732"),
    ("FEDEX", "9261292700768711948020"),
    ("FEDEX", "9622001560001234567100794808390595"),
    ("FEDEX", "32971514560102447849175802852014"),
    ("FEDEX", "00012345000000000028"),
    ("USPS", "03071790000523483742"),
    ("USPS", "4201028200009261290113185417468511"),
    ("USPS", "RB123456786US"),
    ("CANADA_POST", "0073938000549292"),
    ("CANADA_POST", "5002847016405018"),
    ("DHL", "3318810010"),
    ("DHL", "73891051149"),
    ("ONTRAC", "C11031500001889"),
    ("DPD", "008182709980000020033350276A"),
    ("PUROLATOR", "320595463939"),
    ("OLD_DOMINION", "07209562773"),
]

# Numbers that match no format of the carrier: applied with a warning.
NO_FORMAT = [
    ("UPS", "2Z5R89390357567127"),
    ("UPS", "1A5R89390357567127"),
    ("USPS", "RB123456785XX"),
    ("ROYAL_MAIL", "RB123456785US"),
    ("DHL", "XJD0099999998"),
    ("AMAZON", "TBB000000000000"),
]

DISPLAY = {
    "UPS": "UPS",
    "USPS": "USPS",
    "FEDEX": "FedEx",
    "DHL": "DHL",
    "ROYAL_MAIL": "Royal Mail",
    "CANADA_POST": "Canada Post",
    "AMAZON": "Amazon",
    "ONTRAC": "OnTrac",
    "DPD": "DPD",
    "PUROLATOR": "Purolator",
    "OLD_DOMINION": "Old Dominion",
}


def run_check(carrier: str, number: str) -> tuple[str, str]:
    """check_tracking on a single row."""
    error, warning = check_tracking(pd.Series([carrier]), pd.Series([number]))
    return error.iloc[0], warning.iloc[0]


def change_one_digit(number: str, position: int) -> str:
    """The number with the digit at ``position`` moved on by one (9 becomes 0)."""
    digit = int(number[position])
    return number[:position] + str((digit + 1) % 10) + number[position + 1 :]


# --------------------------------------------------------------------------------------
# canonical_carrier


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("Fedex", "FEDEX"),
        ("fed ex", "FEDEX"),
        ("FedEx Ground", "FEDEX"),
        ("Federal Express", "FEDEX"),
        ("FED-EX", "FEDEX"),
        ("ups", "UPS"),
        ("U.P.S.", "UPS"),
        ("United Parcel Service", "UPS"),
        ("Royal Mail", "ROYAL_MAIL"),
        ("royalmail", "ROYAL_MAIL"),
        ("ROYAL_MAIL", "ROYAL_MAIL"),
        ("USPS", "USPS"),
        ("US Postal Service", "USPS"),
        ("U.S. Postal Service", "USPS"),
        ("United States Postal Service", "USPS"),
        ("DHL Express", "DHL"),
        ("dhl", "DHL"),
        ("Canada Post", "CANADA_POST"),
        ("Postes Canada", "CANADA_POST"),
        ("Société canadienne des postes", "CANADA_POST"),
        ("canada_post", "CANADA_POST"),
        ("Other", "OTHER"),
        ("Amazon Logistics", "AMAZON"),
        ("Australia Post", "AUSTRALIA_POST"),
        ("Fed & Ex", "FEDEX"),
    ],
)
def test_canonical_carrier_maps_common_spellings(spelling: str, expected: str) -> None:
    """Case, spaces, dots, dashes, underscores and "&" do not matter; known names map."""
    assert canonical_carrier(pd.Series([spelling])).tolist() == [expected]


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("ＵＰＳ", "UPS"),  # fullwidth letters
        ("ｆｅｄｅｘ", "FEDEX"),
        ("Royal\u00a0Mail", "ROYAL_MAIL"),  # no-break space
        ("Royal\u3000Mail", "ROYAL_MAIL"),  # ideographic space
        ("U\u2010P\u2010S", "UPS"),  # Unicode hyphen
        ("DHL\uff06", "DHL"),  # fullwidth ampersand
    ],
)
def test_canonical_carrier_folds_compatibility_forms(spelling: str, expected: str) -> None:
    """Fullwidth and other NFKC compatibility forms map like their plain letters."""
    assert canonical_carrier(pd.Series([spelling])).tolist() == [expected]


@pytest.mark.parametrize(
    "spelling",
    [
        "UРS",  # Cyrillic Er
        "USРS",
        "FеdEx",  # Cyrillic ie
        "royal maıl",  # Turkish dotless i, which upper-cases to a Latin I
        "DΗL",  # Greek Eta
        "Fedex Groundd",
        "FedEx2",
        "-",
    ],
)
def test_canonical_carrier_does_not_map_lookalikes_or_unknown_names(spelling: str) -> None:
    """A look-alike letter from another script, or an unknown name, gives a missing value."""
    result = canonical_carrier(pd.Series([spelling]))
    assert result.isna().tolist() == [True]


def test_canonical_carrier_keeps_empty_missing_and_index() -> None:
    """ "" stays "", a missing value stays missing, and the index and name are kept."""
    values = pd.Series(
        ["", None, "ups", "nobody"], index=[10, 11, 12, 13], name="carrier", dtype="str"
    )
    result = canonical_carrier(values)
    assert result.index.tolist() == [10, 11, 12, 13]
    assert result.name == "carrier"
    assert result.iloc[0] == ""
    assert result.iloc[2] == "UPS"
    assert result.isna().tolist() == [False, True, False, True]
    assert pd.api.types.is_string_dtype(result)


def test_canonical_carrier_maps_every_canonical_name_to_itself() -> None:
    """Every name in CARRIERS is accepted as it is."""
    assert canonical_carrier(pd.Series(list(CARRIERS))).tolist() == list(CARRIERS)


SPELLINGS = st.sampled_from(
    [*CARRIERS, "fed ex", "U.P.S.", "Royal Mail", "Postes Canada", "UРS", "ＵＰＳ", ""]
)


@given(st.lists(st.one_of(SPELLINGS, st.text(max_size=12)), max_size=30))
def test_canonical_carrier_is_idempotent(values: list[str]) -> None:
    """Feeding the output back in gives the same output (names map to themselves)."""
    once = canonical_carrier(pd.Series(values, dtype="str"))
    twice = canonical_carrier(once)
    pd.testing.assert_series_equal(once, twice)
    assert set(once.dropna()) <= {*CARRIERS, ""}


def test_accepted_carriers_text_lists_every_carrier_name() -> None:
    """The text for error messages names every canonical carrier (names, not aliases),
    comma-separated, in the table's order: the ones accepted before first, OTHER last."""
    text = accepted_carriers_text()
    assert text.split(", ") == list(CARRIERS)
    assert text.startswith("UPS, USPS, FEDEX, DHL, ROYAL_MAIL, CANADA_POST, AMAZON, ONTRAC")
    assert text.endswith(", OTHER")
    assert "Federal Express" not in text


# --------------------------------------------------------------------------------------
# normalise_tracking and looks_scientific


def test_normalise_tracking_removes_whitespace_and_upper_cases() -> None:
    """Spaces, tabs, no-break and zero-width spaces go; letters become upper case; NA stays."""
    values = pd.Series(
        ["1z 5r89 3903 5756 7127", "\t9400\u00a01112\u200b0108\n", "rb123456785gb ", None, ""],
        dtype="str",
    )
    result = normalise_tracking(values)
    assert result.iloc[:3].tolist() == ["1Z5R89390357567127", "94001112" + "0108", "RB123456785GB"]
    assert result.isna().tolist() == [False, False, False, True, False]
    assert result.iloc[4] == ""


@pytest.mark.parametrize(
    "value", ["1.23457E+21", "9.4001E+21", "1,23457E+21", "1.2E21", "1E+21", "9.4e+21", " 1.2E+21"]
)
def test_looks_scientific_spots_spreadsheet_numbers(value: str) -> None:
    """Numbers a spreadsheet wrote in scientific notation are recognised."""
    assert looks_scientific(pd.Series([value])).tolist() == [True]


@pytest.mark.parametrize(
    "value",
    ["1Z5R89390357567127", "9400111201080805483016", "12E45", "E+21", "1.2", "", "RB123456785GB"],
)
def test_looks_scientific_leaves_real_numbers_alone(value: str) -> None:
    """Real tracking numbers (even digits-E-digits without a fraction or sign) are not flagged."""
    assert looks_scientific(pd.Series([value])).tolist() == [False]


def test_looks_scientific_gives_false_for_missing() -> None:
    """A missing value is not scientific notation; the result is plain bool."""
    result = looks_scientific(pd.Series(["1.2E+21", None], dtype="str"))
    assert result.tolist() == [True, False]
    assert result.dtype == bool


# --------------------------------------------------------------------------------------
# check_tracking on known numbers


@pytest.mark.parametrize(("carrier", "number"), VALID)
def test_known_valid_numbers_pass(carrier: str, number: str) -> None:
    """Real numbers (corpus samples and the forms they travel in) get neither an error nor
    a warning, including the formats the hand-kept table missed."""
    assert run_check(carrier, number) == ("", "")


@pytest.mark.parametrize(("carrier", "number"), INVALID_CHECK_DIGIT)
def test_known_invalid_check_digits_are_errors(carrier: str, number: str) -> None:
    """Numbers of a known format with a wrong check digit are errors naming the carrier."""
    error, warning = run_check(carrier, number)
    assert error == (
        f"tracking number {number} fails the {DISPLAY[carrier]} check digit; "
        "a digit is probably mistyped"
    )
    assert warning == ""


def _mutations() -> list[tuple[str, str, str]]:
    """Every valid number with a check digit, with one digit changed by one: the digit
    nearest the end whose change the reference detects."""
    cases = []
    for carrier, number in VALID:
        verdicts = carrier_verdicts(carrier, number)
        if not any(v is True for v in verdicts) or all(
            item.format.check is None
            for item, verdict in zip(accepted_formats(carrier), verdicts, strict=True)
            if verdict
        ):
            continue  # passes through a format without a check digit only
        for position in reversed([i for i, c in enumerate(number) if c.isdigit()]):
            mistyped = change_one_digit(number, position)
            if reference_check(carrier, mistyped)[0]:
                cases.append((carrier, number, mistyped))
                break
        else:
            raise AssertionError(f"no detectable one-digit change in {number}")
    return cases


@pytest.mark.parametrize(("carrier", "number", "mistyped"), _mutations())
def test_one_digit_changed_fails_the_check_digit(carrier: str, number: str, mistyped: str) -> None:
    """A valid number with one digit changed is refused as a check-digit failure."""
    error, warning = run_check(carrier, mistyped)
    assert "check digit; a digit is probably mistyped" in error
    assert warning == ""


def test_some_one_digit_changes_are_invisible_to_the_check_digit() -> None:
    """Check digits catch most typos, not all: FedEx's mod 11 mod 10 gives 0 for remainders 10
    and 0, so 974367662710 with its tenth digit changed still passes, as the carrier's own
    algorithm says it does."""
    assert run_check("FEDEX", "974367662710") == ("", "")
    assert run_check("FEDEX", "974367662720") == ("", "")
    assert reference_check("FEDEX", "974367662720") == ("", "")


@pytest.mark.parametrize(("carrier", "number"), NO_FORMAT)
def test_numbers_of_no_known_format_are_warnings(carrier: str, number: str) -> None:
    """A number that matches none of its carrier's formats is a warning, not an error."""
    error, warning = run_check(carrier, number)
    assert error == ""
    assert warning.startswith(f"tracking number {number} does not look like a")
    assert warning.endswith("tracking number; applied anyway")


def test_another_carriers_number_is_a_warning() -> None:
    """A valid UPS number sent as FedEx only warns (FedEx has no 1Z format)."""
    error, warning = run_check("FEDEX", "1Z5R89390357567127")
    assert error == ""
    assert "does not look like a FedEx tracking number" in warning


def test_s10_number_needs_the_carriers_country() -> None:
    """An S10 number is a Royal Mail one only with GB, Canada Post with CA, USPS with US."""
    assert run_check("ROYAL_MAIL", "RB123456785GB") == ("", "")
    assert run_check("ROYAL_MAIL", "RB123456785CA")[1]
    assert run_check("CANADA_POST", "RB123456785GB")[1]
    assert "fails the Royal Mail check digit" in run_check("ROYAL_MAIL", "RB123456786GB")[0]


def test_corpus_2_changes_are_deliberate() -> None:
    """Numbers the hand-kept table accepted and corpus 2.0 does not describe: a 20-digit
    SmartPost number without its 92 (an invalid USPS IMpb in corpus 2.0) and a 26-digit
    IMpb behind 420 + ZIP+4 are applied with a warning; a USPS 20 behind 420 + ZIP+4 is a
    legacy number whose check (with 91 put back) fails."""
    assert run_check("FEDEX", "61299998820821171811")[1]
    assert run_check("USPS", "420123456789" + "92748931507708513018050063")[1]
    assert "check digit" in run_check("USPS", "420123456789" + "03071790000523483741")[0]


# --------------------------------------------------------------------------------------
# Leading zeros a spreadsheet removed


@pytest.mark.parametrize(
    ("carrier", "shortened", "restored"),
    [
        ("FEDEX", "12345000000000027", "012345000000000027"),  # SSCC (the fewest zeros win)
        ("FEDEX", "123450000000027", None),  # also a valid FedEx Ground number as it is
        ("FEDEX", "41441760228964", "041441760228964"),
        ("USPS", "3071790000523483741", "03071790000523483741"),
        ("CANADA_POST", "73938000549297", "0073938000549297"),
        ("OLD_DOMINION", "7209562763", "07209562763"),
    ],
)
def test_numbers_that_lost_their_leading_zeros_are_refused_as_such(
    carrier: str, shortened: str, restored: str | None
) -> None:
    """A number that is a valid number of its carrier with its leading zeros put back is
    refused with that reason and a hint, not stored shortened; one that is valid as it is
    stays valid."""
    error, warning = run_check(carrier, shortened)
    if restored is None:
        assert (error, warning) == ("", "")
        return
    assert error == (
        f"tracking number {shortened} lost its leading zeros in a spreadsheet ({restored} is a"
        f" valid {DISPLAY[carrier]} number); re-export the file with the tracking number column"
        " formatted as text"
    )
    assert warning == ""


@pytest.mark.parametrize(
    ("carrier", "number"),
    [
        ("FEDEX", "12345000000000026"),  # no zeros make it valid: an unknown number
        ("UPS", "5R89390357567127"),  # UPS formats never start with zeros
        ("DHL", "318810025"),  # nor do DHL's
        ("FEDEX", "0012345000000000027"),  # starts with a zero: not a stripped number
    ],
)
def test_other_short_numbers_are_only_warned_about(carrier: str, number: str) -> None:
    """Zeros are put back only in front of digits-only numbers that do not start with 0,
    for formats whose own samples start with zeros, and the check must pass."""
    error, warning = run_check(carrier, number)
    assert error == ""
    assert "does not look like" in warning


@pytest.mark.parametrize(
    ("number", "offending"),
    [
        ("1Z5R8939-0357567127", "-"),
        ("9400.1112", "."),
        ("1ZÄ5R893", "Ä"),
        ("1Z5R8939O35756712Р", "Р"),
    ],
)
def test_characters_other_than_letters_and_digits_are_errors(number: str, offending: str) -> None:
    """Anything but A-Z and 0-9 is an error that quotes the offending characters."""
    error, warning = run_check("UPS", number)
    assert error == (
        f'tracking number {number} contains characters other than A-Z and 0-9 ("{offending}"); '
        "tracking numbers are letters and digits only"
    )
    assert warning == ""


@pytest.mark.parametrize("number", ["9.4001E+21", "1,23457E+21", "1.2E21"])
def test_scientific_notation_is_an_error_with_its_own_message(number: str) -> None:
    """A spreadsheet-damaged number is an error telling how to re-export the file."""
    error, _ = run_check("USPS", number)
    assert "scientific notation" in error
    assert "formatted as text" in error


@pytest.mark.parametrize("carrier", ["OTHER", "", None, "Fedex", "NOBODY"])
@pytest.mark.parametrize("number", ["1Z5R89390357567128", "ANY-THING", "12", "9.4001E+21"])
def test_carriers_without_formats_get_neither(carrier: str | None, number: str) -> None:
    """OTHER, empty, missing or non-canonical names: no checks."""
    error, warning = check_tracking(pd.Series([carrier], dtype="str"), pd.Series([number]))
    assert (error.iloc[0], warning.iloc[0]) == ("", "")


@pytest.mark.parametrize("number", ["", None])
def test_empty_or_missing_numbers_get_neither(number: str | None) -> None:
    """An empty or missing tracking number is not checked (whether one is required is not ours)."""
    error, warning = check_tracking(pd.Series(["UPS"]), pd.Series([number], dtype="str"))
    assert (error.iloc[0], warning.iloc[0]) == ("", "")


def test_results_follow_the_tracking_index_and_row_order() -> None:
    """Results are str Series aligned row for row, on the tracking Series' index."""
    tracking = pd.Series(["1Z5R89390357567128", "1Z5R89390357567127", "XYZ"], index=[7, 3, 5])
    error, warning = check_tracking(pd.Series(["UPS", "UPS", "UPS"]), tracking)
    assert error.index.tolist() == [7, 3, 5]
    assert [bool(e) for e in error] == [True, False, False]
    assert [bool(w) for w in warning] == [False, False, True]
    assert pd.api.types.is_string_dtype(error)
    assert pd.api.types.is_string_dtype(warning)


def test_check_tracking_refuses_columns_of_different_lengths() -> None:
    """Carriers and numbers must come row for row."""
    with pytest.raises(ValueError, match="differ in length"):
        check_tracking(pd.Series(["UPS"]), pd.Series(["1", "2"]))


def test_check_tracking_handles_empty_input() -> None:
    """No rows in, no rows out."""
    error, warning = check_tracking(pd.Series([], dtype="str"), pd.Series([], dtype="str"))
    assert len(error) == len(warning) == 0


# --------------------------------------------------------------------------------------
# Properties

UPS_CHARS = string.ascii_uppercase + string.digits


def ups_with_check_digit(body: str) -> str:
    """1Z + body (15 characters) + the check digit that balances UPS's mod 10."""
    for check in string.digits:
        number = "1Z" + body + check
        if carrier_verdicts("UPS", number)[0]:
            return number
    raise AssertionError("some digit always balances mod 10")


@settings(max_examples=300)
@given(
    st.text(alphabet=UPS_CHARS, min_size=15, max_size=15),
    st.integers(min_value=2, max_value=17),
    st.integers(min_value=1, max_value=9),
)
def test_ups_numbers_with_correct_check_digit_pass_and_a_changed_digit_fails(
    body: str, position: int, shift: int
) -> None:
    """A generated 1Z number passes; changing one digit fails exactly when the arithmetic can
    see it (UPS doubles every other character without digit sums, so at a doubled position a
    change of 5 is invisible)."""
    number = ups_with_check_digit(body)
    assert run_check("UPS", number) == ("", "")
    if not number[position].isdigit():
        return
    changed = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    weight = 2 if position < 17 and (position - 2) % 2 == 1 else 1
    detectable = (weight * shift) % 10 != 0
    error, warning = run_check("UPS", changed)
    assert bool(error) == detectable
    assert warning == ""


# --------------------------------------------------------------------------------------
# Many rows: same answers as the per-value reference, and no Python work per row


def number_pool(seed: int) -> list[str]:
    """Valid, mistyped, look-alike, shortened and broken numbers of every format's length."""
    rng = np.random.default_rng(seed)
    pool = [number for _, number in VALID + INVALID_CHECK_DIGIT + NO_FORMAT]
    pool += [
        change_one_digit(number, i)
        for _, number in VALID
        for i in (0, len(number) - 1)
        if number[i].isdigit()
    ]
    pool += [number.lstrip("0") for _, number in VALID if number.startswith("0")]
    for length in (9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 26, 28, 30, 32, 34, 40):
        for prefix in ("", "1Z", "92", "93", "94", "96", "100", "420", "00", "91", "3", "C", "JJD"):
            for _ in range(6):
                digits = "".join(rng.choice(list(string.digits), size=max(length - len(prefix), 1)))
                stem = (prefix + digits)[: length - 1]
                pool += [stem + check for check in string.digits]  # one or more will balance
    for _ in range(200):
        letters = "".join(rng.choice(list(string.ascii_uppercase), size=2))
        country = rng.choice(["US", "GB", "CA", "AU", "XX"])
        serial = "".join(rng.choice(list(string.digits), size=9))
        pool.append(f"{letters}{serial}{country}")
        pool.append("1Z" + "".join(rng.choice(list(UPS_CHARS), size=16)))
        pool.append("J" + "".join(rng.choice(list(string.ascii_uppercase), size=3)) + serial)
        pool.append("GM" + serial + letters + serial)
        pool.append("0" + serial[:6] + "0" * 8 + serial[6:])
        pool.append(serial[:4] + "-" + serial[4:])
        pool.append("1Z" + serial + "é" + letters)
    pool += ["", "9.4001E+21", "1,23457E+21", "1Z-5R8", "ÄBC", "UРS123", "AB CD", "0"]
    return pool


def test_two_hundred_thousand_rows_agree_with_the_per_value_reference() -> None:
    """200,000 mixed rows give, row for row, what the one-at-a-time reference gives."""
    rng = np.random.default_rng(20261123)
    pool = np.array(number_pool(1), dtype=object)
    carrier_pool = np.array([*CARRIERS, "", None, "Fedex"], dtype=object)
    size = 200_000
    numbers = pool[rng.integers(0, pool.size, size)]
    names = carrier_pool[rng.integers(0, carrier_pool.size, size)]

    error, warning = check_tracking(pd.Series(names, dtype="str"), pd.Series(numbers, dtype="str"))

    cache: dict[tuple[object, str], tuple[str, str]] = {}
    for index in range(size):
        key = (names[index], numbers[index])
        if key not in cache:
            cache[key] = reference_check(*key)
    expected = [cache[(names[index], numbers[index])] for index in range(size)]
    assert error.tolist() == [e for e, _ in expected]
    assert warning.tolist() == [w for _, w in expected]
    # The mix exercises every outcome.
    assert (error.str.contains("check digit")).sum() > 1000
    assert (error.str.contains("leading zeros")).sum() > 100
    assert (error.str.contains("characters other")).sum() > 100
    assert (warning != "").sum() > 1000
    assert ((error == "") & (warning == "")).sum() > 1000


CARRIERS_FOLDER = str(Path(ftpbridge.carriers.__file__).parent)


def lines_run_in_carriers_package(function: Callable[[], object]) -> int:
    """How many lines of ftpbridge/carriers/*.py run while ``function`` runs."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def global_(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(CARRIERS_FOLDER) else None

    sys.settrace(global_)
    try:
        function()
    finally:
        sys.settrace(None)
    return count


def test_no_python_line_runs_per_row() -> None:
    """The package runs as many Python lines for 40 times the rows: its loops are over
    carriers, lengths, formats and positions, never over rows (this counts lines, it does
    not time anything). A first run compiles the formats each length needs."""
    pool = [number for number in number_pool(2) if number.isascii() and number.isalnum()]
    names = [CARRIERS[i % len(CARRIERS)] for i in range(len(pool))]
    raw_names = ["fed ex" if name == "FEDEX" else name for name in names]

    def run(copies: int) -> Callable[[], object]:
        tracking = pd.Series(pool * copies, dtype="str")
        carrier_names = pd.Series(raw_names * copies, dtype="str")

        def work() -> object:
            canonical = canonical_carrier(carrier_names)
            return check_tracking(canonical, normalise_tracking(tracking)), looks_scientific(
                tracking
            )

        return work

    run(1)()  # compile once
    small = lines_run_in_carriers_package(run(1))
    large = lines_run_in_carriers_package(run(40))
    assert small > 200  # the tracer did see the package run
    assert large == small
