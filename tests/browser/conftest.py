"""The console in a real browser: Debian's chromium driven by Selenium 4 through Debian's
chromedriver (scripts/test installs both), headless, against a real ``ftpbridge serve`` on
127.0.0.1. Nothing is downloaded: Selenium is given the driver and the browser, Chromium
is started with its background networking off, and axe-core is vendored (vendor/).

The store (SQLite) holds the sample orders, orders whose product and customer names are
HTML and script, three partners (``acme`` and ``east`` on local folders, ``ac`` manual),
``east`` failing with a hostile error, acme's stock from an inventory file and a
cut-off inventory snapshot polled and held, and two updated files polled for real through
acme's folder: one with refused rows (its name is HTML), one refused whole.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from ftpbridge.settings import load_settings
from ftpbridge.store import Store, open_store
from ftpbridge.store.engine import utcnow
from ftpbridge.store.state import job_finished
from tests.conftest import EXAMPLE_ORDERS
from tests.runs import FTPBRIDGE
from tests.web.conftest import ServeProcess, make_keys

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"

# What a hostile buyer, fulfiller or server writes: if any of it ran, an alert would open
# or an element would appear in the page.
HOSTILE_PRODUCT = "<script>alert('product')</script>Hoodie"
HOSTILE_NAME = "<img src=x onerror=\"alert('name')\">Mallory"
HOSTILE_ERROR = "<script>alert('error')</script> connection refused by <b>server</b>"
HOSTILE_FILE = "updated_<img src=x onerror=alert(3)>.csv"
HOSTILE_ORDER_ID_CELL = "<script>alert('cell')</script>"
INVENTORY_FILE = "cut_inventory.csv"  # a truncated snapshot the inventory poll holds

CONFIG = """\
[store]
url = "sqlite:///ftpbridge.db"

[partners.acme]
default = true
transport = "local"
path = "acme-server"
settle_seconds = 0

[partners.ac]
skus = ["AC-*"]

[partners.east]
skus = ["EAST-*"]
transport = "local"
path = "east-server"
"""


def hostile_orders(path: Path) -> None:
    order = {
        "id": 900,
        "created_at": "2026-11-20T09:00:00Z",
        "fan": "mallory@example.com",
        "shipping_address": {
            "firstname": HOSTILE_NAME,
            "lastname": "</td></tr><script>alert('row')</script>",
            "address1": "1 Evil Lane",
            "address2": "",
            "city": "Nowhere",
            "state": "",
            "postal_code": "00000",
            "country": "US",
            "phone": "",
        },
        "items": [
            {
                "id": 9001,
                "sku_id": 91,
                "product_name": HOSTILE_PRODUCT,
                "product_type": "merchandise",
                "sku_attributes": {},
                "factory_sku": "666",
                "sku_upc": "",
                "quantity": 1,
                "status": "pending",
            }
        ],
    }
    path.write_text(json.dumps(order) + "\n")


def fulfiller_file(path: Path, rows: list[tuple[str, str, str]]) -> None:
    """An updated file: (order id, item id, tracking number) rows shipped today by UPS."""
    today = utcnow().date().isoformat()
    lines = ["order_id,item_id,shipped,shipped_date,carrier,tracking_number"]
    lines += [f"{order},{item},TRUE,{today},UPS,{tracking}" for order, item, tracking in rows]
    path.write_text("\r\n".join(lines) + "\r\n")


@dataclass
class Console:
    """A served console over its store: URL, keys (name → key) and folders."""

    url: str
    store: Store
    keys: dict[str, str]
    folder: Path
    service: ServeProcess

    def store_value(self, sql: str) -> Any:
        with self.store.connect() as connection:
            return connection.exec_driver_sql(sql).scalar()


def _ftpbridge(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FTPBRIDGE, "--config", str(folder / "config.toml"), *arguments],
        capture_output=True,
        text=True,
        cwd=folder,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    (folder / "config.toml").write_text(CONFIG)
    (folder / "acme-server").mkdir()
    (folder / "east-server").mkdir()
    hostile_orders(folder / "hostile.jsonl")
    for orders in (EXAMPLE_ORDERS, folder / "hostile.jsonl"):
        loaded = _ftpbridge(folder, "orders", "load", str(orders))
        assert loaded.returncode == 0, loaded.stderr
    settings = load_settings(folder / "config.toml")
    store = open_store(settings.store_url)
    keys = make_keys(store)
    from ftpbridge.store import api_keys

    with store.begin() as connection:
        _key, keys["reader"] = api_keys.create(
            connection, "reader", partner=None, read_only=True, now=utcnow()
        )
        for _ in range(3):
            job_finished(connection, "east", "poll", utcnow(), error=HOSTILE_ERROR)
    # acme's stock from an inventory file applied by hand, then a cut-off snapshot polled
    # for real and held (it would set 2 of its 3 SKUs in stock to 0); older than the
    # updated files below, which stay the newest on the Files page.
    (folder / "stock.csv").write_text("sku,quantity\r\n007,10\r\n55665,10\r\n55666,10\r\n")
    stocked = _ftpbridge(folder, "inventory", "import", "--partner", "acme", "stock.csv")
    assert stocked.returncode == 0, stocked.stdout + stocked.stderr
    (folder / "acme-server" / INVENTORY_FILE).write_text("sku,quantity\r\n007,9\r\n")
    polled = _ftpbridge(folder, "poll", "--partner", "acme", "--kind", "inventory")
    assert polled.returncode in (0, 1) and "held" in polled.stdout, polled.stdout + polled.stderr
    # A file with refused rows (its name is HTML) and a file refused whole, polled for real.
    fulfiller_file(
        folder / "acme-server" / HOSTILE_FILE,
        [
            ("1", "1001", "1Z5R89390357567127"),
            ("999", "9999", "1Z5R89390357567127"),
            (HOSTILE_ORDER_ID_CELL, "1002", "1Z5R89390357567127"),
        ],
    )
    polled = _ftpbridge(folder, "poll", "--partner", "acme")
    assert polled.returncode in (0, 1), polled.stdout + polled.stderr
    (folder / "acme-server" / "updated_broken.csv").write_text("this,is,not\r\nan,updated,file\r\n")
    polled = _ftpbridge(folder, "poll", "--partner", "acme")
    assert polled.returncode in (0, 1, 2), polled.stdout + polled.stderr
    service = ServeProcess(folder / "config.toml")
    try:
        yield Console(service.url, store, keys, folder, service)
    finally:
        service.close()
        store.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are not installed; scripts/test installs them")
    profile = tmp_path_factory.mktemp("chromium-profile")
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # No network but loopback here: without these, Chromium tries Google's hosts at start.
    for flag in (
        "--headless=new",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root otherwise
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        yield driver
    finally:
        driver.quit()


def run_axe(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page."""
    driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-failed', impact: 'critical', help: String(e)}]));"
    )
    return [v for v in result if v.get("impact") in ("serious", "critical")]


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save a full-page screenshot as tests/screenshots/NAME.png (docs/ keeps copies)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(size["width"], max(600, min(int(height) + 120, 4000)))
    target = SCREENSHOTS / f"{name}.png"
    try:
        driver.save_screenshot(str(target))
    finally:
        driver.set_window_size(size["width"], size["height"])
    return target


def today() -> dt.date:
    return utcnow().date()
