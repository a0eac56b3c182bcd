"""``ftpbridge run`` takes a warehouse's inventory file within one ``inventory_interval``."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.daemon.test_daemon import partner_toml, site  # noqa: F401  (the fixture)
from tests.servers import wait_for

INVENTORY = "acme_inventory_20261201.csv"


def stock(folder: Path) -> dict[str, int]:
    with sqlite3.connect(folder / "store.db") as connection:
        return dict(connection.execute("select id, in_stock_quantity from skus").fetchall())


def test_an_inventory_file_dropped_on_the_server_is_applied_within_one_interval(
    site: dict[str, Any],  # noqa: F811  (the fixture imported above)
) -> None:
    """With inventory_interval = 1 (and the poll of updated files every second too), a
    file dropped while the daemon runs is applied and archived with its report; the
    daemon logs the run of its inventory job and stops cleanly."""
    site["write_config"](partner_toml("acme", site["server"], inventory_interval=1))
    daemon = site["start"]()
    wait_for(daemon.running, "the daemon to run")
    inbox = site["home"] / "acme" / "in"
    temporary = inbox / ("." + INVENTORY + ".tmp")
    temporary.write_text("sku,quantity\r\n007,24\r\n55665,3\r\n55666,8\r\nAC-100,5\r\n")
    temporary.rename(inbox / INVENTORY)
    wait_for(lambda: (inbox / "archive" / (INVENTORY + ".report.csv")).exists(), "the archive")
    assert (inbox / "archive" / INVENTORY).exists()
    assert stock(site["folder"]) == {"25": 24, "26": 3, "27": 8, "28": 5}
    assert daemon.stop() == 0
    finished = [
        event
        for event in daemon.events()
        if event.get("event") == "inventory finished" and event.get("partner") == "acme"
    ]
    assert any(INVENTORY in event.get("summary", "") for event in finished)
    assert "Traceback" not in daemon.log()
