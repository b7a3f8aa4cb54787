"""The epoch loop of a training run: train, validate, checkpoint, report, and decide when to stop.

Under torchrun every rank runs this loop in step; only rank 0 writes checkpoints and
reports, and every stop decision (cancel, early stop, time limit) is the same on all ranks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from core.jobs import JobStatus, cancel_requested, clear_cancel
from core.training import checkpoint as ckpt
from core.training import distributed as dist
from core.training.distributed import World
from core.training.epochs import SINGLE, TrainTensors, train_epoch, validation_row
from core.training.model import GalaxyNet
from core.training.prepare import PreparedData
from core.training.run_record import RunState
from core.training.train_config import TrainConfig
from core.wording import count


def _checkpoint(run: RunState, model: GalaxyNet, optimizer, scheduler, rows: list[dict], best: float,
                bad_epochs: int) -> None:
    # Order matters: model first, then metrics, then resume point - a kill in
    # between leaves an older resume point, which is simply redone.
    ckpt.save_model(run.run_dir, model.state_dict())
    ckpt.write_metrics(run.run_dir, rows)
    ckpt.save_resume(run.run_dir, epoch=int(rows[-1]["epoch"]), model=model.state_dict(),
                     optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), best=best,
                     bad_epochs=bad_epochs)


def epoch_loop(run: RunState, config: TrainConfig, model: GalaxyNet, optimizer, scheduler, data: PreparedData,
               train: TrainTensors, val_idx: np.ndarray, rows: list[dict], resume: dict | None,
               on_batch: Callable[[int, int, int, float], None] | None,
               on_epoch: Callable[[dict], None] | None, world: World = SINGLE,
               net: torch.nn.Module | None = None) -> dict:
    """Epochs after the last finished one, until the planned number, early stop, time limit or cancel.

    ``net``: the module trained through (the DDP wrapper of ``model`` under torchrun).
    """
    best = float(resume["best"]) if resume is not None else math.inf
    bad_epochs = int(resume["bad_epochs"]) if resume is not None else 0
    started, last_write = time.time(), 0.0
    ending: tuple[JobStatus, str] | None = None
    first = int(resume["epoch"]) + 1 if resume is not None else 1
    for epoch in range(first, config.epochs + 1):
        run.state.message = f"epoch {epoch}/{config.epochs}"
        run.save(epoch=epoch, batch=0)

        def batch_done(b: int, n: int, running_loss: float, epoch: int = epoch) -> None:
            nonlocal last_write
            if on_batch:
                on_batch(epoch, b, n, running_loss)
            if time.time() - last_write > 1.0:
                last_write = time.time()
                run.save(batch=b, n_batches=n, train_loss_running=running_loss)

        result = train_epoch(model, train, config, epoch, optimizer, scheduler,
                             lambda: cancel_requested(run.run_dir), batch_done, world=world, net=net)
        if result.cancelled:
            ending = (JobStatus.CANCELLED, f"cancelled; last good checkpoint: epoch {len(rows)}" if rows
                      else "cancelled before the first epoch finished; no checkpoint")
            break
        row: dict = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": result.loss,
                     "seconds": round(result.seconds, 2), "images_per_s": round(result.n_seen / result.seconds, 1)}
        if len(val_idx):
            row.update(validation_row(model, data.images[val_idx], data.targets[val_idx],
                                      data.class_derived[val_idx], world=world))
        monitor = row.get("val_loss", row["train_loss"])
        bad_epochs = 0 if monitor < best - 1e-4 else bad_epochs + 1
        best = min(best, monitor)
        rows.append(row)
        if world.main:
            _checkpoint(run, model, optimizer, scheduler, rows, best, bad_epochs)
        run.state.done, run.state.message = epoch, f"finished epoch {epoch}/{config.epochs}"
        run.save(last_metrics=row)
        if on_epoch and world.main:
            on_epoch(row)
        if config.patience and bad_epochs >= config.patience:
            ending = (JobStatus.FINISHED, f"early stop after epoch {epoch}: no improvement for "
                                          f"{config.patience} epochs")
            break
        if config.max_minutes is not None and dist.any_rank(world, (time.time() - started) / 60 > config.max_minutes):
            ending = (JobStatus.FINISHED, f"stopped after epoch {epoch}: time limit of {config.max_minutes} min")
            break
    status, message = ending or (JobStatus.FINISHED, f"finished {count(len(rows), 'epoch')}")
    if world.main:
        clear_cancel(run.run_dir)
    run.state.progress["final_metrics"] = rows[-1] if rows else None
    return run.end(status, message)
