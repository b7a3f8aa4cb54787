"""A run folder naming its members predicts with all of them; a bad ensemble.json is named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.inference.ensemble import ENSEMBLE_NAME, EnsembleError
from core.inference.predict import load_run
from core.inference.predictions_csv import OUTPUT_COLUMNS
from tests.support.tiny_runs import make_run


def name_members(run: Path, members: list[str]) -> None:
    (run / ENSEMBLE_NAME).write_text(json.dumps({"members": members}))


def test_an_ensemble_predicts_the_mean_of_its_members(tmp_path: Path):
    runs = [make_run(tmp_path / f"m{s}", seed=s) for s in range(3)]
    name_members(runs[0], ["../m1", "../m2"])
    ens = load_run(runs[0])
    assert [m.run_dir.name for m in ens.members] == ["m1", "m2"] and ens.mc_samples == 0
    assert ens.uncertainty_source == "ensemble of 3 runs"
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    singles = [load_run(r, members=False).predict_prepared(images) for r in runs]
    assert np.allclose(ens.predict_prepared(images), np.mean(singles, axis=0), atol=1e-6)
    out = ens.predict_outputs_prepared(images)
    assert out.shape == (4, len(OUTPUT_COLUMNS))
    assert np.allclose(out[:, 10:], np.std(singles, axis=0), atol=1e-6)  # one SD per fraction
    assert np.isnan(out[:, 9]).all()  # no calibration.json: no TOP_P


@pytest.mark.parametrize("members, message", [
    (["../../elsewhere"], "beside"),
    (["../missing"], "does not exist"),
    (["."], "beside"),
    ("m1", "a list of folder names"),
    (["../m48"], "image size 48 px, not 32"),
])
def test_a_bad_member_is_named(tmp_path: Path, members, message):
    run = make_run(tmp_path / "m0")
    make_run(tmp_path / "m48", image_size=48)
    (tmp_path / "elsewhere").mkdir()
    (run / ENSEMBLE_NAME).write_text(json.dumps({"members": members}))
    with pytest.raises(EnsembleError, match=message) as err:
        load_run(run)
    assert ENSEMBLE_NAME in str(err.value)
