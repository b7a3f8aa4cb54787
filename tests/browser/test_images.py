"""One real-browser run of the Images page: start a download, see the bar reach the end and the gallery fill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import open_app, wait_for_app_idle
from tests.support.fake_skyserver import fake_skyserver
from tests.support.paths import CUTOUT_FIXTURES

pytestmark = pytest.mark.browser
FIXTURES = CUTOUT_FIXTURES


@pytest.fixture(scope="module")
def skyserver() -> Iterator[object]:
    with fake_skyserver(latency=0.4) as server:
        yield server


@pytest.fixture(scope="module")
def server_env(skyserver, browser_home: Path) -> dict[str, str]:
    return {
        "GZ_CUTOUT_BASE_URL": skyserver.dr18_base,
        # The three real GZ1 Table 2 galaxies whose SDSS cutouts the stand-in serves.
        "GZ_SAMPLE_CATALOG": str(FIXTURES / "catalog_table2.csv"),
        "GZ_IMAGES_DIR": str(browser_home / "images"),
        "GZ_DOWNLOAD_WORKERS": "1",
    }


def test_images_page_downloads_and_shows_the_gallery(tmp_path, app_url, page_at, skyserver, browser_home):
    folder = browser_home / "images"
    page = page_at(1400, 1800)
    # Open the app's root first: a fresh server whose first visit is /images runs the page
    # without app.py (Streamlit's pages/-directory mode; reported to the lead).
    open_app(page, app_url)
    open_app(page, app_url, "images")
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
    page.screenshot(path=str(tmp_path / "images_page.png"))
    assert sorted(p.name for p in folder.glob("*.jpg")) == [
        "587729160043954260.jpg", "587742611876544801.jpg", "587742772951842916.jpg"]
    assert skyserver.count("200") == 3
