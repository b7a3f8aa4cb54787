"""Resume that extends a run, and runs that end cleanly despite bad files: a corrupt image, a hostile resume.pt."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import torch

from core.jobs import read_state
from core.training.checkpoint import read_config, read_metrics
from core.training.train import Source, TrainConfig, TrainingError, run_training
from tests.support.paths import REPO_ROOT

DEMO = REPO_ROOT / "data" / "demo"


@pytest.fixture
def gz1_copy(tmp_path) -> Source:
    """12 demo GZ1 images (two per class) copied with their labels into a folder of their own."""
    labels = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype=str).groupby("CLASS_NAME", sort=True).head(2)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for objid in labels.OBJID:
        shutil.copy(DEMO / "gz1" / f"{objid}.jpg", folder / f"{objid}.jpg")
    labels.to_csv(tmp_path / "labels.csv", index=False)
    return Source(str(tmp_path / "labels.csv"), str(folder), 0.45)


def _config(source: Source, **kw) -> TrainConfig:
    base = dict(sources=[source], arch="small", width=8, image_size=24, epochs=2, batch_size=4, val_fraction=0.25, seed=3,
                threads=1)
    return TrainConfig(**{**base, **kw})


def test_corrupt_image_is_skipped_and_listed(gz1_copy, tmp_path):
    bad = sorted((tmp_path / "imgs").glob("*.jpg"))[4]
    bad.write_bytes(bad.read_bytes()[:200])  # truncated JPEG
    state = run_training(_config(gz1_copy, epochs=1), tmp_path / "run", command="t")
    assert state["status"] == "finished"
    cfg = read_config(tmp_path / "run")
    assert cfg["data"]["n_unreadable"] == 1 and cfg["data"]["n_train"] + cfg["data"]["n_val"] == 11
    summary = cfg["data"]["sources"][0]
    assert summary["unreadable_files"] == [bad.name] and summary["matched"] == 11


def test_extending_a_finished_run_continues_it(gz1_copy, tmp_path):
    run_dir = tmp_path / "run"
    run_training(_config(gz1_copy, epochs=2), run_dir, command="t")
    with pytest.raises(TrainingError, match="raise the epochs"):
        run_training(_config(gz1_copy, epochs=2), run_dir, command="t")
    state = run_training(_config(gz1_copy, epochs=4), run_dir, command="t2")
    assert state["status"] == "finished" and state["done"] == 4 and state["total"] == 4
    assert [r["epoch"] for r in read_metrics(run_dir)] == [1, 2, 3, 4]
    epochs_column = [line.split(",")[0] for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]]
    assert epochs_column == ["1", "2", "3", "4"]  # never "1.0" next to "3"
    cfg = read_config(run_dir)
    assert cfg["epochs"] == 4 and cfg["resumed"] == [{**cfg["resumed"][0], "at_epoch": 3, "epochs": 4}]
    lrs = [r["lr"] for r in read_metrics(run_dir)]
    assert lrs[2] > 0 and lrs[3] < lrs[2]  # the schedule carries on down, stretched to four epochs
    with pytest.raises(TrainingError, match="epochs"):
        run_training(_config(gz1_copy, epochs=3), run_dir, command="t3")


class _Payload:
    """Any pickled Python object: weights_only loading must refuse it."""


def test_hostile_resume_checkpoint_fails_the_run_with_a_message(gz1_copy, tmp_path):
    run_dir = tmp_path / "run"

    def die(row):
        raise KeyboardInterrupt  # killed after the first epoch

    with pytest.raises(KeyboardInterrupt):
        run_training(_config(gz1_copy), run_dir, command="t", on_epoch=die)
    torch.save({"epoch": 1, "model": _Payload()}, run_dir / "resume.pt")
    with pytest.raises(TrainingError, match="refused"):
        run_training(_config(gz1_copy), run_dir, command="t")
    state = read_state(run_dir)
    assert state["status"] == "failed" and "refused" in state["message"] and state["phase"] == "done"
