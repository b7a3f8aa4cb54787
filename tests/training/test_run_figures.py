"""Headline figures carry their n and baseline; time estimates come from measured throughput."""

from __future__ import annotations

import pytest

from core.training.run_figures import SMALL_N, estimate_seconds, run_figures


def test_figures_flag_small_n_and_below_baseline():
    row = {"val_n": 3, "val_accuracy": 0.5, "val_n_top_answer": 2, "val_baseline_accuracy": 0.68,
           "val_spin_accuracy": 1.0, "val_n_spin": 1}
    fig = run_figures({}, row)
    assert (fig.n_val, fig.n_accuracy, fig.n_spin) == (3, 2, 1)
    assert fig.small and fig.below_baseline and not fig.below_chance
    text = " ".join(fig.warnings())
    assert "only 2 validation images" in text and "majority-class baseline (68.0%" in text


def test_figures_of_an_older_run_fall_back_to_config_and_below_chance_is_said():
    cfg = {"data": {"n_val": 400}, "baseline": {"n_top_answer": 380, "majority_accuracy": 0.3}}
    fig = run_figures(cfg, {"val_accuracy": 0.156})
    assert fig.n_val == 400 and fig.n_accuracy == 380 and fig.baseline == 0.3 and not fig.small
    assert fig.below_chance and "below chance (16.7%)" in fig.warnings()[0]
    assert not run_figures(cfg, {"val_accuracy": 0.9}).warnings() and SMALL_N == 50


def _run(run_id, arch, size, ips, mtime):
    return {"run_id": run_id, "config": {"model": {"arch": arch}, "image_size": size},
            "final_metrics": {"images_per_s": ips}, "mtime": mtime}


def test_estimate_prefers_the_same_setup_and_scales_by_pixels():
    runs = [_run("old", "small", 64, 600.0, 1), _run("big", "small", 128, 100.0, 2), _run("r", "resnet18", 64, 50.0, 3)]
    same = estimate_seconds(480, 120, 10, "small", 64, runs)
    assert same.images_per_s == 600 and same.seconds == pytest.approx(10 * (480 / 600 + 120 / 1800))
    scaled = estimate_seconds(480, 0, 1, "small", 32, [runs[1]])
    assert scaled.images_per_s == pytest.approx(1600)  # 4x fewer pixels per side squared and "scaled to 32 px" in scaled.basis
    assert "rough guess" in estimate_seconds(100, 0, 1, "resnet18", 64, runs[:2]).basis
    assert estimate_seconds(100, 0, 1, "small", 64, []) is None
