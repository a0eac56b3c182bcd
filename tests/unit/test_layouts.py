"""CSV layouts (ftpbridge.files.layouts): the shipped ones and a partner's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftpbridge.errors import ConfigError
from ftpbridge.files.layouts import load_layout

OWN_LAYOUT = """
name = "own"
[[columns]]
header = "Order"
field = "order_id"
[[columns]]
header = "Item"
field = "item_id"
[[columns]]
header = "Shipped"
field = "shipped"
fulfiller = true
[[columns]]
header = "Date"
field = "shipped_date"
fulfiller = true
[[columns]]
header = "Carrier"
field = "carrier"
[[columns]]
header = "Tracking"
field = "tracking_number"
fulfiller = true
"""


@pytest.mark.parametrize("name", ["default", "topspin"])
def test_shipped_layouts_load(name: str) -> None:
    """The layouts shipped in schemas/ load and end with the fulfiller's four columns."""
    layout = load_layout(name)
    assert [column.field for column in layout.columns[-4:]] == [
        "shipped",
        "shipped_date",
        "carrier",
        "tracking_number",
    ]


def test_an_older_layout_with_fulfiller_keys_still_loads(tmp_path: Path) -> None:
    """``fulfiller = true``, which layouts once carried, is accepted and changes nothing:
    the layout reads exactly like the same layout without it."""
    (tmp_path / "own.toml").write_text(OWN_LAYOUT, encoding="utf-8")
    (tmp_path / "plain.toml").write_text(
        OWN_LAYOUT.replace("fulfiller = true\n", "").replace('"own"', '"plain"'),
        encoding="utf-8",
    )
    own, plain = load_layout("own", tmp_path), load_layout("plain", tmp_path)
    assert own.columns == plain.columns
    assert own.headers == ["Order", "Item", "Shipped", "Date", "Carrier", "Tracking"]


def test_an_unknown_column_key_is_refused_naming_it(tmp_path: Path) -> None:
    """A key a column does not know is refused, naming the column and the key."""
    (tmp_path / "typo.toml").write_text(
        OWN_LAYOUT.replace("fulfiller = true", "fulfillr = true", 1), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"columns\[3\]\.fulfillr: unknown key"):
        load_layout("typo", tmp_path)
