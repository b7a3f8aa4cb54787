"""AppTest of the whole app (app.py opens on Home): what is ready to use on first start, and the credit."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support.paths import REPO_ROOT
from ui.plain_text import md_escape

REPO = REPO_ROOT


def test_home_counts_what_ships_and_credits_the_data(monkeypatch, tmp_path):
    monkeypatch.setenv("GZ_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "models" / "mine").mkdir(parents=True)
    (tmp_path / "models" / "mine" / "model.pt").write_bytes(b"")
    at = AppTest.from_file(str(REPO / "app.py")).run(timeout=30)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Galaxies in the built-in GZ1 sample"] == "695"
    assert int(metrics["Demo images with labels"].replace(",", "")) == 581
    assert metrics["Trained models"] == "1"
    assert any("Lintott et al. 2008" in c.value for c in at.caption)


def test_home_links_every_step_shows_real_galaxies_and_escapes_run_names(monkeypatch, tmp_path, app_test):
    monkeypatch.setenv("GZ_MODELS_DIR", str(tmp_path / "models"))
    (tmp_path / "models" / "[x](http:").mkdir(parents=True)
    (tmp_path / "models" / "[x](http:" / "model.pt").write_bytes(b"")
    at = app_test(None, timeout=30).run()
    assert not at.exception
    links = {link.proto.label for link in at.get("page_link")}
    assert {"Open the catalog", "Get images", "Train a model", "Predict", "Compare models"} <= links
    images = at.get("image")
    assert len(images) == 3  # three demo-set galaxies (elliptical, clockwise spiral, edge-on)
    captions = [image.proto.imgs[0].caption for image in images]
    assert captions == ["elliptical", "clockwise spiral", "edge-on"]
    assert any("587725816426594544" in c.value for c in at.caption)
    trained = next(m for m in at.metric if m.label == "Trained models")
    assert trained.proto.help == "\\[x\\]\\(http\\:"  # a run's folder name is shown as text, not a link
    assert not at.info  # no public-mode notice in the default (local) mode


def test_public_mode_says_what_is_off(monkeypatch, app_test):
    monkeypatch.setenv("GZ_MODE", "public")
    at = app_test(None, timeout=30).run()
    assert not at.exception
    assert any("public demo" in i.value.lower() for i in at.info)
    assert any("no training" in i.value for i in at.sidebar.info)


def test_home_counts_your_runs_and_the_shipped_ones(monkeypatch, tmp_path, app_test):
    monkeypatch.setenv("GZ_MODELS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(tmp_path / "shipped"))
    for folder in (tmp_path / "runs" / "mine", tmp_path / "shipped" / "demo", tmp_path / "shipped" / "gz1-heldout"):
        folder.mkdir(parents=True)
        (folder / "model.pt").write_bytes(b"")
    at = app_test(None, timeout=30).run()
    assert not at.exception
    trained = next(m for m in at.metric if m.label == "Trained models")
    assert trained.value == "3" and trained.proto.help == md_escape("mine; shipped: demo, gz1-heldout")
