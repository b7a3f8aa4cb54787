"""One real-browser run of the Images page: start a download, see the bar reach the end and the gallery fill."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import chromium_page, wait_for_app_idle
from tests.support.fake_skyserver import fake_skyserver
from tests.support.paths import CUTOUT_FIXTURES
from tests.support.streamlit_server import streamlit_server

FIXTURES = CUTOUT_FIXTURES
SCREENSHOT = Path("/tmp/images_page.png")


@pytest.mark.browser
def test_images_page_downloads_and_shows_the_gallery(tmp_path):
    folder = tmp_path / "images"
    with fake_skyserver(latency=0.4) as server:
        env = {
            "GZ_CUTOUT_BASE_URL": server.dr18_base,
            # The three real GZ1 Table 2 galaxies whose SDSS cutouts the stand-in serves.
            "GZ_SAMPLE_CATALOG": str(FIXTURES / "catalog_table2.csv"),
            "GZ_IMAGES_DIR": str(folder),
            "GZ_DOWNLOAD_WORKERS": "1",
        }
        with streamlit_server(env) as url, chromium_page(width=1400, height=1800) as page:
            # Open the app's root first: a fresh server whose first visit is /images runs the page
            # without app.py (Streamlit's pages/-directory mode; reported to the lead).
            page.goto(url)
            wait_for_app_idle(page)
            page.goto(f"{url}/images")
            wait_for_app_idle(page)
            page.get_by_text("3 galaxies selected").wait_for()
            page.get_by_role("button", name="Start download").click()
            page.get_by_text("3 / 3 galaxies · finished").wait_for(timeout=60_000)
            bar = page.locator("[data-testid='stProgress'] [role='progressbar']").first
            assert bar.get_attribute("aria-valuenow") == "100"
            page.get_by_text("Gallery (3 images)").wait_for(timeout=30_000)
            page.wait_for_function(
                "document.querySelectorAll(\"[data-testid='stImage'] img\").length === 3"
                " && [...document.querySelectorAll(\"[data-testid='stImage'] img\")].every(i => i.complete"
                " && i.naturalWidth === 256)")
            # The real vote fractions under 587742772951842916 (edge-on is the top answer).
            page.get_by_text("EDGE 0.53").wait_for()
            wait_for_app_idle(page)
            page.screenshot(path=str(SCREENSHOT))
    assert sorted(p.name for p in folder.glob("*.jpg")) == [
        "587729160043954260.jpg", "587742611876544801.jpg", "587742772951842916.jpg"]
    assert server.count("200") == 3
