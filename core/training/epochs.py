"""One training epoch and one validation pass: the inner loops of :mod:`core.training.train`.

Shuffling, augmentation and dropout are seeded by (seed, epoch), so a resumed
epoch repeats exactly what the uninterrupted run would have done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.scoring import score
from core.training.augment import augment_batch
from core.training.losses import vote_loss
from core.training.model import GalaxyNet, fractions_from_logits, uint8_to_input
from core.training.train_config import TrainConfig


@dataclass
class TrainTensors:
    """The training split, ready for batches: uint8 images, targets, masks and per-row loss weights."""

    images: np.ndarray        # uint8 (N, S, S, 3)
    targets: torch.Tensor     # (N, 9) float32, NaN = unknown
    masks: torch.Tensor       # (N, 9) bool
    weights: torch.Tensor     # (N,) float32


@dataclass
class EpochResult:
    """Mean training loss over the images seen, their count and the seconds taken; cancelled if stopped."""

    loss: float
    n_seen: int
    seconds: float
    cancelled: bool


def train_epoch(model: GalaxyNet, data: TrainTensors, config: TrainConfig, epoch: int, optimizer, scheduler,
                should_stop: Callable[[], bool],
                on_batch: Callable[[int, int, float], None] | None = None) -> EpochResult:
    """One pass over ``data`` in a (seed, epoch)-seeded order; stops before a batch when ``should_stop()``."""
    gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    torch.manual_seed(config.seed * 100_003 + epoch)  # dropout: a resumed epoch repeats exactly
    order = torch.randperm(len(data.images), generator=gen)
    n_batches = steps_per_epoch(len(data.images), config.batch_size)
    model.train()
    t0, loss_sum, n_seen = time.time(), 0.0, 0
    for b in range(n_batches):
        if should_stop():
            return EpochResult(loss_sum / max(1, n_seen), n_seen, time.time() - t0, True)
        idx = order[b * config.batch_size:(b + 1) * config.batch_size]
        x = uint8_to_input(data.images[idx.numpy()])
        x, t, m = augment_batch(x, data.targets[idx], data.masks[idx], config.augment, gen)
        raw, deb = model(x)
        loss = vote_loss(raw, deb, t, m, data.weights[idx], spin_weight=config.spin_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.item() * len(idx)
        n_seen += len(idx)
        if on_batch:
            on_batch(b + 1, n_batches, loss_sum / n_seen)
    return EpochResult(loss_sum / max(1, n_seen), n_seen, time.time() - t0, False)


def steps_per_epoch(n_images: int, batch_size: int) -> int:
    """Batches per epoch; a last batch of a single image is left out (batch norm needs two)."""
    full, rest = divmod(n_images, batch_size)
    return full + (rest > 1)


def evaluate_arrays(model: GalaxyNet, images: np.ndarray, targets: np.ndarray, class_derived: np.ndarray,
                    batch_size: int = 256) -> tuple[float, np.ndarray, dict]:
    """(mean loss, fractions (N, 9), metrics.score dict) of ``model`` in eval mode on prepared images."""
    model.eval()
    losses, fracs = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = uint8_to_input(images[start:start + batch_size])
            t = torch.as_tensor(targets[start:start + batch_size], dtype=torch.float32)
            raw, deb = model(x)
            losses.append(float(vote_loss(raw, deb, t, ~torch.isnan(t), spin_weight=0.0)) * len(x))
            fracs.append(fractions_from_logits(raw, deb).numpy())
    pred = np.concatenate(fracs) if fracs else np.zeros((0, 9))
    return sum(losses) / max(1, len(images)), pred, score(pred, targets, class_derived)


def validation_row(model: GalaxyNet, images: np.ndarray, targets: np.ndarray, class_derived: np.ndarray) -> dict:
    """The ``val_*`` columns of a metrics.csv row, each figure with the n it was computed on."""
    v_loss, _, v = evaluate_arrays(model, images, targets, class_derived)
    row = {"val_loss": v_loss, "val_n": v["n"], "val_accuracy": v["accuracy"],
           "val_n_top_answer": v["n_top_answer"], "val_baseline_accuracy": v["baseline_accuracy"],
           "val_chance_accuracy": v["chance_accuracy"], "val_macro_recall": v["macro_recall"],
           "val_spin_accuracy": v["spin_accuracy"], "val_n_spin": v["n_spin"]}
    for col, value in v["rmse"].items():
        row[f"val_rmse_{col}"] = value
    return row


def label_baseline(targets: np.ndarray) -> dict:
    """What a model must beat on these labels (no model involved): n, majority-class and chance accuracy."""
    v = score(np.zeros_like(targets, dtype=float), targets)
    return {"n": v["n"], "n_top_answer": v["n_top_answer"], "n_spin": v["n_spin"],
            "majority_accuracy": v["baseline_accuracy"], "chance_accuracy": v["chance_accuracy"]}
