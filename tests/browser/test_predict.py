"""Real browser: upload an image on the Predict page and see its bars; open the Compare page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import open_app, wait_for_app_idle
from tests.support.tiny_runs import FIXTURES, two_runs_server_env

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_env(browser_home: Path) -> dict[str, str]:
    return two_runs_server_env(browser_home / "models")


def test_upload_shows_bars_and_compare_page_opens(tmp_path: Path, app_url, page_at):
    page = page_at(1400, 1800)
    image = FIXTURES / "gz1" / "588295840175292498.jpg"
    open_app(page, app_url, "predict")
    page.get_by_role("link", name="Compare models").wait_for()  # st.navigation's sidebar, not pages/
    # The largest-disagreement galaxy is shown, with its bars.
    page.get_by_role("heading", name=re.compile(r"^Galaxy ")).wait_for()
    page.get_by_role("tab", name="Your own image").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(image))
    page.get_by_text("Most people would say").wait_for()
    wait_for_app_idle(page)
    panel = page.get_by_role("tabpanel", name="Your own image")
    # Nine bars of the model's fractions (plotly draws one <path> per bar).
    expect(panel.locator(".js-plotly-plot .barlayer .point")).to_have_count(9)
    page.screenshot(path=str(tmp_path / "predict_upload.png"))

    open_app(page, app_url, "compare")
    page.get_by_role("heading", name="Leaderboard").wait_for()
    page.get_by_role("heading", name="Two runs side by side").wait_for()
    expect(page.locator("[data-testid='stDataFrame']")).to_have_count(2)
    page.screenshot(path=str(tmp_path / "compare.png"))
