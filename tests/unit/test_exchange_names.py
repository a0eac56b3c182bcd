"""exchange.partners.free_name: the one rule for a name that is already taken."""

from __future__ import annotations

from ftpbridge.exchange.partners import free_name


def test_a_free_name_is_kept() -> None:
    """A name nobody uses is returned as it is, with or without a tag."""
    assert free_name("orders.csv", {"other.csv"}) == "orders.csv"
    assert free_name("orders.csv", set(), tag=".20261201T060000Z") == "orders.csv"


def test_numbers_go_before_the_extension() -> None:
    """A second and third export of a day: -2, -3 before the extension (export.py)."""
    assert free_name("orders.csv", {"orders.csv"}) == "orders-2.csv"
    assert free_name("orders.csv", {"orders.csv", "orders-2.csv"}) == "orders-3.csv"
    assert free_name("a.b.csv", {"a.b.csv"}) == "a.b-2.csv"
    assert free_name("README", {"README"}) == "README-2"


def test_a_tag_comes_first_then_numbers() -> None:
    """Archiving onto a taken name (poll.py): the time tag, then the tag and a number."""
    tag = ".20261201T060000Z"
    taken = {"x.csv"}
    assert free_name("x.csv", taken, tag=tag) == "x.20261201T060000Z.csv"
    taken.add("x.20261201T060000Z.csv")
    assert free_name("x.csv", taken, tag=tag) == "x.20261201T060000Z-2.csv"


def test_the_search_ends_after_every_taken_name() -> None:
    """However many names are taken, a free one comes after at most len(taken) tries."""
    taken = {"o.csv"} | {f"o-{number}.csv" for number in range(2, 5000)}
    assert free_name("o.csv", taken) == "o-5000.csv"
