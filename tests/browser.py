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
