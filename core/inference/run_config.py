"""Check a run's config.json and weights before anything large is allocated.

A run folder may come from anywhere (a copied folder, a hand-edited config), so
:func:`check_run_config` refuses an unknown architecture and a width, dropout or input
size outside the bounds training itself accepts (``TrainConfig``'s field bounds), and
:func:`check_weights_fit` builds the model on PyTorch's ``meta`` device (shapes only,
no memory) and compares every tensor shape with the checkpoint's, so a config that
does not match its weights is refused before the real model is built. Both raise
:class:`core.training.checkpoint.CheckpointError` naming the file.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import torch

from core.images.crop import CROP_RANGE, is_crop_fraction
from core.training.checkpoint import CheckpointError
from core.training.model import ARCHITECTURES, build_model
from core.training.run_config import UNRECORDED_ARCH
from core.training.train_config import TrainConfig

#: (config.json key path, TrainConfig field) pairs whose bounds a run's config must respect.
_BOUNDED = ((("model", "width"), "width"), (("model", "dropout"), "dropout"), (("image_size",), "image_size"))


def _train_bounds() -> dict[str, tuple[float, float]]:
    return {f.name: f.metadata["bounds"] for f in fields(TrainConfig) if f.metadata.get("bounds")}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_run_config(config: object, path: Path) -> dict:
    """``config`` (parsed config.json at ``path``) if it describes a model training could have made.

    Checks: a JSON object; ``model`` an object whose ``arch`` is a registered architecture
    (:data:`core.training.model.ARCHITECTURES`); width, dropout and image_size numbers
    within TrainConfig's bounds; crop_fraction in (0, 1]. Missing keys take the fallbacks of
    :class:`core.training.run_config.RunConfig` (arch) and build_model's defaults.
    """
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: not a run config (expected a JSON object)")
    model = config.get("model", {})
    if not isinstance(model, dict):
        raise CheckpointError(f"{path}: 'model' must be an object")
    arch = model.get("arch", UNRECORDED_ARCH)
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"{path}: unknown architecture {str(arch)[:40]!r} (known: {', '.join(ARCHITECTURES)})")
    bounds = _train_bounds()
    for keys, name in _BOUNDED:
        raw = config
        for k in keys:
            raw = raw.get(k) if isinstance(raw, dict) else None
        if raw is None or name not in bounds:
            continue
        value, (low, high) = _number(raw), bounds[name]
        if value is None or not low <= value <= high:
            shown = f"{value:g}" if value is not None else "not a number"
            raise CheckpointError(f"{path}: {'.'.join(keys)} must be between {low:g} and {high:g}, got {shown}")
    crop = config.get("crop_fraction")
    if crop is not None and not is_crop_fraction(crop):
        raise CheckpointError(f"{path}: crop_fraction must be in {CROP_RANGE}")
    return config


def check_weights_fit(model_config: dict, state: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse ``state`` (the checkpoint at ``path``) unless its names and shapes match the model
    ``model_config`` describes; the comparison model lives on the ``meta`` device (no memory)."""
    with torch.device("meta"):
        expected = build_model({**model_config, "pretrained": False}).state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        names = ", ".join((missing or extra)[:3])
        raise CheckpointError(f"{path}: weights do not fit the model in config.json "
                              f"({len(missing)} tensors missing, {len(extra)} unexpected, e.g. {names})")
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(f"{path}: weights do not fit the model in config.json ({name} has shape "
                                  f"{tuple(state[name].shape)}, the config needs {tuple(tensor.shape)})")
