"""Training under torchrun: 2-rank gloo runs on a tiny demo subset, resume, a killed rank, usage errors.

Each torchrun test starts real processes (bounded by timeouts; rendezvous on 127.0.0.1 only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from core.cli import main
from core.cli.train import worker_argv
from core.jobs import read_state
from core.training.augment import AugmentSettings
from core.training.checkpoint import load_resume, read_metrics
from core.training.distributed import World, world_from_env
from core.training.epochs import evaluate_arrays, steps_per_epoch
from core.training.model import build_model
from core.training.prepare import is_validation
from core.training.resume import resume_point
from core.training.train import Source, TrainConfig, prepare_data, run_training
from tests.support.paths import REPO_ROOT

DEMO = REPO_ROOT / "data" / "demo"
#: ``python -m core`` whose rank 1 SIGKILLs itself mid epoch 2 on the group's first attempt.
KILL_WORKER = str(REPO_ROOT / "tests" / "training" / "ddp_kill_worker.py")
#: No augmentation and no dropout: the only randomness left is the (shared) shuffle order.
PLAIN = ["--no-rotate", "--no-flip", "--max-shift", "0", "--max-zoom", "0", "--max-cut", "0", "--dropout", "0"]


@pytest.fixture
def tiny(tmp_path) -> list[Source]:
    """8 GZ1 images per class (class-derived) + 16 spin-labelled cutouts from the demo set: 64 galaxies."""
    gz1 = pd.read_csv(DEMO / "gz1" / "labels.csv", dtype=str).groupby("CLASS_NAME", sort=True).head(8)
    spin = pd.read_csv(DEMO / "spin" / "labels.csv", dtype=str).head(16)
    gz1.to_csv(tmp_path / "gz1.csv", index=False)
    spin.to_csv(tmp_path / "spin.csv", index=False)
    return [Source(str(tmp_path / "gz1.csv"), str(DEMO / "gz1"), 0.45),
            Source(str(tmp_path / "spin.csv"), str(DEMO / "spin"), 1.0)]


def _args(sources: list[Source], out, epochs: int = 2) -> list[str]:
    argv = ["train"]
    for s in sources:
        argv += ["--catalog", s.catalog, "--images", s.images, "--crop-fraction", str(s.crop_fraction)]
    return argv + ["--model", "small", "--width", "8", "--size", "24", "--epochs", str(epochs), "--batch-size",
                   "16", "--val-fraction", "0.25", "--seed", "1", *PLAIN, "--out", str(out), "--no-progress"]


def _run(cmd: list[str], timeout: int = 150) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_world_from_torchrun_env_and_shards():
    assert world_from_env({}) == World() and not World().distributed and World().main
    assert world_from_env({"WORLD_SIZE": "1", "RANK": "0"}) == World()
    w = world_from_env({"WORLD_SIZE": "3", "RANK": "2", "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "3",
                        "TORCHELASTIC_RESTART_COUNT": "1"})
    assert (w.rank, w.size, w.local_rank, w.local_size, w.restart_count, w.main) == (2, 3, 2, 3, 1, False)
    # shards cover every item exactly once, in order
    assert [World(rank=r, size=3).shard(8) for r in range(3)] == [slice(0, 3), slice(3, 6), slice(6, 8)]
    # one process: unchanged rule (only a last batch of one image is left out); N ranks: each needs two
    assert [steps_per_epoch(n, 16) for n in (32, 33, 34)] == [2, 2, 3]
    assert [steps_per_epoch(n, 16, 2) for n in (34, 35, 36)] == [2, 2, 3]
    assert worker_argv(["train", "--nproc", "2", "--max-restarts=1", "--epochs", "2"], None) == \
        ["train", "--epochs", "2"]
    assert worker_argv(["train", "--nproc=2"], "runs/x")[-2:] == ["--out", "runs/x"]


def test_usage_errors(tiny, tmp_path, monkeypatch, capsys):
    args = _args(tiny, tmp_path / "r")
    args[args.index("--batch-size") + 1] = "15"
    assert main([*args, "--nproc", "2"]) == 2
    assert "multiple of the number of processes (2)" in capsys.readouterr().err
    assert main([*_args(tiny, tmp_path / "r"), "--nproc", "0"]) == 2
    assert main([*_args(tiny, tmp_path / "r"), "--max-restarts", "1"]) == 2
    assert "needs --nproc" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun would set it
    monkeypatch.setenv("RANK", "1")
    assert main(args) == 2
    assert "multiple of the number of processes (2)" in capsys.readouterr().err
    no_out = _args(tiny, tmp_path / "r")
    del no_out[no_out.index("--out"):no_out.index("--out") + 2]
    assert main(no_out) == 2 and "give --out" in capsys.readouterr().err
    assert main([*_args(tiny, tmp_path / "r"), "--nproc", "2"]) == 2  # --nproc under torchrun
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_killed_rank_leaves_a_resumable_run_that_two_ranks_finish(tiny, tmp_path):
    out = tmp_path / "ddp"
    # rank 1 is SIGKILLed mid epoch 2 and torchrun may not restart: the run stops, resumable after epoch 1
    p = _run([sys.executable, "-m", "core.training.launch", "--nproc-per-node", "2", KILL_WORKER, *_args(tiny, out)])
    assert p.returncode != 0
    state = read_state(out)
    assert state["status"] == "interrupted" and not state["running"]
    assert load_resume(out)["epoch"] == 1 and [r["epoch"] for r in read_metrics(out)] == [1]
    point = resume_point(out)
    assert point is not None and point.epochs_done == 1 and point.status == "interrupted"

    # the same command under torchrun (gz train --nproc 2) resumes it for the one missing epoch
    p = _run([sys.executable, "-m", "core", *_args(tiny, out), "--nproc", "2"])
    assert p.returncode == 0, p.stderr[-3000:]
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["world_size"], cfg["batch_size_per_rank"], cfg["batch_size"]) == (2, 8, 16)
    assert cfg["distributed_backend"] == "gloo" and cfg["steps_per_epoch"] == 3  # 48 training galaxies
    assert [(e["at_epoch"], e["world_size"]) for e in cfg["resumed"]] == [(2, 2)]
    # only rank 0 wrote and printed: one line for the epoch, one final line, the run files and nothing else
    assert p.stdout.count("epoch 2 |") == 1 and p.stdout.count("finished 2 epochs") == 1
    assert sorted(f.name for f in out.iterdir()) == ["config.json", "job.lock", "metrics.csv", "model.pt",
                                                     "resume.pt", "state.json"]
    state = read_state(out)
    assert state["status"] == "finished" and state["done"] == 2
    rows = read_metrics(out)
    assert [r["epoch"] for r in rows] == [1, 2] and load_resume(out)["epoch"] == 2

    # validation scored every held-out galaxy once: the saved model, scored in one process, gives the same row
    config = TrainConfig(sources=tiny, arch="small", width=8, dropout=0.0, image_size=24, epochs=2, batch_size=16,
                         val_fraction=0.25, seed=1, threads=2, augment=AugmentSettings(
                             rotate=False, flip=False, max_shift=0, max_zoom=0, max_cut=0))
    data = prepare_data(config)
    val = is_validation(data.ids, 1, 0.25)
    model = build_model(config.model_section())
    model.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    loss, _, scores = evaluate_arrays(model, data.images[val], data.targets[val], data.class_derived[val])
    assert rows[-1]["val_n"] == scores["n"] == val.sum() == 16
    assert rows[-1]["val_loss"] == pytest.approx(loss, abs=1e-5)
    assert rows[-1]["val_rmse_P_CW"] == pytest.approx(scores["rmse"]["P_CW"], abs=1e-5)

    # the same recipe in one process: same global batch and schedule; only batch-norm statistics (over each
    # rank's 8 images) and float sums differ, so the losses stay close
    assert run_training(config, tmp_path / "one", command="t")["status"] == "finished"
    one = read_metrics(tmp_path / "one")
    assert [r["lr"] for r in one] == pytest.approx([r["lr"] for r in rows])
    for a, b in zip(one, rows, strict=True):
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=0.02)
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=0.15)
    assert np.isfinite([r["val_loss"] for r in rows]).all()


@pytest.mark.slow
def test_killed_rank_is_restarted_and_resumes(tiny, tmp_path):
    out = tmp_path / "killed"
    # one spare restart: once in ~10 runs on a loaded 2-core machine a restarted gloo rank aborted at exit
    # ("terminate called without an active exception"); the run must then still finish from its checkpoints
    p = _run([sys.executable, "-m", "core.training.launch", "--nproc-per-node", "2", "--max-restarts", "2",
              KILL_WORKER, *_args(tiny, out, epochs=3)])
    assert p.returncode == 0, p.stderr[-3000:]
    # the restarted group found the epoch-1 checkpoint of the same settings and went on from it
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2, 3]
    cfg = json.loads((out / "config.json").read_text())
    assert [e["at_epoch"] for e in cfg["resumed"]][:1] == [2]
    assert read_state(out)["status"] == "finished"
