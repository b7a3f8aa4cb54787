"""Untrained run folders for tests of prediction and comparison (no training needed).

A run folder has the layout :mod:`core.training.checkpoint` defines (config.json,
metrics.csv, model.pt as a state dict); the weights are a seeded random
initialisation, so predictions are deterministic but meaningless.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.schema import VOTE_COLUMNS
from core.training import checkpoint as ckpt
from core.training.model import build_model, count_parameters
from tests.support.paths import FIXTURES as TEST_FIXTURES

FIXTURES = TEST_FIXTURES / "predict"


def make_run(run_dir: Path, *, seed: int = 0, arch: str = "small", width: int = 8, image_size: int = 32,
             crop_fraction: float = 1.0, epochs: int = 2, learned_columns: tuple[str, ...] = VOTE_COLUMNS,
             val_fraction: float = 0.0, extra_config: dict | None = None, dropout: float = 0.0) -> Path:
    """Write an untrained run into ``run_dir`` and return it (config records ``learned_columns``).

    ``dropout`` > 0 turns MC dropout on when it is loaded (core.inference.uncertainty).
    """
    torch.manual_seed(seed)
    model_cfg = {"arch": arch, "width": width, "dropout": dropout, "pretrained": False}
    model = build_model(model_cfg)
    # Random BatchNorm statistics, so the untrained net is not near-constant.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt.write_config(run_dir, {
        "run_id": run_dir.name, "command": "tests: untrained seeded model", "model": model_cfg,
        "n_params": count_parameters(model), "image_size": image_size, "crop_fraction": crop_fraction,
        "epochs": epochs, "seed": seed, "val_fraction": val_fraction, "learned_columns": list(learned_columns),
        **(extra_config or {}),
    })
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "train_loss": 1.5 / e, "seconds": 1.25 * e, "val_loss": 1.6 / e,
               "val_accuracy": 0.5 + 0.1 * e, "val_macro_recall": 0.3, "val_spin_accuracy": 0.5}
        row.update({f"val_rmse_{c}": 0.2 for c in VOTE_COLUMNS})
        rows.append(row)
    ckpt.write_metrics(run_dir, rows)
    ckpt.save_model(run_dir, model.state_dict())
    return run_dir


def two_runs_server_env(models_dir: Path) -> dict[str, str]:
    """Two untrained runs (``demo`` 32 px, ``second`` 48 px) in ``models_dir``, and the server
    environment that makes the fixture image set the dashboard's demo set (for browser tests)."""
    make_run(Path(models_dir) / "demo", seed=0, image_size=32)
    make_run(Path(models_dir) / "second", seed=1, image_size=48)
    return {"GZ_DEMO_DIR": str(FIXTURES)}
