"""Closing the loop: visitors' votes -> Table-2 export -> a short training run that reads them as
vote fractions weighted by NVOTE -> a run listed like any other (so Compare shows it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from core.inference.predict import load_run
from core.inference.runs import list_runs
from core.labels.targets import read_labels
from core.schema import LabelKind
from core.training.losses import vote_weights
from core.training.prepare import prepare_data
from core.training.train import Source, TrainConfig, run_training
from core.votes.aggregate import write_export
from core.votes.answers import ANSWERS
from core.votes.store import make_engine, record_vote
from core.votes.training import visitor_vote_sources
from tests.support.paths import REPO_ROOT

DEMO_GZ1 = REPO_ROOT / "data" / "demo" / "gz1"


def test_exported_votes_train_a_run(tmp_path: Path):
    galaxies = pd.read_csv(DEMO_GZ1 / "labels.csv", dtype=str)["OBJID"].head(12).tolist()
    engine = make_engine(f"sqlite:///{tmp_path / 'votes.sqlite'}")
    for s in range(3):  # three test visitors; galaxy i gets 3 votes, the last 4 galaxies only 2
        for i, galaxy in enumerate(galaxies):
            if s == 2 and i >= 8:
                continue
            record_vote(engine, f"visitor-{s}-test", galaxy, ANSWERS[(i + s) % 6].code, per_minute=1000)
    export = tmp_path / "visitor_votes.csv"
    assert write_export(engine, export, min_votes=2) == 12

    labels = read_labels(export)
    assert set(labels.label_kinds()) == {LabelKind.VOTES.value}
    assert sorted(np.unique(labels.nvote).tolist()) == [2.0, 3.0]

    run_dir = tmp_path / "models" / "visitor-votes"
    config = TrainConfig(sources=[Source(str(export), str(DEMO_GZ1))], arch="small", width=8, image_size=32, epochs=2,
                         batch_size=8, val_fraction=0.0, threads=2, seed=0)
    data = prepare_data(config)  # what the trainer sees: vote fractions, weighted by NVOTE
    assert len(data.ids) == 12 and not data.class_derived.any()
    assert sorted(np.unique(data.nvote).tolist()) == [2.0, 3.0]
    # NVOTE is known, so each galaxy weighs clip(NVOTE / 30, 0.25, 2), not the 1 of a label without NVOTE
    assert np.allclose(vote_weights(data.nvote), 0.25)
    state = run_training(config, run_dir)
    assert state["status"] == "finished", state
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["sources"][0]["catalog"] == str(export)
    fractions = load_run(run_dir).predict_prepared(np.zeros((2, 32, 32, 3), dtype=np.uint8))
    assert fractions.shape == (2, 9) and np.allclose(fractions[:, :6].sum(axis=1), 1, atol=1e-4)
    assert [r["run_id"] for r in list_runs(tmp_path / "models")] == ["visitor-votes"]


def test_visitor_vote_sources_pair_the_export_with_folders_holding_voted_galaxies(tmp_path, monkeypatch):
    monkeypatch.setenv("GZ_DEMO_DIR", str(REPO_ROOT / "data" / "demo"))
    engine = make_engine(f"sqlite:///{tmp_path / 'votes.sqlite'}")
    galaxy = pd.read_csv(DEMO_GZ1 / "labels.csv", dtype=str)["OBJID"].iloc[0]
    assert visitor_vote_sources(engine) == ([], 0)
    record_vote(engine, "visitor-0-test", galaxy, "MERGER")
    sources, n = visitor_vote_sources(engine, min_votes=1)
    assert n == 1 and [Path(s.images) for s in sources] == [DEMO_GZ1.resolve()]
    export = Path(sources[0].catalog)
    stamp = export.stat().st_mtime_ns
    assert visitor_vote_sources(engine, min_votes=1)[0] == sources
    assert export.stat().st_mtime_ns == stamp  # unchanged content is not rewritten
    assert visitor_vote_sources(engine, min_votes=2) == ([], 0)
