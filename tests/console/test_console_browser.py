"""The console in headless Chromium against a daemon on two emulated stores.

Uses the distribution's ``chromium`` and ``chromedriver`` through Selenium (the ``browser``
extra); nothing is downloaded. Skipped, with the reason, when either is missing. Selenium
blocks, so every browser step runs in a worker thread while the test's event loop keeps
serving the emulators the daemon talks to.

Screenshots of the overview and of a site page are written to ``$SYNCD_SCREENSHOTS`` when
that variable names a directory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from support.console import TOKEN, console_daemon, write_source

CHROMIUM = os.environ.get("SYNCD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SYNCD_CHROMEDRIVER", "/usr/bin/chromedriver")

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[browser]')")
if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    pytest.skip(f"headless browser tests need {CHROMIUM} and {CHROMEDRIVER} "
                "(apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

T = TypeVar("T")


@pytest.fixture
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


async def step(fn: Callable[[], T]) -> T:
    """One blocking browser step, off the event loop."""
    return await asyncio.to_thread(fn)


def _screenshot(driver: Any, name: str) -> None:
    directory = os.environ.get("SYNCD_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(Path(directory) / name))


def _sign_in(driver: Any, url: str) -> None:
    driver.get(f"{url}/ui/login")
    driver.find_element(By.NAME, "token").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "form button").click()
    _header_after_navigation(driver, lambda who: "signed in" in who)


def _header_after_navigation(driver: Any, wanted: Callable[[str], bool]) -> str:
    """The header's ``.who`` text once ``wanted`` holds for it (TimeoutException if never).

    A click that starts a navigation leaves the old page's header findable for a moment,
    gone by the time its text is read. Chromium reports that race either as a stale
    element or as a node that "does not belong to the document"; both mean "read again".
    """
    def read(d: Any) -> str | bool:
        try:
            text: str = d.find_element(By.CSS_SELECTOR, "header .who").text
        except StaleElementReferenceException:
            return False
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return False
            raise
        return text if wanted(text) else False

    found: str = WebDriverWait(driver, 10).until(read)
    return found


def _click_confirmed(driver: Any, label: str) -> None:
    """Click the action button ``label`` and accept its confirmation dialog."""
    button = next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == label)
    button.click()
    driver.switch_to.alert.accept()


def _after_navigation(driver: Any, by: str, selector: str) -> Any:
    """The element the page a confirmed form leads to shows, once that page has loaded (the
    form posts after the dialog closes: reading at once may find the old page)."""
    found = WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)
                          ).until(lambda d: d.find_elements(by, selector))
    return found[0]


def _quantities(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {(str(r["product_id"]), str(r["variant_id"])): (r["quantity"], r["in_stock"])
            for r in rows}


def _results(events: list[dict[str, Any]], site: str) -> list[str]:
    return [e["result"] for e in events if e.get("event") == "cycle_finished"
            and e.get("site") == site]


async def test_overview_lists_every_site_and_a_site_page_shows_the_last_plan(
        tmp_path, browser):
    async with console_daemon(tmp_path) as s:
        def overview() -> set[str]:
            browser.get(f"{s.url}/ui/")
            sites = {row.get_attribute("data-site")
                     for row in browser.find_elements(By.CSS_SELECTOR, "#sites tr[data-site]")}
            _screenshot(browser, "console-overview.png")
            return sites

        assert await step(overview) == {"shop", "outlet"}

        def site_page() -> tuple[str, list[str]]:
            browser.find_element(By.LINK_TEXT, "shop").click()
            heading = browser.find_element(By.CSS_SELECTOR, "#plan h2").text
            rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#plan tbody tr")]
            _screenshot(browser, "console-site.png")
            return heading, rows

        heading, rows = await step(site_page)
    started = s.daemon.find("cycle_finished", site="shop")
    assert started is not None
    assert heading == f"Latest plan: {started['planned']} change(s)"
    red_m = next(r for r in rows if r.startswith("TSHIRT-RED-M "))
    assert "20 18" in red_m and "stock.csv:3" in red_m


async def test_without_signing_in_the_console_offers_no_action(tmp_path, browser):
    async with console_daemon(tmp_path) as s:
        def buttons() -> list[str]:
            browser.get(f"{s.url}/ui/site/shop")
            return [b.text for b in browser.find_elements(By.TAG_NAME, "button")]

        assert await step(buttons) == ["Explain SKU"]

        def forged_post() -> int:
            return int(browser.execute_async_script(
                "const done = arguments[0];"
                "fetch('/ui/site/shop/cycle', {method: 'POST'}).then(r => done(r.status));"))

        assert await step(forged_post) == 403
        assert s.daemon.find("cycle_requested") is None


async def test_signing_out_from_the_header_ends_the_session_under_the_pages_policy(
        tmp_path, browser):
    async with console_daemon(tmp_path) as s:
        def sign_in_and_out() -> tuple[str, str]:
            _sign_in(browser, s.url)
            # The stylesheet still applies under the Content-Security-Policy.
            display = browser.execute_script(
                "return getComputedStyle(document.querySelector('header')).display")
            button = next(b for b in browser.find_elements(By.TAG_NAME, "button")
                          if b.text == "Sign out")
            button.click()
            who = _header_after_navigation(browser, lambda who: who.startswith("read-only"))
            return display, who

        display, who = await step(sign_in_and_out)
    assert display == "flex"
    assert who.startswith("read-only")
    assert s.daemon.find("console_sign_out", allowed=True) is not None


async def test_approving_a_refused_plan_performs_it_once(tmp_path, browser):
    async with console_daemon(tmp_path, shop_policy={"max_changed_fraction": 0.01}) as s:
        assert _results(s.daemon.events, "shop") == ["refused"]
        assert s.shop.stats()["writes"]["variants"] == 0

        def approve() -> tuple[str, str]:
            _sign_in(browser, s.url)
            browser.get(f"{s.url}/ui/site/shop")
            box = browser.find_element(By.ID, "refusal").text
            assert "max_changed_fraction" in box
            _click_confirmed(browser, "Approve once")
            return box, _after_navigation(browser, By.CSS_SELECTOR, ".flash").text

        box, flash = await step(approve)
        assert "Approved once" in flash
        refused_changes = int(box.split(" change(s) refused")[0].rsplit("\n", 1)[-1])
        await s.daemon.wait_for("cycle_finished", site="shop", result="ok")
        applied = s.daemon.find("cycle_finished", site="shop", result="ok")
        assert applied is not None and applied["written"] == refused_changes > 0
        assert s.daemon.find("cycle_forced_by_approval", site="shop") is not None
        assert s.shop.stats()["writes"]["variants"] > 0
        writes = s.shop.stats()["writes"]["variants"]
        by_sku = {str(r["sku"]): r for r in s.shop.state()}
        assert by_sku["TSHIRT-RED-M"]["quantity"] == 18
        # The approval is spent: the next big change is refused again, and writes nothing.
        rows = {str(r["sku"]): 77 for r in s.shop.state()
                if r["sku"] and r["tracked"] and r["sku"] != "TSHIRT-VINTAGE-L"}
        write_source(s.source, rows)
        async with asyncio.timeout(30):  # polls the child's log, which has no event to await
            while _results(s.daemon.events, "shop") != ["refused", "ok", "refused"]:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        assert s.shop.stats()["writes"]["variants"] == writes

        def runs() -> list[str]:
            browser.get(f"{s.url}/ui/site/shop")
            return [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")]

        listed = await step(runs)
    assert sum("(approved)" in r for r in listed) == 1


async def test_a_rollback_from_the_console_restores_the_store(tmp_path, browser):
    async with console_daemon(tmp_path) as s:
        synced = s.shop.state()
        assert _quantities(synced) != _quantities(s.shop_initial)

        def preview() -> str:
            _sign_in(browser, s.url)
            browser.get(f"{s.url}/ui/site/shop")
            browser.find_element(By.PARTIAL_LINK_TEXT, "roll back").click()
            return browser.find_element(By.TAG_NAME, "main").text

        text = await step(preview)
        assert "Dry run: nothing has been written" in text
        assert _quantities(s.shop.state()) == _quantities(synced), "the dry run wrote"

        def confirm() -> str:
            _click_confirmed(browser, "Roll back now")
            return _after_navigation(browser, By.ID, "result").text

        result = await step(confirm)
        assert result.endswith("0 failed, 0 not attempted.")
        assert _quantities(s.shop.state()) == _quantities(s.shop_initial)
        assert s.daemon.find("console_rollback_applied", site="shop") is not None
