"""Hypothesis fuzzes the importer with random bytes and random CSV shapes.

Whatever it is given, ``import_file`` ends with a report (status applied, dry_run or
rejected_file) and never with an unhandled exception, and the store afterwards holds
exactly what the report says: as many items shipped as rows applied, one set of audit
rows each, one ledger entry; nothing at all for a dry run or a file rejected as a whole.
Each example starts from a fresh copy of a store with the sample orders.

An exception out of ``import_file`` is counted, not raised: the run goes on, so the
figure says how many inputs of the run crash the importer, and the test then fails on
that figure, showing the smallest such input and its traceback.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import sqlite3
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftpbridge.exchange.partners import partner_layout
from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.settings import Settings, build_settings
from ftpbridge.store import open_store
from tests.reliability.conftest import FULL, Figures
from tests.reliability.support import EXAMPLES

EXAMPLES_PER_TEST = 1000 if FULL else 25
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
REQUIRED = ["order_id", "item_id", "shipped", "shipped_date", "carrier", "tracking_number"]
HEADER_SPELLINGS = {
    "order_id": ["order_id", "Order ID", "ORDER_ID"],
    "item_id": ["item_id", "Item ID", "item id"],
    "shipped": ["shipped", "Shipped"],
    "shipped_date": ["shipped_date", "Ship Date", "shipped date"],
    "carrier": ["carrier", "Carrier", "Shipping Company"],
    "tracking_number": ["tracking_number", "Tracking #", "tracking"],
}
ITEMS = [(1, 1001), (1, 1002), (2, 1003), (3, 1004), (5, 1007), (11, 1017), (12, 1018)]
CELLS = {
    "shipped": ["TRUE", "yes", "1", "no", "", "maybe", "FALSE", "shipped"],
    "shipped_date": ["2026-11-20", "2026-11-23", "2026-11-24", "31/02/2026", "46348", ""],
    "carrier": ["UPS", "ups", "FedEx", "Royal Mail", "U\u03a1S", "", "OTHER", "DHL"],
    "tracking_number": ["1Z5R89390357567127", "986578788855", "RB123456785GB", "1.23E+21", ""],
}


@dataclass
class Outcomes:
    """What the examples of one test led to: statuses, and the inputs that made
    ``import_file`` raise (with the traceback)."""

    statuses: list[str] = field(default_factory=list)
    unhandled: list[tuple[bytes, str]] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return len(self.statuses) + len(self.unhandled)

    def describe_unhandled(self) -> str:
        content, trace = min(self.unhandled, key=lambda pair: len(pair[0]))
        return (
            f"{len(self.unhandled)} of {self.tried} inputs made import_file raise;"
            f" the smallest ({len(content)} bytes): {content!r}\n{trace}"
        )


class Template:
    """A migrated SQLite store with the sample orders, copied for each example."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.settings: Settings = build_settings(
            {
                "store": {"url": f"sqlite:///{folder / 'template.db'}"},
                "daemon": {"state_dir": str(folder / "state")},
                "partners": {"acme": {"default": True}},
            }
        )
        store = open_store(self.settings.store_url)
        load_orders(store, EXAMPLES, list(self.settings.partners.values()))
        store.close()
        with sqlite3.connect(folder / "template.db") as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def check(self, content: bytes, *, dry_run: bool, outcomes: Outcomes) -> None:
        """Import ``content`` into a fresh copy; assert the invariants; add the status to
        ``outcomes`` (or the input, when import_file raised)."""
        with tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            work = Path(scratch)
            shutil.copyfile(self.folder / "template.db", work / "store.db")
            store = open_store(f"sqlite:///{work / 'store.db'}")
            try:
                partner = self.settings.partners["acme"]
                path = work / "fuzz_updated.csv"
                path.write_bytes(content)
                report = work / "report.csv"
                try:
                    result = import_file(
                        store,
                        partner,
                        partner_layout(self.settings, partner),
                        path,
                        dry_run=dry_run,
                        report_path=report,
                        now=NOW,
                    )
                except Exception:  # noqa: BLE001 - the figure this test exists for
                    outcomes.unhandled.append((content, traceback.format_exc()))
                    return
                assert result.status in {"applied", "dry_run", "rejected_file"}, result
                with report.open(encoding="utf-8", newline="") as handle:
                    lines = list(csv.reader(handle))
                assert lines[0] == ["row", "order_id", "item_id", "outcome", "reason"]
                with store.connect() as connection:
                    shipped, audit_rows, applied_files = (
                        connection.exec_driver_sql(sql).scalar() or 0
                        for sql in (
                            "select count(*) from items where status = 'shipped'",
                            "select count(*) from audit",
                            "select count(*) from files where direction = 'import'"
                            " and state = 'applied'",
                        )
                    )
                if result.status == "applied":
                    assert len(lines) - 1 == result.rows
                    assert result.applied + result.unchanged + result.rejected == result.rows
                    assert (shipped, audit_rows, applied_files) == (
                        result.applied,
                        4 * result.applied,
                        1,
                    )
                else:
                    assert (shipped, audit_rows, applied_files) == (0, 0, 0), result
                    if result.status == "rejected_file":
                        assert result.message and len(lines) == 2
                outcomes.statuses.append(result.status)
            finally:
                store.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    yield Template(tmp_path_factory.mktemp("fuzz"))


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_TEST,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@st.composite
def csv_files(draw: Any) -> bytes:
    """A CSV file of a random shape: some or all required columns under people's header
    spellings, extra columns, any delimiter, quotes and line breaks inside cells, blank
    lines, ragged rows, and one of the encodings partners use."""
    columns = draw(st.permutations(REQUIRED))
    keep = draw(st.integers(min_value=max(0, len(columns) - 1), max_value=len(columns)))
    columns = list(columns[:keep])
    extras = draw(st.lists(st.text(min_size=1, max_size=8), max_size=3))
    header = [draw(st.sampled_from(HEADER_SPELLINGS[c])) for c in columns] + extras
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    free_text = st.text(max_size=12)
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        order, item = draw(st.sampled_from(ITEMS))
        known = {"order_id": str(order), "item_id": str(item)}
        row = []
        for column in columns:
            choices = CELLS.get(column, [known.get(column, "")])
            row.append(draw(st.one_of(st.sampled_from(choices), free_text)))
        row += [draw(free_text) for _ in extras]
        if draw(st.booleans()):
            row = row[: draw(st.integers(min_value=0, max_value=len(row)))]
        rows.append(row)
    buffer = _Buffer()
    ending = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=ending)
    writer.writerow(header)
    for row in rows:
        if draw(st.booleans()) and draw(st.booleans()):
            buffer.write(ending)  # a blank line
        writer.writerow(row)
    text = buffer.text()
    if draw(st.booleans()):  # break it: cut it short, or add a stray quote
        cut = draw(st.integers(min_value=0, max_value=len(text)))
        text = text[:cut] + draw(st.sampled_from(["", '"', "\x00", "\ufeff"])) + text[cut:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return text.encode(encoding, errors="replace")


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def text(self) -> str:
        return "".join(self.parts)


def test_random_bytes_end_in_a_report(template: Template, figures: Figures) -> None:
    """Random bytes, alone or after a good header: a report, nothing partial."""
    outcomes = Outcomes()

    @FUZZ_SETTINGS
    @given(
        prefix=st.sampled_from(
            [b"", b"order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n"]
        ),
        body=st.binary(max_size=2048),
        dry_run=st.booleans(),
    )
    def run(prefix: bytes, body: bytes, dry_run: bool) -> None:
        template.check(prefix + body, dry_run=dry_run, outcomes=outcomes)

    try:
        run()
    finally:
        figures.bad_input(
            "hypothesis: random bytes", tried=outcomes.tried, unhandled=len(outcomes.unhandled)
        )
    assert not outcomes.unhandled, outcomes.describe_unhandled()
    assert outcomes.statuses


def test_random_csv_shapes_end_in_a_report(template: Template, figures: Figures) -> None:
    """Random CSV shapes (headers, delimiters, quotes, encodings, broken endings): a
    report, and the store changed by exactly what it says."""
    outcomes = Outcomes()

    @FUZZ_SETTINGS
    @given(content=csv_files(), dry_run=st.booleans())
    def run(content: bytes, dry_run: bool) -> None:
        template.check(content, dry_run=dry_run, outcomes=outcomes)

    try:
        run()
    finally:
        figures.bad_input(
            "hypothesis: random CSV shapes", tried=outcomes.tried, unhandled=len(outcomes.unhandled)
        )
    assert not outcomes.unhandled, outcomes.describe_unhandled()
    assert outcomes.statuses


def test_an_importer_that_raises_is_counted_with_its_input(
    template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unhandled-exception figure counts for real: when import_file raises (a crash
    point stands in for it on one input), that input is counted with its traceback, the
    other examples still run, and the message names the smallest such input."""
    real = import_file

    def crashing(*args: Any, **kwargs: Any) -> Any:
        if Path(args[3]).read_bytes().startswith(b"boom"):
            raise RuntimeError("crash point")
        return real(*args, **kwargs)

    monkeypatch.setitem(globals(), "import_file", crashing)
    outcomes = Outcomes()
    good = b"order_id,item_id,shipped,shipped_date,carrier,tracking_number\r\n"
    for content in (b"boom, a long one", good, b"boom"):
        template.check(content, dry_run=True, outcomes=outcomes)
    assert (outcomes.tried, outcomes.statuses, len(outcomes.unhandled)) == (3, ["dry_run"], 2)
    message = outcomes.describe_unhandled()
    assert message.startswith("2 of 3 inputs made import_file raise; the smallest (4 bytes)")
    assert "b'boom'" in message and "RuntimeError: crash point" in message
