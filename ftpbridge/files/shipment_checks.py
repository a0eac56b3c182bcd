"""The checks of a shipped row's fields, every problem of a row reported at once
(``shipment_fields``, by ``FIELD_CHECKS``): shipped_date, carrier and tracking_number; and
the note for a tracking number that does not look like its carrier's (``tracking_warning``).
Both are listed in order in ``validation.RULES``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ftpbridge.carriers import accepted_carriers_text
from ftpbridge.files.rows import TRACKING_MAX, Rows, cut, day_text, quoted
from ftpbridge.files.verdicts import NOTE, REJECTED, Rule, Verdict, append_reason
from ftpbridge.wording import format_example


def shipment_fields(rows: Rows) -> Iterator[Verdict]:
    """A shipped row: shipped_date, carrier and tracking_number are checked field by field
    (FIELD_CHECKS), and every problem of the row is reported at once."""
    problems = np.full(rows.size, "", dtype=object)
    for check in FIELD_CHECKS:
        for verdict in check(rows):
            append_reason(problems, verdict.rows, verdict.reason)
    yield Verdict(problems != "", REJECTED, lambda at: problems[at])


def tracking_warning(rows: Rows) -> Iterator[Verdict]:
    """A tracking number that does not look like its carrier's: a note, not a refusal."""
    warning = rows.tracking_check[1]
    yield Verdict(rows.checkable & (warning != ""), NOTE, lambda at: warning[at])


# ---------------------------------------------------------------- checks of a shipped row


def shipped_date_checks(rows: Rows) -> Iterator[Verdict]:
    """shipped_date: present, a date in an accepted format (not a spreadsheet serial),
    not in the future, not before the order."""
    date_text, dates = rows.date_text, rows.dates
    no_date = np.isnat(dates)
    yield Verdict(~rows.date_given, REJECTED, "shipped_date is empty; it is required when shipped")
    serial = rows.serial_date
    yield Verdict(
        serial & no_date,
        REJECTED,
        lambda at: (
            "shipped_date " + date_text[at] + " is a spreadsheet serial number, not a date;"
            " format the column as a date (YYYY-MM-DD)"
        ),
    )
    accepted = ", ".join(["YYYY-MM-DD", *map(format_example, rows.terms.date_formats)])
    yield Verdict(
        rows.date_given & ~serial & no_date,
        REJECTED,
        lambda at: (
            "shipped_date "
            + quoted(date_text[at])
            + " is not a date in an accepted format ("
            + accepted
            + ")"
        ),
    )
    yield Verdict(
        ~no_date & (dates > np.datetime64(rows.terms.latest_date, "s")),
        REJECTED,
        lambda at: "shipped_date " + cut(date_text[at], 40) + " is in the future",
    )
    order_day = rows.order_day
    yield Verdict(
        ~no_date & ~np.isnat(order_day) & (dates < order_day),
        REJECTED,
        lambda at: (
            "shipped_date "
            + cut(date_text[at], 40)
            + " is before the order date "
            + day_text(order_day[at])
        ),
    )


def carrier_checks(rows: Rows) -> Iterator[Verdict]:
    """carrier: present and one we know (by any of its spellings)."""
    carrier_text = rows.carrier_text
    yield Verdict(~rows.carrier_given, REJECTED, "carrier is empty; it is required when shipped")
    yield Verdict(
        rows.carrier_given & rows.carrier_unknown,
        REJECTED,
        lambda at: (
            "carrier "
            + quoted(carrier_text[at])
            + " is unknown (accepted: "
            + accepted_carriers_text()
            + ")"
        ),
    )


def tracking_checks(rows: Rows) -> Iterator[Verdict]:
    """tracking_number: present, not mangled by a spreadsheet, not too long, in a format
    of its carrier where the carrier's formats say it cannot be right."""
    tracking_text = rows.tracking_text
    yield Verdict(
        rows.no_tracking, REJECTED, "tracking_number is empty; it is required when shipped"
    )
    yield Verdict(
        rows.scientific,
        REJECTED,
        lambda at: (
            "tracking_number "
            + cut(tracking_text[at], 40)
            + " was damaged by a spreadsheet (scientific notation); format the column as"
            " text and type the number again"
        ),
    )
    yield Verdict(
        rows.too_long & ~rows.scientific,
        REJECTED,
        f"tracking_number is longer than {TRACKING_MAX} characters",
    )
    error = rows.tracking_check[0]
    yield Verdict(rows.checkable & (error != ""), REJECTED, lambda at: error[at])


FIELD_CHECKS: tuple[Rule, ...] = (shipped_date_checks, carrier_checks, tracking_checks)
