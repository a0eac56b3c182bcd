"""The vendored tracking_number_data corpus: every sample, the carrier table that maps its
couriers, the regex compiler and check digits against plain references, the loader, the
refresh script, tracking URLs, and the data shipping in the wheel."""

from __future__ import annotations

import json
import re
import shutil
import string
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpbridge.carriers import CARRIERS, check_tracking, tracking_url, tracking_urls
from ftpbridge.carriers import checks as vectorised
from ftpbridge.carriers.formats import CorpusError, data_folder, load_formats
from ftpbridge.carriers.matching import accepted_formats
from ftpbridge.carriers.names import BY_NAME, TABLE
from ftpbridge.carriers.patterns import PatternError, compile_length, first_match, lengths, parse
from tests.carrier_reference import (
    CHECKS,
    carrier_verdicts,
    format_verdict,
    normalised,
    raw_formats,
    reference_check,
    restriction,
)

ROOT = Path(__file__).resolve().parents[2]


def corpus_samples(kind: str) -> list[tuple[str, str, str]]:
    """(carrier, format key, normalised number) for every sample of ``kind`` ("valid" or
    "invalid") of every format, under every carrier that accepts the format and whose
    restriction (an S10 country) the sample meets."""
    rows = []
    for carrier in CARRIERS:
        for item in accepted_formats(carrier):
            for sample in getattr(item.format, kind):
                number = normalised(sample)
                if all(number.endswith(text) for _, text in item.restrict):
                    rows.append((carrier, item.format.key, number))
    return rows


VALID_SAMPLES = corpus_samples("valid")
INVALID_SAMPLES = corpus_samples("invalid")


def check_rows(rows: list[tuple[str, str, str]]) -> tuple[list[str], list[str]]:
    error, warning = check_tracking(
        pd.Series([carrier for carrier, _, _ in rows], dtype="str"),
        pd.Series([number for _, _, number in rows], dtype="str"),
    )
    return error.tolist(), warning.tolist()


def test_every_valid_sample_of_the_corpus_is_recognised() -> None:
    """No valid sample gets an error or a "does not look like" warning under any carrier
    that accepts its format (192 corpus samples, with whitespace variants, plus the
    supplement's; several formats are accepted by more than one carrier)."""
    error, warning = check_rows(VALID_SAMPLES)
    flagged = [
        (row, e or w) for row, e, w in zip(VALID_SAMPLES, error, warning, strict=True) if e or w
    ]
    assert flagged == []
    # Every sample was tried, except S10 ones of countries no carrier is the post of (CV, CF).
    tried = {(key, number) for _, key, number in VALID_SAMPLES}
    every = {(fmt.key, normalised(sample)) for fmt in load_formats() for sample in fmt.valid}
    assert every - tried == {("s10", "RB123456785CV"), ("s10", "RB123456785CF")}


def test_every_invalid_sample_is_refused_by_its_own_format() -> None:
    """The corpus's invalid samples fail their own format under the reference (which checks
    the reference), and ftpbridge answers each exactly as the reference does: an error when
    it matches a format of the carrier and fails its check, a warning when it matches none.
    A sample that is valid for another format of the same carrier (Purolator's numeric
    331426749957 is an invalid alpha one) passes."""
    error, warning = check_rows(INVALID_SAMPLES)
    refused = 0
    for (carrier, key, number), got_error, got_warning in zip(
        INVALID_SAMPLES, error, warning, strict=True
    ):
        assert format_verdict(key, number, restriction(carrier, key)) is not True, (key, number)
        assert (got_error, got_warning) == reference_check(carrier, number), (carrier, number)
        verdicts = carrier_verdicts(carrier, number)
        if format_verdict(key, number, restriction(carrier, key)) is False and not any(verdicts):
            assert got_error, (carrier, number)
            refused += 1
        if got_error == got_warning == "":
            assert any(verdicts), (carrier, number)
    assert refused >= 40


def test_every_format_and_courier_is_mapped_to_a_carrier() -> None:
    """A refresh that brings a new courier or format fails here until the carrier table says
    which carrier accepts it; the table names only formats the corpus has."""
    accepted = {item.format.key for carrier in CARRIERS for item in accepted_formats(carrier)}
    assert {fmt.key for fmt in load_formats()} <= accepted
    couriers = {fmt.courier for fmt in load_formats()} - {"s10"}
    assert couriers <= {carrier.courier for carrier in TABLE}
    assert accepted_formats("OTHER") == ()


