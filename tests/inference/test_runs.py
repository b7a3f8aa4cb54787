"""Odd run folders are skipped with a note; a run's config is bounded and checked against its weights first."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from core.__main__ import main
from core.inference.predict import load_run
from core.inference.predictions_csv import read_predictions
from core.inference.runs import list_runs, scan_runs, skipped_note
from core.training.checkpoint import CheckpointError
from tests.support.tiny_runs import FIXTURES, make_run

SECRET = "do-not-echo-this-4417"


def _odd_runs(models: Path) -> dict[str, str]:
    """Run folders whose config.json or state.json is odd -> the words their note must contain."""
    odd = {
        "cfg-list": ("config.json", b'["' + SECRET.encode() + b'"]', "JSON list"),
        "cfg-latin1": ("config.json", b'{"run_id": "caf\xe9 ' + SECRET.encode() + b'"}', "not UTF-8"),
        "cfg-truncated": ("config.json", b'{"run_id": "' + SECRET.encode() + b'", "model": {"ar', "not valid JSON"),
        "state-list": ("state.json", b"[1, 2, 3]", "JSON list"),
        "state-latin1": ("state.json", b'{"status": "\xff\xfe"}', "not UTF-8"),
    }
    for name, (file, data, _) in odd.items():
        make_run(models / name)
        (models / name / file).write_bytes(data)
    return {name: words for name, (_, _, words) in odd.items()}


def test_odd_run_folders_are_skipped_with_a_note_and_good_runs_stay(tmp_path: Path):
    models = tmp_path / "models"
    make_run(models / "demo")
    make_run(models / "good")
    expected = _odd_runs(models)
    (models / "not-a-run").mkdir()  # no model.pt: not a run, not mentioned
    scan = scan_runs(models)
    assert [r["run_id"] for r in scan.runs] == ["demo", "good"]
    assert [r["run_id"] for r in list_runs(models)] == ["demo", "good"]
    reasons = {s.run_id: s.reason for s in scan.skipped}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    note = skipped_note(scan.skipped)
    assert note.startswith("Skipped 5 run folders") and SECRET not in note and str(models) not in note


@pytest.mark.parametrize("change, words", [
    ({"model": {"arch": "small", "width": 4096, "dropout": 0.0}}, "model.width must be between"),
    ({"image_size": 60000}, "image_size must be between"),
    ({"model": {"arch": "vit_huge", "width": 8}}, "unknown architecture 'vit_huge'"),
    ({"model": {"arch": "small", "width": "wide"}}, "not a number"),
    ({"crop_fraction": 7}, "crop_fraction must be in (0, 1]"),
])
def test_out_of_bounds_configs_are_refused_quickly(tmp_path: Path, change: dict, words: str):
    run = make_run(tmp_path / "r", extra_config=change)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="config.json") as info:
        load_run(run)
    assert time.perf_counter() - start < 2.0
    assert words in str(info.value)
    assert scan_runs(tmp_path).skipped[0].run_id == "r"  # and the run lists skip it


def test_weights_are_compared_with_the_config_before_the_model_is_built(tmp_path: Path, monkeypatch):
    run = make_run(tmp_path / "r", width=8)
    config = json.loads((run / "config.json").read_text())
    config["model"]["width"] = 16  # in bounds, but not what the weights were saved with
    (run / "config.json").write_text(json.dumps(config))
    import core.inference.predict as predict

    built = []
    monkeypatch.setattr(predict, "build_model", lambda cfg: built.append(cfg))
    with pytest.raises(CheckpointError, match=r"model.pt: weights do not fit .*shape"):
        load_run(run)
    assert built == []  # refused on the meta device, before any real allocation


def test_missing_tensors_are_named(tmp_path: Path):
    run = make_run(tmp_path / "r")
    state = torch.load(run / "model.pt", weights_only=True)
    state.pop(next(iter(state)))
    torch.save(state, run / "model.pt")
    with pytest.raises(CheckpointError, match="1 tensors missing"):
        load_run(run)


def test_formula_ids_and_names_are_neutralised_in_predictions_csv(tmp_path: Path):
    run = make_run(tmp_path / "models" / "r")
    image = tmp_path / "=cmd.jpg"
    image.write_bytes((FIXTURES / "gz1" / "587738947208085695.jpg").read_bytes())
    out = tmp_path / "p.csv"
    assert main(["predict", '=HYPERLINK("http://x")', str(image), "--model", str(run), "--out", str(out)]) == 0
    row = read_predictions(out).iloc[0]
    assert row["ID"] == "'=HYPERLINK(\"http://x\")" and row["IMAGE"] == "'=cmd.jpg"
    assert row["P_EL"] >= 0  # numbers stay numbers
