"""One training epoch and one validation pass: the inner loops of :mod:`core.training.train`.

Shuffling, augmentation and dropout are seeded by (seed, epoch), so a resumed
epoch repeats exactly what the uninterrupted run would have done. Under torchrun
(:mod:`core.training.distributed`) every rank draws the same order, takes its
``batch / world`` share of each global batch and draws its own augmentation and
dropout (rank 0 the single-process ones); validation is shared out and gathered,
so every validation galaxy is scored exactly once and every rank gets the same row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from core.scoring import score
from core.training import distributed as dist
from core.training.augment import augment_batch
from core.training.distributed import World
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


#: One process (no torchrun): the default of every ``world`` argument.
SINGLE = World()
#: Added per rank to the augmentation and dropout seeds (rank 0 adds nothing).
RANK_SEED_STEP = 1_000_003


def train_epoch(model: GalaxyNet, data: TrainTensors, config: TrainConfig, epoch: int, optimizer, scheduler,
                should_stop: Callable[[], bool],
                on_batch: Callable[[int, int, float], None] | None = None, world: World = SINGLE,
                net: torch.nn.Module | None = None) -> EpochResult:
    """One pass over ``data`` in a (seed, epoch)-seeded order; stops before a batch when ``should_stop()``.

    Under torchrun ``net`` is the DDP wrapper of ``model``, each rank trains on its share of every
    batch, a stop seen by any rank stops all at the same batch, and the loss and counts returned
    are summed over ranks (``on_batch`` sees this rank's running loss).
    """
    gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    # dropout: a resumed epoch repeats exactly
    torch.manual_seed(config.seed * 100_003 + epoch + RANK_SEED_STEP * world.rank)
    order = torch.randperm(len(data.images), generator=gen)
    if world.rank:  # this rank's own augmentation draws; rank 0 keeps the single-process stream
        gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch + RANK_SEED_STEP * world.rank)
    n_batches = steps_per_epoch(len(data.images), config.batch_size, world.size)
    net = model if net is None else net
    where = next(model.parameters()).device
    model.train()
    t0, loss_sum, n_seen = time.time(), 0.0, 0
    for b in range(n_batches):
        if dist.any_rank(world, should_stop()):
            loss_sum, n_seen = dist.sum_all(world, [loss_sum, n_seen])
            return EpochResult(loss_sum / max(1, n_seen), int(n_seen), time.time() - t0, True)
        idx = order[b * config.batch_size:(b + 1) * config.batch_size]
        idx = idx[world.shard(len(idx))]
        x = uint8_to_input(data.images[idx.numpy()])
        x, t, m = augment_batch(x, data.targets[idx], data.masks[idx], config.augment, gen)
        raw, deb = net(x.to(where))
        loss = vote_loss(raw, deb, t.to(where), m.to(where), data.weights[idx].to(where),
                         spin_weight=config.spin_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.item() * len(idx)
        n_seen += len(idx)
        if on_batch:
            on_batch(b + 1, n_batches, loss_sum / n_seen)
    sync_buffers(world, model)
    loss_sum, n_seen = dist.sum_all(world, [loss_sum, n_seen])
    return EpochResult(loss_sum / max(1, n_seen), int(n_seen), time.time() - t0, False)


def sync_buffers(world: World, model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (batch-norm running statistics), the ones its checkpoint saves."""
    if world.distributed:
        import torch.distributed

        for buffer in model.buffers():
            torch.distributed.broadcast(buffer, src=0)


def steps_per_epoch(n_images: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch; a last partial batch is left out unless it gives every rank two images
    (batch norm needs two): with one process, only a last batch of a single image is left out."""
    full, rest = divmod(n_images, batch_size)
    return full + (rest >= 2 * world_size)


def _outputs(model: GalaxyNet, images: np.ndarray, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(raw logits (N, 6), debiased logits (N, 2)) of ``model`` in eval mode, on the CPU."""
    model.eval()
    where = next(model.parameters()).device
    raws, debs = [torch.zeros((0, 6))], [torch.zeros((0, 2))]
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            raw, deb = model(uint8_to_input(images[start:start + batch_size]).to(where))
            raws.append(raw.float().cpu())
            debs.append(deb.float().cpu())
    return torch.cat(raws), torch.cat(debs)


def evaluate_arrays(model: GalaxyNet, images: np.ndarray, targets: np.ndarray, class_derived: np.ndarray,
                    batch_size: int = 256, world: World = SINGLE) -> tuple[float, np.ndarray, dict]:
    """(mean loss, fractions (N, 9), metrics.score dict) of ``model`` in eval mode on prepared images.

    Under torchrun each rank runs the model on its share of the images and the outputs are
    gathered, so every rank returns the figures one process would (each image scored once).
    """
    raw, deb = _outputs(model, images[world.shard(len(images))], batch_size)
    raw, deb = dist.gather_rows(world, raw), dist.gather_rows(world, deb)
    losses = []
    for start in range(0, len(images), batch_size):
        t = torch.as_tensor(targets[start:start + batch_size], dtype=torch.float32)
        r, d = raw[start:start + batch_size], deb[start:start + batch_size]
        losses.append(float(vote_loss(r, d, t, ~torch.isnan(t), spin_weight=0.0)) * len(t))
    pred = fractions_from_logits(raw, deb).numpy() if len(images) else np.zeros((0, 9))
    return sum(losses) / max(1, len(images)), pred, score(pred, targets, class_derived)


def validation_row(model: GalaxyNet, images: np.ndarray, targets: np.ndarray, class_derived: np.ndarray,
                   world: World = SINGLE) -> dict:
    """The ``val_*`` columns of a metrics.csv row, each figure with the n it was computed on."""
    v_loss, _, v = evaluate_arrays(model, images, targets, class_derived, world=world)
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