def test_every_carrier_and_alias_accepted_before_is_still_accepted() -> None:
    """The names of the hand-kept table (README "The files") are all still canonical names,
    in the same order, with OTHER last."""
    before = [
        "UPS",
        "USPS",
        "FEDEX",
        "DHL",
        "ROYAL_MAIL",
        "CANADA_POST",
        "AMAZON",
        "ONTRAC",
        "LASERSHIP",
        "DPD",
        "PUROLATOR",
        "AUSTRALIA_POST",
    ]
    assert list(CARRIERS[: len(before)]) == before
    assert CARRIERS[-1] == "OTHER"
    assert "FDX" in BY_NAME["FEDEX"].aliases
    assert "Postes Canada" in BY_NAME["CANADA_POST"].aliases


# ------------------------------------------------------------------- the regex compiler

FORMAT_KEYS = sorted(raw_formats())
ALPHABET = string.digits * 3 + string.ascii_uppercase + "-é?"


@settings(max_examples=400)
@given(st.data())
def test_compiled_shapes_match_exactly_what_re_fullmatch_matches(data: st.DataObject) -> None:
    """For a corpus pattern and a string near one of its samples (or of one of its lengths),
    the first compiled shape that matches is re.fullmatch's parse: same answer, same
    SerialNumber and CheckDigit positions."""
    key = data.draw(st.sampled_from(FORMAT_KEYS))
    fmt = next(fmt for fmt in load_formats() if fmt.key == key)
    base = data.draw(
        st.one_of(
            st.sampled_from([normalised(s) for s in fmt.valid + fmt.invalid]),
            st.sampled_from(lengths(fmt.pattern)).map(lambda n: "0" * n),
        )
    )
    chars = list(base)
    for position, character in data.draw(
        st.lists(st.tuples(st.integers(0, max(len(chars) - 1, 0)), st.sampled_from(ALPHABET)))
    ):
        if chars:
            chars[position] = character
    number = "".join(chars)
    matrix = np.frombuffer(number.encode("ascii", errors="replace"), dtype=np.uint8)
    shapes = compile_length(fmt.pattern, len(number))
    chosen = int(first_match(shapes, matrix.reshape(1, -1))[0]) if number else -1
    expected = re.fullmatch(fmt.pattern, number)
    assert (chosen >= 0) == (expected is not None)
    if expected is not None:
        for group in ("SerialNumber", "CheckDigit"):
            if expected.groupdict().get(group) is not None:
                assert shapes[chosen].groups[group] == expected.span(group)


@pytest.mark.parametrize(
    "pattern", ["a+?", r"(a)\1", "(?<=a)b", "(?i)a", r"\d{2,1}", "[b-a]", "(?#x)", "é"]
)
def test_patterns_outside_the_subset_are_refused(pattern: str) -> None:
    """Syntax the compiler does not know fails loudly (at load time), never silently."""
    with pytest.raises(PatternError):
        parse(pattern)


# ----------------------------------------------------------------------- check digits

SPECS = {
    "mod10 3/1": {"name": "mod10", "evens_multiplier": 3, "odds_multiplier": 1},
    "mod10 1/2 reversed": {
        "name": "mod10",
        "evens_multiplier": 1,
        "odds_multiplier": 2,
        "reverse": True,
    },
    "mod7": {"name": "mod7", "modulo": 7},
    "s10": {"name": "s10", "weightings": [8, 6, 4, 2, 3, 5, 9, 7], "modulo": 11},
    "weighted": {
        "name": "sum_product_with_weightings_and_modulo",
        "weightings": [3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1],
        "modulo1": 11,
        "modulo2": 10,
    },
    "luhn": {"name": "luhn"},
    "mod_37_36": {
        "name": "mod_37_36",
        "modulo": 36,
        "alphabet": string.digits + string.ascii_uppercase,
    },
}


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(SPECS)),
    st.lists(
        st.text(alphabet=string.digits + "ABZ", min_size=8, max_size=8), min_size=1, max_size=20
    ),
    st.sampled_from(string.digits + "CNZ"),
)
def test_vectorised_checks_agree_with_the_ruby_reference(
    name: str, serials: list[str], check: str
) -> None:
    """Each algorithm, a column at a time, gives what the corpus's Ruby reference gives one
    number at a time, for every check character."""
    spec = SPECS[name]
    if name in ("s10", "mod7", "weighted", "luhn"):
        serials = [re.sub("[A-Z]", "0", serial) for serial in serials]  # digits in these formats
    matrix = np.array([list(serial.encode()) for serial in serials], dtype=np.uint8)
    digits = np.full(len(serials), ord(check), dtype=np.uint8)
    got = vectorised.build_check(spec)(matrix, digits)
    expected = [CHECKS[spec["name"]](serial, check, spec) for serial in serials]
    assert got.tolist() == expected


