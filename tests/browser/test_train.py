"""Real browser: start a short training run from the Train page and watch the curves update."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.support.browser import open_app, wait_for_app_idle

pytestmark = pytest.mark.browser

#: Enough epochs (about a second each) that a 2-second poll sees the run part-way.
EPOCHS = 8


def _points(page) -> int:
    """Markers drawn in the loss chart (one per epoch per curve)."""
    return page.locator("[data-testid='stPlotlyChart']").first.locator(".scatterlayer .point").count()


@pytest.mark.timeout(600)  # a cold first run (fresh venv, cold disk) imports torch slowly
def test_start_training_and_see_curves_update(tmp_path, app_url, page, browser_home):
    open_app(page, app_url, "train")
    page.get_by_text("No training run yet").wait_for()
    # The small CNN keeps epochs at about a second on 2 cores (the default encoder is ~3x slower).
    wait_for_app_idle(page)  # the whole form drawn, not just the run panel
    model = page.locator("[data-testid='stSelectbox']").filter(has_text="Model").locator("input")
    model.click()
    model.fill("small")  # filters the options to the one named
    model.press("Enter")
    wait_for_app_idle(page)
    for label, value in (("Epochs", str(EPOCHS)), ("Batch size", "8")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        wait_for_app_idle(page)
    page.get_by_role("button", name="Start training").click()
    # The page polls the run every 2 s, so it may skip epochs: wait for *some* finished epoch.
    progress = page.get_by_text(re.compile(rf"epoch [2-9]\d*/{EPOCHS}|[1-9]\d*/{EPOCHS} epochs done|[1-9]\d* of {EPOCHS} epochs")).first
    try:
        progress.wait_for(timeout=300_000)
    except Exception as exc:
        page.screenshot(path=str(tmp_path / "train-timeout.png"), full_page=True)
        logs = "\n".join(p.read_text()[-2000:] for p in browser_home.rglob("*.log"))
        raise AssertionError(f"no epoch finished; page says:\n{page.locator('body').inner_text()[:3000]}"
                             f"\nlogs:\n{logs}") from exc
    page.locator("[data-testid='stPlotlyChart']").first.locator(".scatterlayer .point").first.wait_for()
    text = progress.inner_text()  # "epoch N/8 ..." while training epoch N, else "N/8 epochs done" or "N of 8 epochs"
    running = re.search(r"epoch (\d+)/", text)
    first_epochs = int(running.group(1)) - 1 if running else int(re.search(r"(\d+)(?:/| of )", text).group(1))
    first_points = _points(page)
    finished = page.get_by_text(f"{EPOCHS} of {EPOCHS} epochs").first
    finished.wait_for(timeout=180_000)
    deadline = time.monotonic() + 20
    while _points(page) < 2 * EPOCHS and time.monotonic() < deadline:
        time.sleep(0.5)
    # The curve was seen part-way and then grew: two curves, one point per epoch each.
    assert first_epochs < EPOCHS
    assert first_points < _points(page) == 2 * EPOCHS
    assert "finished" in page.locator("[data-testid='stMain']").inner_text()
    page.screenshot(path=str(tmp_path / "train.png"), full_page=True)
    # The page's choices reached the detached job: the run records the model picked above.
    configs = list((browser_home / "models").glob("*/config.json"))
    assert [json.loads(c.read_text())["model"]["arch"] for c in configs] == ["small"]
