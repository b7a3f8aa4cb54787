"""``gz calibrate`` fits TOP_P on a run's validation galaxies; ``gz predict`` then writes it with the SDs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.__main__ import main
from core.exit_codes import ExitCode
from core.inference.calibration import CALIBRATION_NAME
from core.inference.predictions_csv import SD_COLUMNS, TOP_ANSWER, TOP_P, read_predictions
from core.schema import VOTE_COLUMNS
from tests.support.tiny_runs import make_run

LEARNED = VOTE_COLUMNS[:7]  # not the two debiased columns


@pytest.fixture
def demo_copy(tmp_path: Path, repo_root: Path) -> Path:
    folder = tmp_path / "gz1"
    shutil.copytree(repo_root / "data" / "demo" / "gz1", folder)
    return folder


def _run(tmp_path: Path, images: Path, name: str, val_fraction: float) -> Path:
    source = {"catalog": str(images / "labels.csv"), "images": str(images), "crop_fraction": 1.0}
    return make_run(tmp_path / "runs" / name, dropout=0.2, val_fraction=val_fraction, learned_columns=LEARNED,
                    extra_config={"sources": [source]})


def test_calibrate_then_predict_writes_top_p_and_sds(tmp_path: Path, demo_copy: Path, capsys):
    run = _run(tmp_path, demo_copy, "held", 0.5)
    assert main(["calibrate", "--model", str(run)]) == ExitCode.OK
    stored = json.loads((run / CALIBRATION_NAME).read_text())
    assert set(stored["calibrators"]) == {"plain", "tta"}
    assert stored["source"]["mc_samples"] == 16
    # the volunteers' answer mix of the galaxies it was fitted on: the demo set's balanced classes
    mix = stored["calibrators"]["plain"]["fitted"]["answer_mix"]
    assert set(mix) == {"EL", "CW", "ACW", "EDGE", "DK", "MG"} and sum(mix.values()) == pytest.approx(1)
    assert max(mix.values()) < 0.3 and mix == stored["calibrators"]["tta"]["fitted"]["answer_mix"]
    out = capsys.readouterr().out
    assert "validation galaxies" in out and "volunteers' top answers on them: " in out
    out = tmp_path / "p.csv"
    assert main(["predict", "--images", str(demo_copy), "--model", str(run), "--out", str(out),
                 "--no-progress"]) == ExitCode.OK
    frame = read_predictions(out)
    assert frame[TOP_P].between(0, 1).all()
    assert frame[TOP_ANSWER].isin(["EL", "CW", "ACW", "EDGE", "DK", "MG"]).all()
    sd = frame[list(SD_COLUMNS)]
    assert sd.iloc[:, :7].notna().all().all() and (sd.iloc[:, :7] >= 0).all().all()
    assert sd.iloc[:, 7:].isna().all().all()  # never learned: no fraction, no SD
    raw = frame[list(VOTE_COLUMNS[:6])].to_numpy()
    assert np.allclose(raw.sum(axis=1), 1, atol=1e-5)


def test_a_run_without_validation_takes_its_twins_calibration(tmp_path: Path, demo_copy: Path, capsys):
    twin = _run(tmp_path, demo_copy, "twin", 0.5)
    everything = _run(tmp_path, demo_copy, "all", 0.0)
    assert main(["calibrate", "--model", str(everything)]) == ExitCode.BAD_INPUT
    assert "held out no galaxies" in capsys.readouterr().err
    assert main(["calibrate", "--model", str(everything), "--from", str(twin)]) == ExitCode.BAD_INPUT
    assert "calibrate it first" in capsys.readouterr().err
    assert main(["calibrate", "--model", str(twin)]) == ExitCode.OK
    assert main(["calibrate", "--model", str(everything), "--from", str(twin)]) == ExitCode.OK
    copied = json.loads((everything / CALIBRATION_NAME).read_text())
    assert copied["source"]["copied_to"] == "all" and "twin" in copied["source"]["why"]


def test_a_shipped_model_is_not_written(tmp_path: Path, demo_copy: Path, monkeypatch, capsys):
    shipped = tmp_path / "shipped"
    run = _run(tmp_path, demo_copy, "held", 0.5)
    shutil.copytree(run, shipped / "held")
    monkeypatch.setenv("GZ_SHIPPED_MODELS_DIR", str(shipped))
    from core.config import get_settings

    get_settings.cache_clear() if hasattr(get_settings, "cache_clear") else None
    assert main(["calibrate", "--model", str(shipped / "held")]) == ExitCode.BAD_INPUT
    assert "read-only" in capsys.readouterr().err
    assert not (shipped / "held" / CALIBRATION_NAME).exists()
