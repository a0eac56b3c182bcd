"""The ops console in headless Chromium against a real ``ftpbridge serve``: what an ops
person does, step by step, with hostile data in the pages and axe-core on every page."""

from __future__ import annotations

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from tests.browser.conftest import (
    HOSTILE_ERROR,
    Console,
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
    driver.get(console.url + "/console/")
    wait_for(lambda: "/console/sign-in" in driver.current_url, "the sign-in page")
    driver.find_element(By.ID, "key").send_keys(console.keys[key_name])
    driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "form.signout"), "signing in")


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
