"""Headless Debian Chromium driven by Playwright (never ``playwright install``).

``launch_chromium`` starts one browser (the module-scoped fixture in ``tests/browser/conftest.py``
keeps it for a whole module); ``chromium_page`` is a self-contained page for scripts outside
pytest (e.g. screenshot tours). ``wait_for_app_idle`` and ``open_from_sidebar`` follow
Streamlit's own e2e helpers.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync",
]
#: Default viewport (CSS px) and per-action timeout (ms) of every test page.
VIEWPORT = (1400, 1000)
ACTION_TIMEOUT_MS = 60_000


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None


@contextmanager
def launch_chromium() -> Iterator[object]:
    """Yield a Playwright ``Browser`` (headless Debian Chromium); closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, width: int = VIEWPORT[0], height: int = VIEWPORT[1]):
    """A page in a fresh browser context (own cookies, own Streamlit session)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    return page


@contextmanager
def chromium_page(width: int = VIEWPORT[0], height: int = VIEWPORT[1]) -> Iterator[object]:
    """Yield a Playwright page in a fresh headless Chromium (for scripts outside pytest)."""
    with launch_chromium() as browser:
        yield new_page(browser, width, height)


def wait_for_app_idle(page, timeout: float = ACTION_TIMEOUT_MS) -> None:
    """Wait until the Streamlit script has finished running (Streamlit's e2e pattern)."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


def open_app(page, url: str, path: str = "") -> None:
    """Load ``url/path`` and wait until the script has finished."""
    page.goto(f"{url}/{path}" if path else url)
    wait_for_app_idle(page)


def open_from_sidebar(page, title: str) -> None:
    """Click ``title`` in the sidebar navigation and wait until that page has run."""
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for()
    wait_for_app_idle(page)
