"""Real browser: on the Explore page a click opens a galaxy, a box selection counts, and Predict uses it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.browser import open_app, open_from_sidebar, wait_for_app_idle
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.browser

#: A point's page coordinates from plotly's own axes (trace 1, point 5 of the embedding map).
POINT_XY = """() => { const gd = document.querySelector('.js-plotly-plot');
    const t = gd._fullData[1], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
    return [r.left + xa._offset + xa.l2p(t.x[5]), r.top + ya._offset + ya.l2p(t.y[5])]; }"""


@pytest.fixture(scope="module")
def server_env(browser_home: Path) -> dict[str, str]:
    """The shipped models/demo, the model the built-in embedding files were made with."""
    shutil.copytree(REPO_ROOT / "models" / "demo", browser_home / "models" / "demo")
    return {}


def test_click_box_selection_and_predict_uses_it(app_url, page_at):
    page = page_at(1400, 1400)
    open_app(page, app_url, "explore")
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.wait_for()
    page.wait_for_timeout(500)  # plotly's first draw
    x, y = page.evaluate(POINT_XY)
    page.mouse.click(x, y)  # pan mode (the default): a click selects that one point
    page.get_by_text("from gz1").or_(page.get_by_text("from spin")).first.wait_for()
    label = page.get_by_text(re.compile(r"^Volunteers' label:"))
    label.first.wait_for(timeout=120_000)  # drawn after the model's prediction for the clicked image
    wait_for_app_idle(page)
    assert label.count() == 1
    # Box select from the chart's toolbar, then drag over the right half of the plot.
    chart.hover()
    chart.locator(".modebar-btn[data-title='Box Select']").click()
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5, steps=10)
    page.mouse.up()
    metric = page.get_by_test_id("stMetricValue").first
    metric.wait_for()
    wait_for_app_idle(page)
    n = int(metric.inner_text().replace(",", ""))
    assert 50 < n < 581
    open_from_sidebar(page, "Predict")
    page.get_by_text(f"Only the {n:,} galaxies selected on the embedding map").wait_for()
    page.get_by_text(re.compile(rf"^{n:,} galaxies")).first.wait_for()
