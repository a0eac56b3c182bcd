"""View Orders' statements are built once per shape of search and bound to each
request's values; values never become SQL (a LIKE pattern's "%" and "_" are text)."""

from __future__ import annotations

from ftpbridge.store.search import OrderSearch, find_orders, prepared


def test_statements_are_built_once_per_shape_and_bound_per_request() -> None:
    """Two searches that differ only in values (term value, page, partner) share one set
    of statements; another filter, term or sort is another shape."""
    first, first_values = prepared(
        OrderSearch(filter="all", terms=(("fan_email", "a@example.com"),), partner="acme")
    )
    second, second_values = prepared(
        OrderSearch(filter="all", terms=(("fan_email", "b@example.com"),), partner="ac", page=3)
    )
    assert first is second
    assert (first_values["term_0_0"], second_values["term_0_0"]) == (
        "a@example.com",
        "b@example.com",
    )
    assert (first_values["partner"], second_values["page_offset"]) == ("acme", 500)
    for other in (
        OrderSearch(filter="shipped", terms=(("fan_email", "a@example.com"),), partner="x"),
        OrderSearch(filter="all", terms=(("country", "US"),), partner="x"),
        OrderSearch(filter="all", terms=(("fan_email", "a"),), partner="x", descending=False),
        OrderSearch(filter="all", terms=(("fan_email", "a"),)),  # the shop's: no partner
    ):
        assert prepared(other)[0] is not first


def test_like_patterns_hold_percent_and_underscore_as_text(loaded_store) -> None:
    """ "%" and "_" in a contains term match those characters, not anything."""
    with loaded_store.connect() as connection:
        everything = find_orders(connection, OrderSearch(filter="all")).total_entries
        for text in ("%", "_", "Tour%", "/"):
            search = OrderSearch(filter="all", terms=(("product_description", text),))
            assert find_orders(connection, search).total_entries == 0, text
        poster = OrderSearch(filter="all", terms=(("product_description", "poster"),))
        assert 0 < find_orders(connection, poster).total_entries < everything
