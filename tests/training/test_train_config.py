"""TrainConfig is the one definition: CLI flags, help, the detached job's argv and config.json derive from it."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

import numpy as np
import pytest

from core.exit_codes import ExitCode
from core.schema import VOTE_COLUMNS
from core.training.augment import AugmentSettings
from core.training.checkpoint import read_config
from core.training.train_config import (
    Source,
    TrainConfig,
    TrainingError,
    add_config_arguments,
    config_argv,
    config_from_args,
    config_from_json,
    config_json,
    default_of,
    help_of,
)


def _parser() -> argparse.ArgumentParser:
    import core.cli.train as cli

    sub = argparse.ArgumentParser().add_subparsers()
    return cli.add_parser(sub)


def test_every_field_has_a_reason_and_help_states_defaults_once():
    for f in fields(TrainConfig):
        assert len(f.metadata.get("help", "")) > 15, f.name
    text = _parser().format_help()
    assert "(default: None)" not in text
    assert text.count("(default: 30)") == 1 and "--epochs" in text  # the one epochs default
    assert "exit codes:" in text and f"  {int(ExitCode.BUSY)}  " in text


def test_page_defaults_come_from_the_dataclass():
    assert default_of("epochs") == TrainConfig().epochs == 30
    assert default_of("augment") == AugmentSettings()
    assert "%%" not in help_of("lr") and "30% warm-up" in help_of("lr")


def test_defaults_are_the_recipe_of_the_shipped_model(repo_root):
    """A run started with no options trains what models/demo records (its data and split aside)."""
    shipped = json.loads((repo_root / "models" / "demo" / "config.json").read_text())
    ours = config_json(TrainConfig())
    per_run = {"sources", "val_fraction", "split_seed", "threads", "max_minutes"}  # the data, the split, the machine
    assert {k: v for k, v in ours.items() if k not in per_run} == \
        {k: shipped[k] for k in ours if k not in per_run}
    assert ours["model"]["arch"] == "effnet_lite0"


def test_a_run_recorded_before_a_setting_existed_resumes_as_it_trained():
    stored = config_json(TrainConfig(sources=[Source("a.csv", "imgs")]))
    del stored["augment"]["max_cut"]
    assert config_from_json(stored).augment.max_cut == 0.0
    assert AugmentSettings().max_cut > 0  # while new runs use it
    del stored["model"]["arch"]
    assert config_from_json(stored).arch == "small" != TrainConfig().arch  # as build_model reads such a run


def test_detached_argv_round_trips_to_the_same_config(tmp_path):
    config = TrainConfig(sources=[Source("a.csv", "imgs", 0.45), Source("b.csv", "spin", 1.0)], epochs=7,
                         lr=0.01, image_size=48, val_fraction=0.0, threads=2, max_minutes=1.5,
                         augment=AugmentSettings(rotate=False, flip=True, max_shift=0.0, max_zoom=0.2))
    argv = config_argv(config, tmp_path / "run")
    assert argv[0] == "train" and argv[-3:] == ["--out", str(tmp_path / "run"), "--no-progress"]
    args = _parser().parse_args(argv[1:])
    from core.cli.train import config_from_args as cli_config

    parsed = cli_config(args)
    parsed.sources = config.sources  # the CLI resolves paths to absolute ones
    assert parsed == config
    assert config_from_json(json.loads(json.dumps(config_json(config)))) == config


def test_bounds_are_checked_with_the_flag_named():
    with pytest.raises(TrainingError, match="--size must be between 16 and 512"):
        TrainConfig(image_size=60000).check()
    with pytest.raises(TrainingError, match="--epochs"):
        config_from_args(argparse.Namespace(**{**_defaults(), "epochs": 0}), [])


def test_a_handful_of_labels_is_not_learning():
    """Among thousands of rows, a column needs MIN_LABELS_TO_LEARN labels; a tiny run needs LEARN_SHARE of its rows."""
    from core.training.prepare import LEARN_SHARE, MIN_LABELS_TO_LEARN, learned_columns

    targets = np.full((2000, len(VOTE_COLUMNS)), np.nan)
    targets[:, 1] = 0.5  # P_CW known for all rows
    targets[: MIN_LABELS_TO_LEARN - 1, 7] = 0.3  # P_EL_DEBIASED just under the threshold
    targets[:MIN_LABELS_TO_LEARN, 8] = 0.3  # P_CS_DEBIASED exactly at it
    assert learned_columns(targets) == ["P_CW", "P_CS_DEBIASED"]
    tiny = np.full((16, len(VOTE_COLUMNS)), np.nan)
    tiny[:, 2] = 0.5  # P_ACW on every row of a 16-image run
    tiny[:1, 0] = 1.0  # P_EL on one row: 1/16 >= LEARN_SHARE
    assert LEARN_SHARE * 16 <= 1 and learned_columns(tiny) == ["P_EL", "P_ACW"]
    assert learned_columns(tiny[:0]) == []


def _defaults() -> dict:
    p = argparse.ArgumentParser()
    add_config_arguments(p)
    return vars(p.parse_args([]))


def test_config_json_records_learned_columns_and_baseline(tmp_path):
    """A spin-only set teaches P_CW and P_ACW and nothing else; the baseline has its n."""
    from core.training.train import run_training
    from tests.support.paths import REPO_ROOT

    spin = REPO_ROOT / "data" / "demo" / "spin"
    labels = tmp_path / "spin.csv"
    labels.write_text("\n".join((spin / "labels.csv").read_text().splitlines()[:91]) + "\n")
    config = TrainConfig(sources=[Source(str(labels), str(spin), 1.0)], arch="small", width=8, image_size=24, epochs=1,
                         batch_size=8, val_fraction=0.3, threads=1)
    run_training(config, tmp_path / "run", command="t")
    cfg = read_config(tmp_path / "run")
    assert cfg["learned_columns"] == ["P_CW", "P_ACW"]
    counts = cfg["label_counts"]
    assert counts["P_CW"] == counts["P_ACW"] == cfg["data"]["n_train"] >= 50
    assert all(counts[c] == 0 for c in counts if c not in ("P_CW", "P_ACW"))
    assert cfg["baseline"]["n"] == cfg["data"]["n_val"] and cfg["baseline"]["chance_accuracy"] == pytest.approx(1 / 6)
    assert cfg["baseline"]["majority_accuracy"] is None  # no row with all six answers: no top-answer baseline
    assert cfg["epochs"] == 1 and cfg["model"]["width"] == 8 and cfg["augment"] == AugmentSettings().as_dict()
