"""Training runs on a small real subset: learning, checkpoints, resume, cancel, safe loading, the lock, the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from core.config import get_settings
from core.images.preprocess import cache_path, cached_arrays
from core.inference.predict import evaluate_labelled_set, load_run
from core.inference.runs import list_runs
from core.jobs import JobLock, read_state, request_cancel
from core.training.augment import AugmentSettings
from core.training.checkpoint import CheckpointError, load_resume, load_state_dict, read_metrics
from core.training.train import (
    TRAINING_LOCK,
    Source,
    TrainConfig,
    TrainingBusy,
    evaluate_arrays,
    prepare_data,
    run_training,
)
from tests.support.paths import REPO_ROOT

REPO = REPO_ROOT
DEMO = REPO / "data" / "demo"


@pytest.fixture
def small_sources(tmp_path) -> list[Source]:
    """8 GZ1 images per class (class-derived) + 16 spin-labelled cutouts, from the shipped demo set."""
    gz1 = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype=str)
    gz1 = gz1.groupby("CLASS_NAME", sort=True).head(8)
    spin = pd.read_csv(DEMO / "spin" / "labels.csv", dtype=str).head(16)
    gz1.to_csv(tmp_path / "gz1.csv", index=False)
    spin.to_csv(tmp_path / "spin.csv", index=False)
    return [Source(str(tmp_path / "gz1.csv"), str(DEMO / "gz1"), 0.45),
            Source(str(tmp_path / "spin.csv"), str(DEMO / "spin"), 1.0)]


def _config(sources, **kw) -> TrainConfig:
    base = dict(sources=sources, arch="small", width=8, image_size=32, epochs=2, batch_size=16, lr=5e-3, val_fraction=0.25,
                seed=1, threads=2, augment=AugmentSettings())
    base.update(kw)
    return TrainConfig(**base)


def test_loss_decreases_on_real_subset(small_sources, tmp_path):
    config = _config(small_sources, epochs=6, augment=AugmentSettings(rotate=False, flip=False, max_shift=0,
                                                                       max_zoom=0, max_cut=0), val_fraction=0.0, lr=1e-2)
    state = run_training(config, tmp_path / "run", command="test")
    assert state["status"] == "finished"
    losses = [r["train_loss"] for r in read_metrics(tmp_path / "run")]
    assert losses[-1] < 0.8 * losses[0], losses
    # and the saved model, in eval mode, fits the training images better than an untrained one
    data = prepare_data(config)
    from core.training.model import build_model
    torch.manual_seed(1)
    before, _, _ = evaluate_arrays(build_model(config.model_section()), data.images, data.targets,
                                   data.class_derived)
    after, _, _ = evaluate_arrays(load_run(tmp_path / "run").model, data.images, data.targets, data.class_derived)
    assert after < before, (before, after)


def test_run_folder_contents_and_inference(small_sources, tmp_path):
    run_dir = tmp_path / "models" / "r1"
    state = run_training(_config(small_sources), run_dir, command="python -m core train --test")
    assert state["status"] == "finished" and state["done"] == 2
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["command"] == "python -m core train --test"
    assert cfg["data"]["hash"] and cfg["libraries"]["torch"] == torch.__version__
    assert cfg["image_size"] == 32 and cfg["crop_fraction"] == 0.45 and cfg["seed"] == 1
    assert cfg["data"]["n_train"] + cfg["data"]["n_val"] == 48 + 16
    assert cfg["data"]["n_class_derived"] == 48
    rows = read_metrics(run_dir)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"train_loss", "val_loss", "val_accuracy", "val_spin_accuracy", "val_rmse_P_CW"} <= set(rows[0])
    assert set(load_state_dict(run_dir / "model.pt")) == set(load_run(run_dir).model.state_dict())
    run = load_run(run_dir)
    images = [Image.open(p) for p in sorted((DEMO / "gz1").glob("*.jpg"))[:3]]
    pred = run.predict(images, tta=True)
    assert pred.shape == (3, 9) and np.allclose(pred[:, :6].sum(axis=1), 1, atol=1e-5)
    assert np.allclose(pred[:, 6], pred[:, 1] + pred[:, 2] + pred[:, 3], atol=1e-5)
    # evaluation goes through the same preprocessing + inference path as predict()
    res = evaluate_labelled_set(run, small_sources[0].catalog, small_sources[0].images)
    direct = run.predict([Image.open(Path(small_sources[0].images) / f"{i}.jpg")
                          for i in pd.read_csv(small_sources[0].catalog, dtype=str).OBJID])
    assert res["n"] == 48 and res["crop_fraction"] == 0.45
    assert res["accuracy"] == pytest.approx(np.mean(direct[:, :6].argmax(1) ==
                                                    pd.read_csv(small_sources[0].catalog).CLASS.to_numpy()))
    assert [r["run_id"] for r in list_runs(tmp_path / "models")] == ["r1"]


def test_killed_run_resumes_to_the_same_model(small_sources, tmp_path):
    config = _config(small_sources, epochs=3)
    run_training(config, tmp_path / "straight", command="t")

    def die_after_first(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt  # stands in for a kill between epochs

    with pytest.raises(KeyboardInterrupt):
        run_training(config, tmp_path / "killed", command="t", on_epoch=die_after_first)
    assert read_state(tmp_path / "killed")["status"] == "interrupted"
    assert load_resume(tmp_path / "killed")["epoch"] == 1
    state = run_training(config, tmp_path / "killed", command="t")
    assert state["status"] == "finished"
    assert [r["epoch"] for r in read_metrics(tmp_path / "killed")] == [1, 2, 3]
    cfg = json.loads((tmp_path / "killed" / "config.json").read_text())
    assert cfg["resumed"][0]["at_epoch"] == 2
    a = load_state_dict(tmp_path / "straight" / "model.pt")
    b = load_state_dict(tmp_path / "killed" / "model.pt")
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)


def test_resume_with_other_settings_is_refused(small_sources, tmp_path):
    from core.training.train import TrainingError

    run_training(_config(small_sources, epochs=1), tmp_path / "r", command="t")
    with pytest.raises(TrainingError, match="different settings.*lr"):
        run_training(_config(small_sources, epochs=1, lr=0.1), tmp_path / "r", command="t")


def test_cancel_keeps_last_good_checkpoint(small_sources, tmp_path):
    run_dir = tmp_path / "c"
    seen = []

    def on_batch(epoch, b, n, loss):
        seen.append(epoch)
        if epoch == 2 and b == 1:
            request_cancel(run_dir)

    state = run_training(_config(small_sources, epochs=3), run_dir, command="t", on_batch=on_batch)
    assert state["status"] == "cancelled" and "epoch 1" in state["message"]
    assert seen.count(2) == 1  # stopped at the next batch
    assert [r["epoch"] for r in read_metrics(run_dir)] == [1]
    resume = load_resume(run_dir)
    saved = load_state_dict(run_dir / "model.pt")
    assert resume["epoch"] == 1 and all(torch.equal(saved[k], resume["model"][k]) for k in saved)
    assert not (run_dir / "CANCEL").exists()


def test_pickled_model_is_refused(small_sources, tmp_path):
    run_dir = tmp_path / "r"
    run_training(_config(small_sources, epochs=1), run_dir, command="t")
    run = load_run(run_dir)
    torch.save(run.model, run_dir / "model.pt")  # a whole pickled module: could run code on load
    with pytest.raises(CheckpointError, match="refused"):
        load_run(run_dir)
    torch.save({"weights": run.model.state_dict(), "note": "nested"}, run_dir / "model.pt")
    with pytest.raises(CheckpointError, match="not a model state dict"):
        load_run(run_dir)
    (run_dir / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="model.pt"):
        load_run(run_dir)


def test_second_training_run_is_refused(small_sources, tmp_path):
    models = get_settings().models_dir
    with JobLock(models, TRAINING_LOCK):
        with pytest.raises(TrainingBusy, match="already in progress"):
            run_training(_config(small_sources, epochs=1), tmp_path / "x", command="t")
    assert not (tmp_path / "x" / "config.json").exists()


def test_preprocess_cache_reused_and_invalidated(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    folder.mkdir()
    src = sorted((DEMO / "gz1").glob("*.jpg"))[:3]
    files = []
    for p in src:
        files.append(folder / p.name)
        files[-1].write_bytes(p.read_bytes())
    calls = []
    import core.images.preprocess as pre
    real = pre.prepare_file
    monkeypatch.setattr(pre, "prepare_file", lambda f, s, c: calls.append(f) or real(f, s, c))
    a = cached_arrays(files, 24, 0.5)
    assert len(calls) == 3 and cache_path(files, 24, 0.5).exists()
    b = cached_arrays(files, 24, 0.5)
    assert len(calls) == 3 and np.array_equal(a, b)  # reused, nothing re-read
    Image.fromarray(np.zeros((50, 50, 3), np.uint8)).save(files[1])  # changed image
    os.utime(files[1], ns=(time.time_ns(), time.time_ns() + 10**9))
    c = cached_arrays(files, 24, 0.5)
    assert len(calls) == 6 and c[1].max() == 0 and np.array_equal(c[0], a[0])
    extra = folder / "new.jpg"
    extra.write_bytes(src[0].read_bytes())
    d = cached_arrays(files + [extra], 24, 0.5)  # added image: new key
    assert len(calls) == 10 and d.shape[0] == 4
    cached_arrays(files, 32, 0.5)  # other size: other cache
    assert len(calls) == 13


def test_cli_train_and_evaluate(small_sources, tmp_path):
    out = tmp_path / "models" / "cli"
    cmd = [sys.executable, "-m", "core", "train"]
    for s in small_sources:
        cmd += ["--catalog", s.catalog, "--images", s.images, "--crop-fraction", str(s.crop_fraction)]
    cmd += ["--model", "small", "--size", "32", "--width", "8", "--epochs", "1", "--out", str(out), "--no-progress"]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "finished" in p.stdout
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["command"].startswith("python -m core train --catalog")
    p2 = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert p2.returncode == 2 and "already holds a finished run" in p2.stderr
    ev = subprocess.run([sys.executable, "-m", "core", "evaluate", "--model", str(out), "--catalog",
                         small_sources[1].catalog, "--images", small_sources[1].images, "--json"],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert ev.returncode == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert result["n"] == 16 and result["accuracy"] is None and result["macro_recall"] is None
    assert 0 <= result["spin_accuracy"] <= 1 and result["rmse"]["P_CW"] is not None
    assert result["crop_fraction"] == 1.0
    table = subprocess.run([sys.executable, "-m", "core", "evaluate", "--model", str(out), "--catalog",
                            small_sources[0].catalog, "--images", small_sources[0].images],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "top-answer accuracy" in table.stdout and "class-derived" in table.stdout
