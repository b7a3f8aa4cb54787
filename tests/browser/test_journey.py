"""Real browser: the offline journey on the built-in galaxies with images (Catalog sky map -> Images ->
Train; Predict's default to the selection is tests/pages/test_predict.py), at 1024 px where the sky map used to sit between empty bands."""

from __future__ import annotations

import pytest

from tests.support.browser import open_app, open_from_sidebar, wait_for_app_idle

pytestmark = pytest.mark.browser


def _metric(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


@pytest.mark.timeout(600)
def test_select_on_the_sky_map_then_import_and_train_on_those_galaxies(app_url, page_at) -> None:
    page = page_at(1024, 900)
    open_app(page, app_url)
    open_from_sidebar(page, "Catalog")
    page.get_by_role("button", name="Use the built-in galaxies with images").click()
    page.get_by_text("30 galaxies").first.wait_for()
    wait_for_app_idle(page)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".main-svg").first.wait_for()
    chart.scroll_into_view_if_needed()  # the mouse only reaches what the viewport shows
    box = chart.bounding_box()
    # The map's box keeps the ellipse's shape: no empty bands above and below it.
    assert 1.7 < box["width"] / box["height"] < 2.1, box
    page.mouse.move(box["x"] + box["width"] * 0.08, box["y"] + box["height"] * 0.25)  # inside the plot
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.97, steps=10)
    page.mouse.up()
    page.get_by_role("button", name="Clear the selection").wait_for()
    wait_for_app_idle(page)
    selected = int(_metric(page, "Selected"))
    assert 0 < selected < 30

    open_from_sidebar(page, "Images")
    page.get_by_text("Import images you already have").click()
    page.get_by_role("button", name="Import the 30 built-in images").click()
    success = page.locator("[data-testid='stAlertContentSuccess']").filter(has_text="Built-in images")
    success.wait_for()
    assert "30 imported" in success.inner_text()
    assert "0 other files ignored" in success.inner_text()  # the folder's own catalog, labels and imageset.json

    open_from_sidebar(page, "Train")
    page.get_by_text("Current catalogue", exact=True).click()
    page.get_by_text(f"Only the {selected} galaxies selected on the sky map").wait_for()
    wait_for_app_idle(page)
    assert _metric(page, "Matched images") == str(selected)
    assert _metric(page, "Labels without image") == "0"
    assert page.locator("[data-testid='stException']").count() == 0
