"""A real browser for tests: Debian's ``chromium`` driven by ``selenium`` through Debian's
``chromium-driver`` (browsers that download themselves cannot be fetched offline).

Tests that drive it are marked ``browser`` and take the :func:`chrome` fixture (this module is
a pytest plugin loaded by ``tests/conftest.py``). Without chromium, its driver or selenium on
the machine the test is skipped with a reason saying what to install; ``VIDEOLLM_REQUIRE_BROWSER=1``
(set by ``.ci/run``, which installs the packages) turns that skip into a failure, so CI cannot
go quietly green without the browser.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

#: the environment variable that makes a missing browser a failure instead of a skip.
REQUIRE_ENV = "VIDEOLLM_REQUIRE_BROWSER"
WINDOW = (1280, 900)


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_browser() -> str | None:
    """The skip reason when chromium, chromedriver or selenium is missing, else None."""
    missing = []
    if _find("chromium", "chromium-browser", "google-chrome") is None:
        missing.append("chromium")
    if _find("chromedriver") is None:
        missing.append("chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if not missing:
        return None
    return (f"needs a real browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver; "
            f"pip install -e '.[test]'); {REQUIRE_ENV}=1 makes this a failure, as in CI")


@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[object]:
    """A headless Chromium at 1280x900 (selenium ``WebDriver``); quits after the test."""
    reason = missing_browser()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser", "google-chrome")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={tmp_path / 'chrome-profile'}",
                "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(_find("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[str]:
    """The browser console's SEVERE entries since the last call (selenium ``get_log('browser')``)."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
