"""Samples of a prediction: MC dropout, TTA and ensembles give valid, reproducible spreads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.inference.predict import load_run
from core.inference.uncertainty import MC_SAMPLES, head_masks, sample_prepared, spread
from core.schema import RAW_INDEX, VOTE_COLUMNS
from tests.support.tiny_runs import make_run

CW, ACW, EDGE, CS = (VOTE_COLUMNS.index(c) for c in ("P_CW", "P_ACW", "P_EDGE", "P_CS"))


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)


def test_head_masks_are_fixed_inverted_dropout():
    a, b = head_masks(200, 0.25, 8), head_masks(200, 0.25, 8)
    assert torch.equal(a, b) and a.shape == (8, 200)
    values = torch.unique(a).tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / 0.75)
    assert 0.18 < float((a == 0).float().mean()) < 0.32
    assert head_masks(10, 0.0, 8).shape == (0, 10)  # no dropout, no MC


def test_one_net_without_masks_is_the_plain_prediction(tmp_path: Path, images):
    run = load_run(make_run(tmp_path / "r"))
    assert run.mc_samples == 0  # trained without dropout
    result = sample_prepared([run.model], images)
    assert result.samples.shape == (1, 5, 9)
    assert np.array_equal(result.point, run.predict_prepared(images))
    assert np.all(spread(result).sd == 0)


def test_mc_dropout_samples_are_valid_and_do_not_depend_on_the_batch(tmp_path: Path, images):
    run = load_run(make_run(tmp_path / "r", dropout=0.3))
    assert run.mc_samples == MC_SAMPLES
    masks = run.head_dropout_masks()
    result = sample_prepared(run.nets, images, masks=masks)
    assert result.samples.shape == (1 + MC_SAMPLES, 5, 9)
    raw = result.samples[:, :, list(RAW_INDEX)]
    assert np.allclose(raw.sum(axis=2), 1, atol=1e-5)
    assert np.allclose(result.samples[:, :, CS], result.samples[:, :, [CW, ACW, EDGE]].sum(axis=2), atol=1e-6)
    assert np.array_equal(result.point, run.predict_prepared(images))  # point = dropout off
    assert (spread(result).sd[:, :6] > 0).any()
    alone = sample_prepared(run.nets, images[3:4], masks=masks)  # same galaxy, another batch
    assert np.allclose(alone.samples[:, 0], result.samples[:, 3], atol=1e-6)


def test_tta_spread_of_a_mirror_image_swaps_spin(tmp_path: Path, images):
    run = load_run(make_run(tmp_path / "r", dropout=0.3))
    mirrored = images[:, :, ::-1].copy()
    a = spread(sample_prepared(run.nets, images, tta=True, masks=run.head_dropout_masks()))
    b = spread(sample_prepared(run.nets, mirrored, tta=True, masks=run.head_dropout_masks()))
    assert np.allclose(a.sd[:, CW], b.sd[:, ACW], atol=1e-5) and np.allclose(a.sd[:, ACW], b.sd[:, CW], atol=1e-5)


def test_ensemble_point_is_the_members_mean(tmp_path: Path, images):
    nets = [load_run(make_run(tmp_path / f"r{s}", seed=s)).model for s in (0, 1, 2)]
    result = sample_prepared(nets, images)
    assert result.samples.shape == (3, 5, 9)
    assert np.allclose(result.point, result.samples.mean(axis=0), atol=1e-6)
    s = spread(result)
    assert np.allclose(s.sd, result.samples.std(axis=0), atol=1e-6)
    top = np.argmax(result.point[:, :6], axis=1)
    assert np.array_equal(s.top, top)
    agree = (np.argmax(result.samples[:, :, :6], axis=2) == top).mean(axis=0)
    assert np.allclose(s.agreement, agree)
    assert np.all((s.margin >= 0) & (s.margin <= s.p_top))
