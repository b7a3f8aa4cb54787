"""Real browser: two tabs vote on the Classify page at the same time (one by keyboard, one by mouse),
and the export counts every vote exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from core.schema import RAW_COLUMNS
from core.votes.aggregate import all_votes, export_frame
from core.votes.store import make_engine
from tests.support.browser import open_app, wait_for_app_idle
from tests.support.paths import FIXTURES, REPO_ROOT

pytestmark = pytest.mark.browser

VOTES_PER_TAB = 5


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    # 7 GZ1 galaxies with OBJIDs; the model revealed after a vote is the shipped demo model
    return {"GZ_DEMO_DIR": str(FIXTURES / "predict"), "GZ_SHIPPED_MODELS_DIR": str(REPO_ROOT / "models")}


def _your_votes(page, n: int) -> None:
    metric = page.locator("[data-testid='stMetric']").filter(has_text="Your votes")
    expect(metric).to_contain_text(str(n), timeout=60_000)


def test_two_tabs_vote_at_once_and_export_counts_each_vote_once(app_url, page_at, browser_home: Path,
                                                                tmp_path: Path):
    keys_tab, mouse_tab = page_at(1400, 1400), page_at(1400, 1400)
    for tab in (keys_tab, mouse_tab):
        open_app(tab, app_url, "classify")
        tab.get_by_role("button", name="Elliptical").wait_for()
    for k in range(VOTES_PER_TAB):
        # Fire both votes before waiting for either, so the two sessions write concurrently.
        keys_tab.keyboard.press(str(k % 6 + 1))
        mouse_tab.get_by_role("button", name="Merger").click()
        for tab in (keys_tab, mouse_tab):
            _your_votes(tab, k + 1)
            wait_for_app_idle(tab)
    expect(mouse_tab.get_by_role("heading", name="You said: Merger")).to_be_visible()
    keys_tab.screenshot(path=str(tmp_path / "classify.png"), full_page=True)

    engine = make_engine(f"sqlite:///{browser_home / 'votes.sqlite'}")
    votes = all_votes(engine)
    assert len(votes) == 2 * VOTES_PER_TAB
    per_session = votes.groupby("session_id")["galaxy_id"].agg(["count", "nunique"])
    assert per_session["count"].tolist() == [VOTES_PER_TAB] * 2 == per_session["nunique"].tolist()
    exported = export_frame(engine, min_votes=1)
    assert int(exported["NVOTE"].sum()) == 2 * VOTES_PER_TAB
    merger_votes = (exported["P_MG"] * exported["NVOTE"]).round().sum()
    assert merger_votes == (votes["answer"] == "MERGER").sum()
    assert (exported[list(RAW_COLUMNS)].sum(axis=1).round(6) == 1).all()
