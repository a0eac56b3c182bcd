"""The ops console in headless Chromium against a real ``ftpbridge serve``: what an ops
person does, step by step, with hostile data in the pages and axe-core on every page."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import (
    HOSTILE_ERROR,
    HOSTILE_FILE,
    HOSTILE_NAME,
    HOSTILE_ORDER_ID_CELL,
    HOSTILE_PRODUCT,
    INVENTORY_FILE,
    Console,
    fulfiller_file,
    run_axe,
    screenshot,
)
from tests.servers import wait_for


def no_script_ran(driver: webdriver.Chrome) -> None:
    """No alert is open and no element came out of the data: every script of the page is
    ftpbridge's own file, and no image points at x."""
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is the check
    inline = driver.execute_script(
        "return [...document.scripts].filter(s => !s.src.includes('/console/static/')).length"
    )
    assert inline == 0
    assert driver.find_elements(By.CSS_SELECTOR, "img[src='x'], b") == []


def accessible(driver: webdriver.Chrome) -> None:
    violations = run_axe(driver)
    assert violations == [], [(v["id"], v["help"]) for v in violations]


def sign_in(driver: webdriver.Chrome, console: Console, key_name: str = "shop") -> None:
    """Sign in afresh (any earlier session of this browser forgotten first)."""
    driver.get(console.url + "/console/sign-in")
    driver.delete_all_cookies()
    driver.get(console.url + "/console/")
    wait_for(lambda: "/console/sign-in" in driver.current_url, "the sign-in page")
    driver.find_element(By.ID, "key").send_keys(console.keys[key_name])
    driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
    try:
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "form.signout"), "signing in")
    except AssertionError:
        raise AssertionError(driver.current_url + driver.page_source[:3000]) from None


def test_sign_in_see_the_failing_partner_and_sign_out(
    browser: webdriver.Chrome, console: Console
) -> None:
    """Signed out, the console shows the sign-in page; signed in, the Partners page names
    the failing partner first, in words, with its error as text (the HTML in it never
    runs); the page passes axe-core at desktop width and at 360 px; after signing out the
    pages are refused, also to the old cookie replayed."""
    browser.get(console.url + "/console/")
    wait_for(lambda: "/console/sign-in" in browser.current_url, "the sign-in page")
    accessible(browser)
    screenshot(browser, "console-sign-in")
    sign_in(browser, console)
    banner = browser.find_element(By.CSS_SELECTOR, ".banner.trouble").text
    assert "east (Failing: 3 failures in a row)" in banner
    first = browser.find_elements(By.CSS_SELECTOR, "li.partner")[0]
    assert first.find_element(By.TAG_NAME, "h2").text == "east"
    assert "Failing: 3 failures in a row" in first.find_element(By.CSS_SELECTOR, ".state").text
    assert HOSTILE_ERROR in first.find_element(By.CSS_SELECTOR, ".last-error").text
    no_script_ran(browser)
    accessible(browser)
    screenshot(browser, "console-partners")
    cookie = browser.get_cookie("ftpbridge_console")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    size = browser.get_window_size()
    browser.set_window_size(360, 800)
    try:
        browser.refresh()
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow} px wider than a 360 px screen"
        accessible(browser)
        screenshot(browser, "console-partners-360px")
    finally:
        browser.set_window_size(size["width"], size["height"])

    browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait_for(lambda: "reason=signed-out" in browser.current_url, "signing out")
    browser.get(console.url + "/console/")
    wait_for(lambda: "/console/sign-in" in browser.current_url, "the sign-in page again")
    replayed = httpx.get(console.url + "/console/", cookies={"ftpbridge_console": cookie["value"]})
    assert replayed.status_code == 303
    assert "reason=signed-out" in replayed.headers["location"]


def test_open_a_refused_files_report_and_download_it(
    browser: webdriver.Chrome, console: Console
) -> None:
    """The Files page lists the polled files, newest first, its HTML file name shown as
    text; filtered to refused files, the file with refused rows opens on its report, the
    refused rows first with their reasons; the file refused whole says why; the original
    and the report download."""
    sign_in(browser, console)
    browser.get(console.url + "/console/files")
    names = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "table.files a")]
    assert names[:2] == ["updated_broken.csv", HOSTILE_FILE]
    no_script_ran(browser)
    accessible(browser)
    Select(browser.find_element(By.ID, "outcome")).select_by_value("refused")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(lambda: "outcome=refused" in browser.current_url, "the filtered list")
    screenshot(browser, "console-files")
    browser.find_element(By.LINK_TEXT, "updated_broken.csv").click()
    wait_for(lambda: "Refused whole" in browser.page_source, "the refused file's page")
    assert "tracking_number" in browser.find_element(By.CSS_SELECTOR, ".facts").text
    browser.back()
    browser.find_element(By.LINK_TEXT, HOSTILE_FILE).click()
    rows = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "table.report tbody tr"), "the report"
    )
    outcomes = [row.find_elements(By.TAG_NAME, "td")[3].text for row in rows]
    assert outcomes == ["Refused", "Refused", "Applied"]
    reasons = " ".join(row.find_elements(By.TAG_NAME, "td")[4].text for row in rows[:2])
    assert "9999" in reasons
    assert HOSTILE_ORDER_ID_CELL in rows[0].text + rows[1].text
    no_script_ran(browser)
    accessible(browser)
    screenshot(browser, "console-file-report")
    before = set(browser.downloads.iterdir())
    browser.find_element(By.PARTIAL_LINK_TEXT, "Download the report").click()
    report = wait_for(
        lambda: [p for p in set(browser.downloads.iterdir()) - before if p.suffix == ".csv"],
        "the report to download",
    )[0]
    assert report.read_text().startswith("row,order_id,item_id,outcome,reason")


