"""AppTest of the whole app (app.py opens on Home): what is ready to use on first start, and the credit."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.support.paths import REPO_ROOT

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