def test_unknown_algorithms_and_parameters_are_refused() -> None:
    """A refresh that brings an algorithm or a constant the code does not implement fails."""
    with pytest.raises(ValueError, match="unknown check digit algorithm"):
        vectorised.build_check({"name": "mod11"})
    with pytest.raises(ValueError, match="modulo 9 is not 10"):
        vectorised.build_check({"name": "mod10", "modulo": 9})


# ------------------------------------------------------------------------ the loader


def write_corpus(folder: Path, entry: dict[str, object]) -> Path:
    (folder / "couriers").mkdir(parents=True)
    (folder / "couriers" / "x.json").write_text(
        json.dumps({"name": "X", "courier_code": "x", "tracking_numbers": [entry]})
    )
    return folder


def test_the_loader_rewrites_named_groups_for_python(tmp_path: Path) -> None:
    """(?<Name>...) becomes (?P<Name>...); the regex parts of a list are joined."""
    folder = write_corpus(
        tmp_path,
        {"name": "X 1", "id": "x1", "regex": ["(?<Serial", "Number>[0-9]{3})"], "validation": {}},
    )
    [fmt] = load_formats(folder)
    assert fmt.pattern == "(?P<SerialNumber>[0-9]{3})"
    assert fmt.check is None


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        ({"exists_in": []}, "unknown validation keys"),
        ({"checksum": {"name": "crc32"}}, "unknown check digit algorithm"),
        ({"checksum": {"name": "mod7", "modulo": 7}}, "no CheckDigit group"),
    ],
)
def test_the_loader_refuses_what_it_cannot_use(
    tmp_path: Path, validation: dict[str, object], message: str
) -> None:
    """An entry the code does not understand fails with the file and format named."""
    folder = write_corpus(
        tmp_path,
        {"name": "X 1", "id": "x1", "regex": "(?<SerialNumber>[0-9]{3})", "validation": validation},
    )
    with pytest.raises(CorpusError, match=f"couriers/x.json: format 'x1': .*{message}"):
        load_formats(folder)


# ------------------------------------------------------------------- refresh script


def run_refresh(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "refresh-carriers"), *map(str, arguments)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_refresh_copies_a_corpus_checkout_and_keeps_the_supplement(tmp_path: Path) -> None:
    """scripts/refresh-carriers on a checkout writes the same courier files, the licence and
    where they came from, and leaves the supplement alone."""
    source = tmp_path / "tracking_number_data"
    shutil.copytree(data_folder() / "couriers", source / "couriers")
    shutil.copyfile(data_folder() / "LICENSE", source / "LICENSE")
    target = tmp_path / "data"
    shutil.copytree(data_folder() / "supplement", target / "supplement")
    result = run_refresh(source, "--target", target)
    assert result.returncode == 0, result.stderr
    for path in (data_folder() / "couriers").glob("*.json"):
        assert (target / "couriers" / path.name).read_bytes() == path.read_bytes()
    assert "MIT License" in (target / "LICENSE").read_text()
    assert "copied from tracking_number_data" in (target / "SOURCE").read_text()
    assert (target / "supplement" / "gs1.json").exists()


def test_refresh_refuses_a_corpus_it_cannot_use_and_replaces_nothing(tmp_path: Path) -> None:
    """A courier file with an unknown algorithm is reported with Error:/Try: and nothing in
    the target changes."""
    source = write_corpus(
        tmp_path / "src",
        {
            "name": "X 1",
            "id": "x1",
            "regex": "(?<SerialNumber>[0-9]{3})(?<CheckDigit>[0-9])",
            "validation": {"checksum": {"name": "crc32"}},
        },
    )
    (source / "LICENSE").write_text("MIT License\n")
    target = tmp_path / "data"
    (target / "couriers").mkdir(parents=True)
    (target / "couriers" / "keep.json").write_text("{}")
    result = run_refresh(source, "--target", target)
    assert result.returncode != 0
    assert "Error: the new corpus cannot be used as it is" in result.stderr
    assert "Try:" in result.stderr
    assert [path.name for path in (target / "couriers").iterdir()] == ["keep.json"]