def test_a_held_inventory_snapshot_says_what_happened_and_what_to_do(
    browser: webdriver.Chrome, console: Console
) -> None:
    """Filtered to inventory files, the held snapshot is listed as held; its page says
    what happened and what to do, and its report shows the inventory columns with the
    held lines first; the page passes axe-core, also at 360 px."""
    sign_in(browser, console)
    browser.get(console.url + "/console/files")
    Select(browser.find_element(By.ID, "direction")).select_by_value("inventory")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(lambda: "direction=inventory" in browser.current_url, "the inventory files")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.files tbody tr")
    assert [row.find_elements(By.TAG_NAME, "td")[3].text for row in rows] == [
        INVENTORY_FILE,
        "stock.csv",
    ]
    assert rows[0].find_elements(By.TAG_NAME, "td")[4].text == "Held, nothing applied"
    browser.find_element(By.LINK_TEXT, INVENTORY_FILE).click()
    held = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "section.attention"), "why")
    assert "would set 2 of the 3 SKUs acme has in stock to 0" in held[0].text
    assert "ftpbridge inventory import --partner acme --force" in held[0].text
    headers = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "table.report th")]
    assert headers[1:6] == ["SKU", "SKU id", "Outcome", "Quantity before", "Quantity after"]
    lines = browser.find_elements(By.CSS_SELECTOR, "table.report tbody tr")
    assert [line.find_elements(By.TAG_NAME, "td")[3].text for line in lines] == ["Held"] * 4
    assert [cell.text for cell in lines[1].find_elements(By.TAG_NAME, "td")][:6] == [
        "2",
        "007",
        "25",
        "Held",
        "10",
        "9",
    ]
    no_script_ran(browser)
    accessible(browser)
    screenshot(browser, "console-file-held")
    size = browser.get_window_size()
    browser.set_window_size(360, 800)
    try:  # the command's long path wraps instead of widening the page
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow} px wider than a 360 px screen"
        accessible(browser)
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_import_a_file_by_hand_through_the_dry_run(
    browser: webdriver.Chrome, console: Console, tmp_path: Path
) -> None:
    """An e-mailed file is uploaded, its dry run shows what would change and every refused
    row (nothing changed yet), and Apply imports it once through the same path as the CLI:
    the item is shipped, the ledger holds the file, the Files page offers it."""
    sign_in(browser, console)
    upload = tmp_path / "emailed_<img src=x onerror=alert(5)>.csv"  # markup: shown as text
    fulfiller_file(upload, [("3", "1004", "1Z5R89390357567127"), ("3", "777", "X")])
    browser.get(console.url + "/console/import")
    accessible(browser)
    screenshot(browser, "console-import")
    Select(browser.find_element(By.ID, "partner")).select_by_value("acme")
    browser.find_element(By.ID, "file").send_keys(str(upload))
    browser.find_element(By.XPATH, "//button[contains(., 'dry run')]").click()
    wait_for(lambda: "Dry run of" in browser.page_source, "the dry run")
    summary = browser.find_element(By.CSS_SELECTOR, ".summary").text
    assert "2 rows in the file" in summary and "1 item would be marked shipped" in summary
    assert "1 row refused" in summary
    changes = browser.find_element(By.CSS_SELECTOR, "table.changes tbody").text
    assert "1004" in changes and "1Z5R89390357567127" in changes
    refused = browser.find_elements(By.CSS_SELECTOR, "table.report tbody tr.refused")
    assert len(refused) == 1 and "777" in refused[0].text
    status = "SELECT status FROM items WHERE id = '1004'"
    assert console.store_value(status) == "pending"
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Check {upload.name}"
    no_script_ran(browser)
    accessible(browser)
    screenshot(browser, "console-import-dry-run")
    apply = browser.find_element(By.XPATH, "//button[starts-with(., 'Apply')]")
    assert apply.text == "Apply: mark 1 item shipped, leave the 1 refused row out"
    apply.click()
    wait_for(lambda: "was imported for acme" in browser.page_source, "the import")
    assert console.store_value(status) == "shipped"
    name = "SELECT count(*) FROM files WHERE name LIKE 'emailed_%' AND state = 'applied'"
    assert console.store_value(name) == 1
    browser.find_element(By.PARTIAL_LINK_TEXT, "See the file").click()
    wait_for(lambda: "Download the original file" in browser.page_source, "the file's page")
    accessible(browser)


