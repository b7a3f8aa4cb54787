"""Every page at 1024 px (and Home/Catalog at phone width): screenshot, and no metric label cut off with "…".

A label or value is truncated when an element's content is wider than its box
(``scrollWidth > clientWidth``); app.py's global CSS lets them wrap instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import open_app
from tests.support.paths import page_names
from tests.support.tiny_runs import two_runs_server_env

pytestmark = pytest.mark.browser

#: URL path of each page (Home is the root); pages added later are picked up from pages/.
PAGE_PATHS = {name: "" if name == "home" else name for name in page_names()}
#: JS: the text of every metric label/value element (or a descendant) whose content overflows its box.
TRUNCATED = """() => [...document.querySelectorAll(
    "[data-testid='stMetricLabel'], [data-testid='stMetricLabel'] *,"
    + " [data-testid='stMetricValue'], [data-testid='stMetricValue'] *")]
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.innerText.trim())"""


@pytest.fixture(scope="module")
def server_env(browser_home: Path) -> dict[str, str]:
    return two_runs_server_env(browser_home / "models")


def _visit_all(page, app_url: str, shots: Path, width: int, names) -> dict[str, list[str]]:
    truncated: dict[str, list[str]] = {}
    open_app(page, app_url)
    for name in names:
        open_app(page, app_url, PAGE_PATHS[name])
        page.locator("[data-testid='stMain'] h1").first.wait_for()
        page.wait_for_timeout(500)  # let charts and metrics settle their width
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0, f"{name} shows a traceback"
        truncated[name] = page.evaluate(TRUNCATED)
    return truncated


@pytest.mark.timeout(600)
def test_every_page_at_1024_px_has_no_truncated_metric(app_url, page_at, tmp_path: Path) -> None:
    page = page_at(1024, 900)
    truncated = _visit_all(page, app_url, tmp_path, 1024, PAGE_PATHS)
    assert {"home", "catalog", "images", "train", "predict", "compare"} <= set(truncated)
    assert sorted(p.name for p in tmp_path.glob("*-1024.png")) == sorted(f"{n}-1024.png" for n in PAGE_PATHS)
    assert {name: labels for name, labels in truncated.items() if labels} == {}


def test_home_and_catalog_at_phone_width_have_no_truncated_metric(app_url, page_at, tmp_path: Path) -> None:
    page = page_at(390, 844)
    truncated = _visit_all(page, app_url, tmp_path, 390, ["home", "catalog"])
    assert {name: labels for name, labels in truncated.items() if labels} == {}