# ----------------------------------------------------------------------- tracking URLs


@pytest.mark.parametrize(
    ("carrier", "number", "url"),
    [
        ("UPS", "1Z5R89390357567127", "https://www.ups.com/track?tracknum=1Z5R89390357567127"),
        (
            "USPS",
            "9400111201080805483016",
            "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111201080805483016",
        ),
        ("FEDEX", "986578788855", "https://www.fedex.com/fedextrack/?trknbr=986578788855"),
        (
            "ROYAL_MAIL",
            "RB123456785GB",
            "https://www.royalmail.com/track-your-item#/tracking-results/RB123456785GB",
        ),
        (
            "ONTRAC",
            "1LS7119013618127-1",
            "https://www.ontrac.com/tracking/?number=1LS7119013618127-1",
        ),
        (
            "DHL",
            "A&B=C D/#?",
            "https://www.dhl.com/en/express/tracking.html?AWB=A%26B%3DC%20D%2F%23%3F&brand=DHL",
        ),
    ],
)
def test_tracking_url_puts_the_quoted_number_into_the_carriers_page(
    carrier: str, number: str, url: str
) -> None:
    """The number is URL-quoted: nothing in it can add a parameter or change the page."""
    assert tracking_url(carrier, number) == url


@pytest.mark.parametrize(("carrier", "number"), [("OTHER", "123"), ("NOBODY", "123"), ("UPS", "")])
def test_no_tracking_url_for_other_unknown_carriers_or_empty_numbers(
    carrier: str, number: str
) -> None:
    """OTHER has no tracking page; unknown carriers and empty numbers give none either."""
    assert tracking_url(carrier, number) is None


def test_every_carrier_but_other_has_a_https_tracking_page_on_its_couriers_site() -> None:
    """Every carrier except OTHER has a https template with one %s; where the corpus gives
    the courier's page, ours is on the same site."""
    for carrier in TABLE:
        if carrier.name == "OTHER":
            assert carrier.tracking_url is None
            continue
        assert carrier.tracking_url is not None
        assert carrier.tracking_url.startswith("https://")
        assert carrier.tracking_url.count("%s") == 1
        ours = ".".join(urlsplit(carrier.tracking_url).hostname.split(".")[-2:])  # type: ignore[union-attr]
        corpus_sites = {
            ".".join(urlsplit(fmt.tracking_url).hostname.split(".")[-2:])  # type: ignore[union-attr]
            for fmt in load_formats()
            if fmt.courier == carrier.courier and fmt.tracking_url
        }
        assert corpus_sites <= {ours}, carrier.name


def test_tracking_urls_gives_the_same_answers_a_column_at_a_time() -> None:
    """The vectorised form agrees with tracking_url row for row, on the numbers' index."""
    carriers = ["UPS", "OTHER", "FEDEX", None, "DHL", "USPS", "NOBODY"]
    numbers = ["1Z5R89390357567127", "X", "", "1", "A B", None, "2"]
    got = tracking_urls(
        pd.Series(carriers, dtype="str"), pd.Series(numbers, dtype="str", index=range(10, 17))
    )
    assert got.index.tolist() == list(range(10, 17))
    expected = [
        tracking_url(carrier, number) if carrier and number else None
        for carrier, number in zip(carriers, numbers, strict=True)
    ]
    assert [None if pd.isna(value) else value for value in got] == expected


# -------------------------------------------------------------------------- packaging


@pytest.mark.slow
def test_the_corpus_ships_in_the_wheel_and_works_installed(tmp_path: Path) -> None:
    """A wheel built from the checkout (what `pip install .` installs) holds the corpus,
    its licence and the supplement, and checks numbers when imported from the install."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("ftpbridge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "ftpbridge/carriers/data/LICENSE" in names
    assert "ftpbridge/carriers/data/couriers/usps.json" in names
    assert "ftpbridge/carriers/data/supplement/gs1.json" in names
    installed = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(installed),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import ftpbridge, pandas as pd\n"
        "from ftpbridge.carriers import check_tracking\n"
        "print(ftpbridge.__file__)\n"
        "print(check_tracking(pd.Series(['FEDEX']), pd.Series(['12345000000000027']))[0][0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    path, message = result.stdout.splitlines()
    assert path.startswith(str(installed))
    assert "lost its leading zeros" in message