def test_download_an_export_marks_the_items(browser: webdriver.Chrome, console: Console) -> None:
    """The Export page previews the partner's items (HTML in names shown as text), says
    on the button what downloading does, and the downloaded CSV holds them; they are then
    acknowledged, as ``ftpbridge export --out`` leaves them."""
    sign_in(browser, console)
    browser.get(console.url + "/console/export?partner=acme")
    waiting = "SELECT count(*) FROM items WHERE partner = 'acme' AND status = 'pending'"
    pending = console.store_value(waiting)
    assert pending > 0
    assert HOSTILE_PRODUCT in browser.find_element(By.CSS_SELECTOR, "table.items").text
    no_script_ran(browser)
    accessible(browser)
    screenshot(browser, "console-export")
    button = browser.find_element(By.XPATH, "//button[starts-with(., 'Download the CSV')]")
    assert button.text == f"Download the CSV and mark {pending} items as exported"
    before = set(browser.downloads.iterdir())
    button.click()
    exported = wait_for(
        lambda: [p for p in set(browser.downloads.iterdir()) - before if p.suffix == ".csv"],
        "the export to download",
    )[0]
    lines = exported.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("order_id,")
    assert len(lines) == pending + 1
    assert console.store_value(waiting) == 0


def test_find_an_item_and_its_audit_trail(browser: webdriver.Chrome, console: Console) -> None:
    """Searching by tracking number finds the items shipped with it; an item shows its
    audit trail, each change with its source file (linked) and time. Customer names with
    HTML in them are shown as text."""
    sign_in(browser, console)
    browser.get(console.url + "/console/orders?q=mallory%40example.com")
    assert HOSTILE_NAME in browser.find_element(By.CSS_SELECTOR, "table.items").text
    no_script_ran(browser)
    box = browser.find_element(By.ID, "q")
    box.clear()
    box.send_keys("1Z5R89390357567127")
    Select(browser.find_element(By.ID, "field")).select_by_value("tracking_number")
    browser.find_element(By.XPATH, "//button[.='Search']").click()
    wait_for(lambda: "field=tracking_number" in browser.current_url, "the search")
    found = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "table.items a")]
    assert "1001" in found
    accessible(browser)
    screenshot(browser, "console-orders")
    browser.find_element(By.LINK_TEXT, "1001").click()
    history = wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, "table.history tbody tr"), "the trail"
    )
    fields = [row.find_elements(By.TAG_NAME, "td")[1].text for row in history]
    assert fields == ["status", "shipped date", "carrier", "tracking number"]
    assert HOSTILE_FILE in history[0].text
    no_script_ran(browser)
    accessible(browser)
    screenshot(browser, "console-item")


@pytest.mark.parametrize(
    "path",
    [
        "/console/files",
        "/console/files?outcome=refused",
        "/console/files?direction=inventory",
        "/console/orders",
        "/console/orders/item?id=1001",
        "/console/export?partner=acme",
        "/console/import",
    ],
)
def test_every_page_fits_a_360_px_screen(
    browser: webdriver.Chrome, console: Console, path: str
) -> None:
    """At 360 px wide no page is wider than the screen (wide tables scroll inside their
    own focusable region) and axe-core finds no serious or critical violation."""
    sign_in(browser, console)
    size = browser.get_window_size()
    browser.set_window_size(360, 800)
    try:
        browser.get(console.url + path)
        wait_for(lambda: browser.find_elements(By.TAG_NAME, "h1"), "the page")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow} px wider than a 360 px screen"
        accessible(browser)
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_a_file_dropped_on_the_import_form_is_sent(
    browser: webdriver.Chrome, console: Console
) -> None:
    """Dropping a file on the import form (a drop event carrying it, as a drag from the
    desktop makes) puts it into the form's file field, and the dry run checks it."""
    sign_in(browser, console)
    browser.get(console.url + "/console/import")
    Select(browser.find_element(By.ID, "partner")).select_by_value("ac")
    browser.execute_script(
        "const data = new DataTransfer();"
        "data.items.add(new File(['order_id,item_id,shipped,shipped_date,carrier,"
        "tracking_number\\r\\n2,1003,FALSE,,,\\r\\n'], 'dropped_updated.csv',"
        " {type: 'text/csv'}));"
        "const zone = document.querySelector('[data-drop-target]');"
        "zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true,"
        " cancelable: true}));"
        "zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true,"
        " cancelable: true}));"
    )
    chosen = browser.execute_script("return document.getElementById('file').files[0].name")
    assert chosen == "dropped_updated.csv"
    browser.find_element(By.XPATH, "//button[contains(., 'dry run')]").click()
    wait_for(lambda: "Dry run of" in browser.page_source, "the dry run")
    assert "1 row in the file" in browser.find_element(By.CSS_SELECTOR, ".summary").text
