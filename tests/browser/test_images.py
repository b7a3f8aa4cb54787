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


def test_gallery_at_1024_px_keeps_objids_on_one_line_and_rows_aligned(tmp_path, app_url, page_at, browser_home):
    """Seven real cutouts, three with vote fractions (longer captions) and four without."""
    import csv
    import shutil

    from core.images.importer import import_folder

    folder = browser_home / "images"
    src = tmp_path / "mine"
    src.mkdir()
    with open(FIXTURES / "index.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows[:7]):  # 3 galaxies of the catalogue, then 4 without vote fractions
        objid = row["GZ1_DR7_OBJID"] or str(588000000000000000 + i)
        shutil.copy(FIXTURES / "images" / row["FILE"], src / f"{objid}.jpg")
    import_folder(src, folder)
    page = page_at(1024, 900)
    open_app(page, app_url)
    open_app(page, app_url, "images")
    page.get_by_text("Gallery (").wait_for()
    page.wait_for_function("document.querySelectorAll(\"[data-testid='stImage'] img\").length >= 7")
    wait_for_app_idle(page)
    page.locator("[data-testid='stImage'] img").last.scroll_into_view_if_needed()
    page.wait_for_function("[...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(tmp_path / "images_gallery_1024.png"), full_page=True)
    ids = page.evaluate("""[...document.querySelectorAll("div[style*='nowrap']")].map(d => ({
        text: d.textContent, top: d.getBoundingClientRect().top, height: d.getBoundingClientRect().height,
        line: parseFloat(getComputedStyle(d).lineHeight), sw: d.scrollWidth, cw: d.clientWidth}))""")
    assert len(ids) >= 7
    for item in ids:
        assert item["height"] < 1.6 * item["line"], f"OBJID {item['text']} wraps: {item}"
        assert item["sw"] <= item["cw"] + 1, f"OBJID {item['text']} is cut off: {item}"
    tops = page.evaluate("""[...document.querySelectorAll("[data-testid='stImage'] img")]
        .map(i => Math.round(i.getBoundingClientRect().top))""")
    rows_of_four = [tops[i:i + 4] for i in range(0, len(tops), 4)]
    assert all(len(set(row)) == 1 for row in rows_of_four), f"gallery rows misaligned: {rows_of_four}"
    id_tops = [round(i["top"]) for i in ids]
    assert all(len(set(id_tops[i:i + 4])) == 1 for i in range(0, len(id_tops), 4)), id_tops
