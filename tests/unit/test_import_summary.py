"""What an import tells people: rejected rows and warnings grouped by reason with their
count and first rows (3,000 identical reasons are one line), warnings (rows applied
anyway) in the terminal summary too, and a tracking number given to two customers'
orders warned about (issue 11 items 15, 16)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ftpbridge.cli.render import print_import
from ftpbridge.files.importing import import_file
from ftpbridge.files.intake import load_orders
from ftpbridge.files.layouts import load_layout

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "orders.jsonl"
UPS = "1Z5R89390357567127"
UPS2 = "1Z879E930346834440"
HEADER = "order_id,item_id,shipped,shipped_date,carrier,tracking_number\n"
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


class _Out:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


def _import(store, settings, path: Path, **kwargs):
    return import_file(
        store, settings.partners["acme"], load_layout("default"), path, now=NOW, **kwargs
    )


def _report(result) -> list[list[str]]:
    import csv

    with result.report_path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


def test_one_tracking_number_on_two_customers_orders_is_warned(
    store, settings, tmp_path: Path
) -> None:
    """Order 1 (Grace) and order 3 (Margaret) with one UPS number: both applied, the later
    row warned in the report and the summary, naming the earlier row; two items of one
    order with one number are fine."""
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    path = tmp_path / "u.csv"
    path.write_text(
        HEADER
        + f"1,1001,true,2026-11-22,UPS,{UPS}\n"
        + f"1,1002,true,2026-11-22,UPS,{UPS}\n"
        + f"3,1004,true,2026-11-22,UPS,{UPS}\n"
        + f"3,1005,true,2026-11-22,UPS,{UPS2}\n",
        encoding="utf-8",
    )
    result = _import(store, settings, path)
    assert (result.applied, result.rejected, result.exit_code) == (4, 0, 0)
    reasons = {line[2]: (line[3], line[4]) for line in _report(result)}
    assert reasons["1001"] == ("applied", "shipped")
    assert reasons["1002"] == ("applied", "shipped")
    assert reasons["1004"] == (
        "applied",
        "shipped; the same tracking number is on row 2 for another customer's order;"
        " check which is right",
    )
    out = _Out()
    print_import(result, out)  # type: ignore[arg-type]
    assert "Warnings on 1 row (applied anyway), by reason:\n" in out.text
    assert (
        "  row 4 (order 3, item 1004): the same tracking number is on row 2 for another"
        " customer's order; check which is right\n"
    ) in out.text


def test_identical_reasons_are_grouped_with_count_and_first_rows(
    store, settings, tmp_path: Path
) -> None:
    """3,000 rows refused for one reason: one line with the count, five rows and how many
    more; "1 row", never "1 rows"."""
    load_orders(store, EXAMPLES, list(settings.partners.values()))
    path = tmp_path / "u.csv"
    path.write_text(
        HEADER
        + "".join(f",X{number},true,2026-11-22,UPS,{UPS}\n" for number in range(3000))
        + f"1,1002,true,2026-11-22,Pigeon Post,{UPS}\n",
        encoding="utf-8",
    )
    result = _import(store, settings, path, chunk_rows=1000)
    out = _Out()
    print_import(result, out)  # type: ignore[arg-type]
    lines = out.text.splitlines()
    assert lines[0] == "u.csv (acme): 3,001 rows: 0 applied, 0 unchanged, 3,001 rejected"
    assert lines[1] == "Rejected 3,001 rows, by reason:"
    assert lines[2].startswith("  3,000 rows: order_id is empty")
    assert lines[2].endswith("(rows 2, 3, 4, 5, 6 and 2,995 more)")
    assert lines[3].startswith("  row 3002 (order 1, item 1002): carrier 'Pigeon Post' is")
    assert len(lines) == 5  # and the report's path
    assert " 1 rows" not in out.text
