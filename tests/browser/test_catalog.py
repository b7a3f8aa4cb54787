"""Real browser: `streamlit run app.py`, headless Debian Chromium, upload the sample on the Catalog page."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.support.browser import open_app, open_from_sidebar, wait_for_app_idle
from tests.support.paths import CATALOG_FIXTURES, SAMPLE_CATALOG

pytestmark = pytest.mark.browser


def _metric(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_catalog_page_upload_report_table_and_sky_map(tmp_path: Path, app_url: str, page) -> None:
    upload = tmp_path / "gz1_table2_sample695.csv.gz"
    upload.write_bytes(gzip.compress(SAMPLE_CATALOG.read_bytes()))

    # Open the app at its root and use the sidebar like a user (a first request straight to
    # /catalog can be served before app.py has registered its st.navigation pages).
    open_app(page, app_url)
    open_from_sidebar(page, "Catalog")
    # First visit: the built-in sample is already loaded, no upload needed.
    page.get_by_text("built-in sample", exact=False).first.wait_for()
    assert _metric(page, "Rows read") == "695"

    page.locator("input[type='file']").first.set_input_files(str(upload))
    page.locator("[data-testid='stCaptionContainer']").filter(has_text="gz1_table2_sample695.csv.gz").wait_for()
    wait_for_app_idle(page)

    # The report
    assert _metric(page, "Rows read") == "695"
    assert _metric(page, "Clean rows") == "695"
    assert _metric(page, "Rejected rows") == "0"
    page.get_by_text("No problems found", exact=False).wait_for()
    # The table (a glide-data-grid canvas) and its caption
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    page.get_by_text("First 695 of 695 clean rows", exact=False).wait_for()
    # The sky map: a WebGL plotly chart whose title counts the galaxies
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.wait_for()
    chart.locator(".gl-container canvas, canvas").first.wait_for()
    assert "695 galaxies" in chart.inner_text()
    page.screenshot(path=str(tmp_path / "catalog_sample.png"), full_page=True)

    # Box-select the middle of the map: the selection reaches session state and the downloads.
    box = chart.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.3, y0 + box["height"] * 0.3, steps=10)
    page.mouse.up()
    page.get_by_text("sky-map selection (", exact=False).wait_for()
    wait_for_app_idle(page)
    selected = int(_metric(page, "Selected").replace(",", ""))
    assert 0 < selected < 695
    page.get_by_text(f"of {selected:,} selected rows", exact=False).wait_for()
    # Statistics and histograms follow the selection and say so.
    for tab in ("Summary statistics", "Fraction histograms"):
        page.get_by_role("tab", name=tab).click()
        page.locator("p:visible", has_text=f"Of the {selected:,} galaxies selected on the sky map").wait_for()
    page.get_by_role("tab", name="Table").click()

    # The upload and the selection outlive a visit to another page (Images uses both).
    open_from_sidebar(page, "Images")
    page.get_by_text(f"Sky-map selection ({selected})").wait_for()
    open_from_sidebar(page, "Catalog")
    page.get_by_text("uploaded earlier in this session", exact=False).wait_for()
    page.get_by_text(f"selection of {selected:,} galaxies is still in use", exact=False).wait_for()
    assert _metric(page, "Selected") == f"{selected:,}"

    # A file with bad rows: the report lists them instead of failing.
    page.locator("input[type='file']").first.set_input_files(str(CATALOG_FIXTURES / "bad_rows.csv"))
    page.get_by_text("15 rows were excluded", exact=False).wait_for()
    wait_for_app_idle(page)
    assert _metric(page, "Rejected rows") == "15"
    page.get_by_text("Download rejected rows", exact=False).wait_for()
