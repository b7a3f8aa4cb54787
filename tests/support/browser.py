"""Headless Debian Chromium driven by Playwright (never ``playwright install``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync",
]


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000) -> Iterator[object]:
    """Yield a Playwright page in a fresh headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def wait_for_app_idle(page, timeout: float = 60_000) -> None:
    """Wait until the Streamlit script has finished running (Streamlit's e2e pattern)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
