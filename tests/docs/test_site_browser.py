"""The built site in a real browser (headless Chromium at 1280x900): pages that fit the window,
no console errors, a sidebar, coloured code and the pictures shown. Screenshots of each page are
saved (in ``$VIDEOLLM_DOCS_SCREENSHOTS``, else in the session's temporary folder) for a person
to look at."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from browser import console_errors

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

#: page -> (what a reader must see on it: a CSS selector, at least one match and shown)
PAGES = {
    "": ".md-content h1",
    "reference/api/": ".doc-object table",  # parameters in tables
    "reference/plugin-api/": ".doc-object table",
    "reference/components/": ".doc-contents p",  # docstrings as text, not monospace blocks
    "tasks/": "img[src$='tasks/oad.png']",
    "architecture/": "img[src$='pipeline.svg']",
    "benchmarks/": "img[src$='streaming.svg']",
    "quickstart/": ".highlight",
}

#: what overflows its box, measured in the page: the document itself, tables (Material wraps
#: each in a scrolling box, so a table too wide hides columns), code blocks and pictures.
OVERFLOW = """
const out = [];
const root = document.documentElement;
if (root.scrollWidth > root.clientWidth + 1) out.push(`page scrolls sideways: ${root.scrollWidth} > ${root.clientWidth}`);
for (const box of document.querySelectorAll('.md-typeset__table, .md-typeset__scrollwrap')) {
  if (box.scrollWidth > box.clientWidth + 1) out.push(`table ${box.scrollWidth}px in ${box.clientWidth}px: ` +
    (box.querySelector('tr') || box).innerText.slice(0, 80));
}
for (const code of document.querySelectorAll('.md-content pre > code')) {
  if (code.scrollWidth > code.clientWidth + 1) out.push(`code block ${code.scrollWidth}px in ${code.clientWidth}px: ` +
    code.innerText.split('\\n')[0].slice(0, 80));
}
for (const img of document.querySelectorAll('.md-content img')) {
  const r = img.getBoundingClientRect(), box = img.closest('article').getBoundingClientRect();
  if (r.right > box.right + 1) out.push(`picture ${img.getAttribute('src')} past the text's right edge`);
}
return out;
"""

VISIBLE = "const e = arguments[0]; const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0;"


def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("VIDEOLLM_DOCS_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "docs-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load(driver, url: str) -> None:
    driver.get(url)
    driver.execute_script("return document.fonts ? document.fonts.ready : null")
    assert driver.execute_script("return document.readyState") == "complete"


@pytest.mark.parametrize("name", list(PAGES))
def test_page_fits_the_window_without_errors(chrome, site_url, name, tmp_path_factory):
    from selenium.webdriver.common.by import By

    load(chrome, site_url + name)
    shots = screenshot_dir(tmp_path_factory)
    stem = (name.strip("/").replace("/", "-") or "home")
    chrome.save_screenshot(str(shots / f"{stem}.png"))
    assert not console_errors(chrome), f"console errors on /{name}"
    problems = chrome.execute_script(OVERFLOW)
    assert not problems, f"/{name} at 1280 px:\n" + "\n".join(problems)
    sidebar = chrome.find_element(By.CSS_SELECTOR, ".md-sidebar--primary .md-nav")
    assert chrome.execute_script(VISIBLE, sidebar), "no navigation sidebar"
    wanted = chrome.find_elements(By.CSS_SELECTOR, PAGES[name])
    assert wanted, f"/{name} shows no {PAGES[name]}"
    chrome.execute_script("arguments[0].scrollIntoView({block: 'center'})", wanted[0])
    assert chrome.execute_script(VISIBLE, wanted[0])
    if wanted[0].tag_name == "img":
        assert chrome.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", wanted[0]), \
            f"{wanted[0].get_attribute('src')} did not load"
    chrome.save_screenshot(str(shots / f"{stem}-{'picture' if wanted[0].tag_name == 'img' else 'content'}.png"))


def test_code_is_coloured_and_search_works(chrome, site_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    load(chrome, site_url + "quickstart/")
    colours = chrome.execute_script(
        "return [...document.querySelectorAll('.md-content .highlight code span')].map(s => getComputedStyle(s).color)")
    assert len(set(colours)) >= 3, f"code is not coloured: {set(colours)}"
    box = chrome.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()
    box.send_keys("build_pipeline")
    WebDriverWait(chrome, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))
    results = chrome.find_element(By.CSS_SELECTOR, ".md-search-result").text
    assert "build_pipeline" in results and "\\|" not in results
    assert not console_errors(chrome)
