"""Real browser: start a short training run from the Train page and watch the curves update."""

from __future__ import annotations

import re
import time

import pytest

from tests.support.browser import chromium_page, wait_for_app_idle
from tests.support.streamlit_server import streamlit_server

pytestmark = pytest.mark.browser


def _points(page) -> int:
    """Markers drawn in the loss chart (one per epoch per curve)."""
    return page.locator("[data-testid='stPlotlyChart']").first.locator(".scatterlayer .point").count()


@pytest.mark.timeout(600)  # a cold first run (fresh venv, cold disk) imports torch slowly
def test_start_training_and_see_curves_update(tmp_path):
    with streamlit_server() as url, chromium_page() as page:
        page.goto(f"{url}/train")
        wait_for_app_idle(page)
        page.get_by_text("No training run yet").wait_for()
        for label, value in (("Epochs", "3"), ("Batch size", "8")):
            box = page.get_by_label(label, exact=True)
            box.fill(value)
            box.press("Enter")
            wait_for_app_idle(page)
        page.get_by_role("button", name="Start training").click()
        page.get_by_text(re.compile(r"1 epoch\(s\) finished")).wait_for(timeout=300_000)
        page.locator("[data-testid='stPlotlyChart']").first.locator(".scatterlayer .point").first.wait_for()
        first = _points(page)
        page.get_by_text(re.compile(r"3 epoch\(s\) finished of 3")).wait_for(timeout=180_000)
        deadline = time.monotonic() + 20
        while _points(page) < 6 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert first < _points(page) == 6  # two curves, three epochs each
        page.get_by_text(re.compile("finished 3 epochs")).wait_for()
        page.screenshot(path=str(tmp_path / "train.png"), full_page=True)
