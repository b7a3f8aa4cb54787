"""RunConfig: the one typed reader of a run's config.json and its one fallback per missing key."""

from __future__ import annotations

import json

import pytest

from core.training import model as model_module
from core.training.run_config import (
    UNRECORDED_ARCH,
    UNRECORDED_CROP_FRACTION,
    UNRECORDED_IMAGE_SIZE,
    RunConfig,
)
from tests.support.paths import REPO_ROOT


def test_a_shipped_run_reads_as_recorded():
    raw = json.loads((REPO_ROOT / "models" / "demo" / "config.json").read_text(encoding="utf-8"))
    cfg = RunConfig.from_dict(raw)
    assert (cfg.arch, cfg.arch_recorded) == (raw["model"]["arch"], True)
    assert cfg.model == raw["model"]
    assert cfg.image_size == raw["image_size"]
    assert cfg.crop_fraction is None  # recorded null: framed by the galaxy, not the whole-image fallback
    assert cfg.learned_columns == tuple(raw["learned_columns"])
    assert (cfg.run_id, cfg.n_params, cfg.world_size) == ("demo", raw["n_params"], 1)


@pytest.mark.parametrize("config", [{}, {"model": {}}, {"model": None}, {"model": "small"}, {"model": {"arch": ""}},
                                    {"model": {"arch": None}}, {"model": {"arch": 3}}, None, [], "text"])
def test_a_config_naming_no_architecture_gets_the_one_fallback(config):
    cfg = RunConfig.from_dict(config)
    assert (cfg.arch, cfg.arch_recorded) == (UNRECORDED_ARCH, False)
    assert (cfg.image_size, cfg.crop_fraction, cfg.learned_columns) == (UNRECORDED_IMAGE_SIZE,
                                                                         UNRECORDED_CROP_FRACTION, None)


def test_build_model_and_the_reader_agree_on_an_unrecorded_architecture():
    assert model_module.UNRECORDED_ARCH is UNRECORDED_ARCH and UNRECORDED_ARCH in model_module.ARCHITECTURES
    assert model_module.build_model({"pretrained": False}).arch == RunConfig.from_dict({"model": {}}).arch


@pytest.mark.parametrize(("raw", "expected"), [(0.45, 0.45), (1, 1.0), (None, None), (0, UNRECORDED_CROP_FRACTION),
                                               (1.5, UNRECORDED_CROP_FRACTION), ("0.5", UNRECORDED_CROP_FRACTION),
                                               (True, UNRECORDED_CROP_FRACTION)])
def test_crop_fraction(raw, expected):
    assert RunConfig.from_dict({"crop_fraction": raw}).crop_fraction == expected


@pytest.mark.parametrize(("raw", "expected"), [(96, 96), (128.0, 128), (0, UNRECORDED_IMAGE_SIZE),
                                               ("96", UNRECORDED_IMAGE_SIZE), (False, UNRECORDED_IMAGE_SIZE)])
def test_image_size(raw, expected):
    assert RunConfig.from_dict({"image_size": raw}).image_size == expected


def test_learned_columns_as_list_or_counts_and_world_size():
    assert RunConfig.from_dict({"learned_columns": {"P_EL": 3, "P_CW": 0}}).learned_columns == ("P_EL",)
    assert RunConfig.from_dict({"learned_columns": []}).learned_columns == ()
    assert RunConfig.from_dict({"world_size": 4}).world_size == 4
    assert RunConfig.from_dict({"world_size": "4"}).world_size == 1


def test_the_reader_is_frozen_and_does_not_share_the_dict():
    raw = {"model": {"arch": "resnet18", "width": 32}}
    cfg = RunConfig.from_dict(raw)
    raw["model"]["arch"] = "small"
    assert cfg.model["arch"] == "resnet18"
    with pytest.raises(AttributeError):
        cfg.arch = "small"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.model["arch"] = "small"  # type: ignore[index]


def test_run_details_leave_server_paths_out_in_the_public_mode():
    from core.training.run_config import run_details

    cfg = {"command": "python -m core train --images /srv/data/x", "data": [{"images": "/srv/data/x"}],
           "model": {"arch": "small"}, "image_size": 64, "unrelated": 1}
    local = run_details(cfg, public=False)
    public = run_details(cfg, public=True)
    assert list(local) == ["command", "model", "image_size", "data"]
    assert list(public) == ["model", "image_size"]
    assert "/srv" not in repr(public)
    assert run_details(None, public=True) == {}
