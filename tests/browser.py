"""Open a file in headless Chromium (Debian's chromium + chromium-driver) and report what the page did:
images decoded, section ids present, every network request it made (from Chrome's performance log)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def inspect_page(path: Path, screenshot: Path) -> dict:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,2000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        url = path.resolve().as_uri()
        driver.get(url)
        driver.execute_script("return document.readyState")
        images = driver.execute_script(
            "return Array.from(document.images).map(i => "
            "({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
        )
        sections = driver.execute_script(
            "return Array.from(document.querySelectorAll('section')).map(s => s.id)"
        )
        requests = []
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                requests.append(message["params"]["request"]["url"])
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        return {"url": url, "images": images, "sections": sections, "requests": requests}
    finally:
        driver.quit()


# Every table's box against its container's, and each lot row's box: what a person sees at one width.
LAYOUT = """
const box = e => {
  const r = e.getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, right: r.right};
};
return {
  width: window.innerWidth,
  height: window.innerHeight,
  scrollsSideways: document.documentElement.scrollWidth > document.documentElement.clientWidth,
  lots: Array.from(document.querySelectorAll('table.lots tr.lot')).map(r => ({
    name: r.querySelector('td.name').textContent,
    verdict: r.querySelector('.badge').textContent,
    ...box(r.querySelector('.badge')),
  })),
  leadFigure: (f => f ? box(f) : null)(document.querySelector('.leadfigure img')),
  donorRows: Array.from(document.querySelectorAll('table.donors tbody tr')).map(r => ({
    name: r.querySelector('td.name').textContent,
    ...box(r),
  })),
  visibleHeaders: Array.from(document.querySelectorAll('th'))
    .filter(h => h.getClientRects().length && !h.closest('details:not([open])'))
    .map(h => h.textContent),
  overflowing: Array.from(document.querySelectorAll('table'))
    .filter(t => t.getClientRects().length)
    .filter(t => t.getBoundingClientRect().right > t.parentElement.getBoundingClientRect().right + 1)
    .map(t => t.className || t.parentElement.className),
};
"""


def inspect_layout(path: Path, screenshot: Path, width: int = 1280, height: int = 800) -> dict:
    """The page in a ``width`` x ``height`` viewport (the window sized so its inner area is exactly that):
    the lot rows' positions and verdicts, tables wider than their container, and a screenshot; then again
    with every collapsed section opened (``opened``: the tables wider than their container then)."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.set_window_size(width, height)
        driver.get(path.resolve().as_uri())
        inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
        layout = driver.execute_script(LAYOUT)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
        layout["opened"] = driver.execute_script(LAYOUT)["overflowing"]
        return layout
    finally:
        driver.quit()
