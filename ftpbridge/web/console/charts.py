"""Small charts drawn on the server as inline SVG (no JavaScript, no library): rows
applied and refused per day. Only numbers and escaped text go into the markup."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup, escape

WIDTH = 300
HEIGHT = 64
BASELINE = 60


def daily_bars(name: str, days: list[dt.date], applied: list[int], refused: list[int]) -> Markup:
    """A bar per day: applied rows (green) with refused rows (red, hatched by a darker
    top edge) stacked on them; the text alternative sums the period."""
    total_applied, total_refused = sum(applied), sum(refused)
    first = days[0].isoformat() if days else ""
    last = days[-1].isoformat() if days else ""
    label = (
        f"{name}: rows per day from {first} to {last}: {total_applied:,} applied,"
        f" {total_refused:,} refused"
    )
    peak = max((a + r for a, r in zip(applied, refused, strict=True)), default=0) or 1
    step = WIDTH / max(len(days), 1)
    bar = max(step - 2, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}"'
        f' role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="0" y1="{BASELINE + 0.5}" x2="{WIDTH}" y2="{BASELINE + 0.5}"/>',
    ]
    for index, (good, bad) in enumerate(zip(applied, refused, strict=True)):
        x = round(index * step + 1, 1)
        good_height = round((BASELINE - 2) * good / peak, 1)
        bad_height = round((BASELINE - 2) * bad / peak, 1)
        if good:
            parts.append(
                f'<rect class="applied" x="{x}" y="{BASELINE - good_height}"'
                f' width="{bar:.1f}" height="{max(good_height, 1)}"/>'
            )
        if bad:
            parts.append(
                f'<rect class="refused" x="{x}" y="{BASELINE - good_height - bad_height}"'
                f' width="{bar:.1f}" height="{max(bad_height, 1)}"/>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - numbers and escaped text only
