"""Train a GalaxyNet on labelled image sets, on the CPU, with resumable checkpoints.

:func:`run_training` is the one training code path (CLI, Train page via a
detached ``python -m core train`` process, tests). It:

1. takes the machine-wide training lock (``<models_dir>/training.lock``): one
   training run at a time per machine; a second one gets :class:`TrainingBusy`;
2. joins each source's labels to its images (:mod:`core.training.dataset`) and prepares
   the pixels once through the on-disk cache (:mod:`core.images.preprocess`);
3. splits by ID into train/validation: an ID goes to validation when
   SHA-256(seed, ID) falls below ``val_fraction`` - the same ID always lands on
   the same side for a given seed, whatever else is in the set;
4. trains with AdamW and a one-cycle learning-rate schedule, augmentation that
   swaps P_CW/P_ACW on flips (:mod:`core.training.augment`), and the masked vote loss
   (:mod:`core.training.losses`); early stopping on validation loss (``patience``);
5. after every epoch writes metrics.csv, model.pt (state dict) and resume.pt
   atomically, and state.json for anyone watching.

A killed run resumes from its last finished epoch when started again with the
same run folder and settings (shuffling and augmentation are seeded by
(seed, epoch), so a resumed run repeats what the uninterrupted one would do).
Cancel (the CANCEL file / SIGTERM, see :mod:`core.jobs`) is checked every
batch; the unfinished epoch is dropped and the last good checkpoint kept.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.config import get_settings
from core.images.preprocess import cached_arrays
from core.inference.metrics import score
from core.jobs import (
    JobBusy,
    JobLock,
    cancel_requested,
    clear_cancel,
    install_sigterm_as_cancel,
    write_json_atomic,
    write_state,
)
from core.training import checkpoint as ckpt
from core.training.augment import AugmentSettings, augment_batch
from core.training.dataset import JoinResult, load_labelled_set
from core.training.losses import class_weights, vote_loss, vote_weights
from core.training.model import GalaxyNet, build_model, count_parameters, fractions_from_logits, uint8_to_input

TRAINING_LOCK = "training.lock"
ACTIVE_RUN_FILE = "active_training.json"

#: Settings that must match for a run to be resumed (the rest may differ, e.g. threads).
_RESUME_KEYS = ("sources", "model", "image_size", "epochs", "batch_size", "lr", "weight_decay", "seed",
                "val_fraction", "class_balance", "spin_weight", "augment")


class TrainingBusy(RuntimeError):
    """Another training run holds the machine-wide training lock."""


class TrainingError(ValueError):
    """Training cannot start (bad input, no data, incompatible resume); the message says why."""


@dataclass
class Source:
    """One labelled image set: a label CSV, its image folder and the centre crop (fraction of the side)."""

    catalog: str
    images: str
    crop: float = 1.0


@dataclass
class TrainConfig:
    """Every training setting; stored verbatim in config.json."""

    sources: list[Source]
    arch: str = "small"
    width: int = 32
    dropout: float = 0.2
    pretrained: bool = True           # resnet18 only, and only if weights are already on disk
    image_size: int = 64              # px, side of the model input
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3                  # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    patience: int = 0                 # epochs without val-loss improvement before stopping; 0 = off
    val_fraction: float = 0.2
    seed: int = 0
    class_balance: float = 0.5        # 0 = none, 1 = inverse class frequency (see core.training.losses)
    spin_weight: float = 1.0
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    threads: int | None = None        # torch threads; None = settings.torch_threads
    max_minutes: float | None = None  # stop after the epoch that passes this wall time

    def model_section(self) -> dict:
        return {"arch": self.arch, "width": self.width, "dropout": self.dropout, "pretrained": self.pretrained}


def is_validation(ids, seed: int, val_fraction: float) -> np.ndarray:
    """Boolean mask: ID goes to validation when SHA-256("seed:ID") / 2**64 < val_fraction."""
    out = np.zeros(len(ids), dtype=bool)
    for i, x in enumerate(ids):
        h = int.from_bytes(hashlib.sha256(f"{seed}:{x}".encode()).digest()[:8], "big") / 2.0 ** 64
        out[i] = h < val_fraction
    return out


def library_versions() -> dict[str, str]:
    import pandas
    import PIL
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__,
            "pandas": pandas.__version__, "pillow": PIL.__version__}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


@dataclass
class PreparedData:
    """Pixels and targets of all sources, concatenated."""

    images: np.ndarray          # uint8 (N, S, S, 3)
    targets: np.ndarray         # (N, 9), NaN = unknown
    class_derived: np.ndarray   # (N,) bool
    nvote: np.ndarray           # (N,) float, NaN = unknown
    ids: np.ndarray             # (N,) str
    source_index: np.ndarray    # (N,) int
    joins: list[JoinResult]


def prepare_data(config: TrainConfig, progress: Callable[[str], None] | None = None) -> PreparedData:
    """Join every source and load its preprocessed pixels (through the disk cache)."""
    arrays, targets, cd, nvote, ids, src, joins = [], [], [], [], [], [], []
    for s_i, source in enumerate(config.sources):
        try:
            join = load_labelled_set(source.catalog, source.images)
        except FileNotFoundError as exc:
            raise TrainingError(str(exc)) from exc
        if len(join) == 0:
            raise TrainingError(f"no image in {source.images} matches a label in {source.catalog} "
                                f"({len(join.missing_images)} labelled {join.labels.id_kind}s have no image)")
        joins.append(join)

        def _p(done: int, total: int, s_i: int = s_i) -> None:
            if progress:
                progress(f"preparing images of source {s_i + 1}: {done}/{total}")

        arrays.append(cached_arrays(join.files, config.image_size, source.crop, progress=_p))
        targets.append(join.labels.targets)
        cd.append(join.labels.class_derived)
        nvote.append(join.labels.nvote)
        ids.append(join.labels.ids.astype(str))
        src.append(np.full(len(join), s_i))
    return PreparedData(np.concatenate(arrays), np.concatenate(targets), np.concatenate(cd),
                        np.concatenate(nvote), np.concatenate(ids), np.concatenate(src), joins)


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


def _config_dict(config: TrainConfig, data: PreparedData, command: str, run_dir: Path, n_train: int,
                 n_val: int, model: GalaxyNet) -> dict:
    return {
        "run_id": run_dir.name,
        "command": command,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sources": [asdict(s) for s in config.sources],
        "model": config.model_section(),
        "model_note": model.init_note,
        "n_params": count_parameters(model),
        "image_size": config.image_size,
        "crop_fraction": config.sources[0].crop,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "lr_schedule": "one-cycle (cosine), peak lr, 30% warm-up",
        "optimizer": "AdamW",
        "weight_decay": config.weight_decay,
        "patience": config.patience,
        "val_fraction": config.val_fraction,
        "split": "validation if SHA-256('seed:ID')/2^64 < val_fraction",
        "seed": config.seed,
        "class_balance": config.class_balance,
        "spin_weight": config.spin_weight,
        "augment": config.augment.as_dict(),
        "threads": torch.get_num_threads(),
        "max_minutes": config.max_minutes,
        "data": {
            "hash": hashlib.sha256("|".join(j.data_hash() for j in data.joins).encode()).hexdigest()[:16],
            "n_train": n_train,
            "n_val": n_val,
            "n_class_derived": int(data.class_derived.sum()),
            "sources": [j.summary() for j in data.joins],
        },
        "libraries": library_versions(),
        "platform": platform.platform(),
    }


def run_training(config: TrainConfig, run_dir: str | Path, command: str | None = None,
                 on_batch: Callable[[int, int, int, float], None] | None = None,
                 on_epoch: Callable[[dict], None] | None = None,
                 on_message: Callable[[str], None] | None = None) -> dict:
    """Train into ``run_dir`` (resuming if it holds a compatible unfinished run); return the final state.

    Callbacks: ``on_batch(epoch, batch, n_batches, loss)``, ``on_epoch(metrics_row)``,
    ``on_message(text)``. Raises TrainingBusy when another run holds the machine
    lock, TrainingError for unusable input.
    """
    settings = get_settings()
    run_dir = Path(run_dir).resolve()
    command = command or " ".join(["python", "-m", "core", *sys.argv[1:]])
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    machine_lock = JobLock(settings.models_dir, TRAINING_LOCK)
    try:
        machine_lock.acquire()
    except JobBusy:
        from core.jobs import read_json

        active = (read_json(settings.models_dir / ACTIVE_RUN_FILE) or {}).get("run_dir", "another run")
        raise TrainingBusy(f"a training run is already in progress on this machine ({active}); "
                           f"wait for it to finish or cancel it, then start again") from None
    try:
        with JobLock(run_dir):
            write_json_atomic(settings.models_dir / ACTIVE_RUN_FILE,
                              {"run_dir": str(run_dir), "pid": os.getpid(), "started_at": time.time()})
            clear_cancel(run_dir)
            install_sigterm_as_cancel(run_dir)
            return _train_locked(config, run_dir, command, on_batch, on_epoch, on_message)
    finally:
        machine_lock.release()


def _train_locked(config: TrainConfig, run_dir: Path, command: str, on_batch, on_epoch, on_message) -> dict:
    settings = get_settings()
    threads = config.threads or settings.torch_threads
    torch.set_num_threads(max(1, threads))
    seed_everything(config.seed)
    started = time.time()
    state = {"status": "running", "phase": "preparing", "pid": os.getpid(), "epoch": 0,
             "epochs": config.epochs, "message": "preparing images", "started_at": started}
    write_state(run_dir, state)

    def message(text: str) -> None:
        state["message"] = text
        write_state(run_dir, state)
        if on_message:
            on_message(text)

    try:
        data = prepare_data(config, progress=message)
    except (TrainingError, ValueError) as exc:
        state.update(status="failed", message=str(exc))
        write_state(run_dir, state)
        raise TrainingError(str(exc)) from exc

    val = is_validation(data.ids, config.seed, config.val_fraction)
    train_idx, val_idx = np.flatnonzero(~val), np.flatnonzero(val)
    if len(train_idx) == 0:
        raise TrainingError("no training images left after the validation split; lower val_fraction")
    model = build_model(config.model_section())
    cfg = _config_dict(config, data, command, run_dir, len(train_idx), len(val_idx), model)

    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                                    steps_per_epoch=steps_per_epoch, pct_start=0.3)
    start_epoch, best, bad_epochs = 1, math.inf, 0
    rows = ckpt.read_metrics(run_dir)
    old = ckpt.read_config(run_dir)
    resume = ckpt.load_resume(run_dir) if old is not None else None
    if resume is not None:
        changed = [k for k in _RESUME_KEYS if old.get(k) != cfg.get(k)]
        if old.get("data", {}).get("hash") != cfg["data"]["hash"]:
            changed.append("data")
        if changed:
            raise TrainingError(f"{run_dir} holds a run with different settings ({', '.join(changed)}); "
                                f"choose a new run folder")
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        start_epoch = int(resume["epoch"]) + 1
        best, bad_epochs = float(resume["best"]), int(resume["bad_epochs"])
        rows = [r for r in rows if r.get("epoch") is not None and r["epoch"] <= resume["epoch"]]
        cfg["created_at"] = old.get("created_at", cfg["created_at"])
        cfg["resumed"] = old.get("resumed", []) + [{"at_epoch": start_epoch, "command": command}]
        message(f"resuming after epoch {start_epoch - 1}")
    else:
        rows = []
    ckpt.write_config(run_dir, cfg)

    tr_images, tr_targets = data.images[train_idx], data.targets[train_idx]
    weights = (vote_weights(data.nvote[train_idx]) * class_weights(tr_targets, config.class_balance))
    weights_t = torch.as_tensor(weights, dtype=torch.float32)
    targets_t = torch.as_tensor(tr_targets, dtype=torch.float32)
    masks_t = ~torch.isnan(targets_t)
    status = "finished"
    state.update(phase="training", n_train=len(train_idx), n_val=len(val_idx))

    for epoch in range(start_epoch, config.epochs + 1):
        gen = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout: a resumed epoch repeats exactly
        order = torch.randperm(len(train_idx), generator=gen)
        model.train()
        t0, loss_sum, n_seen, cancelled = time.time(), 0.0, 0, False
        state.update(epoch=epoch, message=f"epoch {epoch}/{config.epochs}")
        last_write = 0.0
        for b in range(steps_per_epoch):
            if cancel_requested(run_dir):
                cancelled = True
                break
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            x = uint8_to_input(tr_images[idx.numpy()])
            x, t, m = augment_batch(x, targets_t[idx], masks_t[idx], config.augment, gen)
            raw, deb = model(x)
            loss = vote_loss(raw, deb, t, m, weights_t[idx], spin_weight=config.spin_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(idx)
            n_seen += len(idx)
            if on_batch:
                on_batch(epoch, b + 1, steps_per_epoch, loss.item())
            if time.time() - last_write > 1.0:
                last_write = time.time()
                state.update(batch=b + 1, n_batches=steps_per_epoch, train_loss_running=loss_sum / n_seen)
                write_state(run_dir, state)
        if cancelled:
            status = "cancelled"
            break
        train_seconds = time.time() - t0
        row: dict = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": loss_sum / n_seen,
                     "seconds": round(train_seconds, 2), "images_per_s": round(n_seen / train_seconds, 1)}
        if len(val_idx):
            v_loss, _, v = evaluate_arrays(model, data.images[val_idx], data.targets[val_idx],
                                           data.class_derived[val_idx])
            row.update(val_loss=v_loss, val_accuracy=v["accuracy"], val_macro_recall=v["macro_recall"],
                       val_spin_accuracy=v["spin_accuracy"])
            for col, value in v["rmse"].items():
                row[f"val_rmse_{col}"] = value
            monitor = v_loss
        else:
            monitor = row["train_loss"]
        bad_epochs = 0 if monitor < best - 1e-4 else bad_epochs + 1
        best = min(best, monitor)
        rows.append(row)
        # Order matters: model first, then metrics, then resume point - a kill in
        # between leaves an older resume point, which is simply redone.
        ckpt.save_model(run_dir, model.state_dict())
        ckpt.write_metrics(run_dir, rows)
        ckpt.save_resume(run_dir, epoch=epoch, model=model.state_dict(), optimizer=optimizer.state_dict(),
                         scheduler=scheduler.state_dict(), best=best, bad_epochs=bad_epochs)
        state.update(last_metrics=row, message=f"finished epoch {epoch}/{config.epochs}")
        write_state(run_dir, state)
        if on_epoch:
            on_epoch(row)
        if config.patience and bad_epochs >= config.patience:
            status = "finished"
            state["message"] = f"early stop after epoch {epoch}: no improvement for {config.patience} epochs"
            break
        reason = _stop_reason(run_dir, config, started)
        if reason == "time":
            state["message"] = f"stopped after epoch {epoch}: time limit of {config.max_minutes} min"
            break

    state.update(status=status, phase="done", finished_at=time.time(),
                 epochs_done=len(rows), final_metrics=rows[-1] if rows else None)
    if status == "cancelled":
        state["message"] = (f"cancelled; last good checkpoint: epoch {len(rows)}" if rows
                            else "cancelled before the first epoch finished; no checkpoint")
    elif "early stop" not in state.get("message", "") and "time limit" not in state.get("message", ""):
        state["message"] = f"finished {len(rows)} epochs"
    write_state(run_dir, state)
    clear_cancel(run_dir)
    return state


def _stop_reason(run_dir: Path, config: TrainConfig, started: float) -> str | None:
    if cancel_requested(run_dir):
        return "cancel"
    if config.max_minutes is not None and (time.time() - started) / 60 > config.max_minutes:
        return "time"
    return None


#: Centre crop used for the GZ1 subject images (423 px, scaled to the galaxy's Petrosian radius:
#: the galaxy fills roughly the central quarter) and for the 0.2"/px spin cutouts (galaxy fills the frame).
GZ1_IMAGES_CROP = 0.45
SPIN_CUTOUTS_CROP = 1.0


def demo_sources(demo_dir: Path | None = None) -> list[Source]:
    """The built-in demo set (data/demo): GZ1 class-labelled images + spin-labelled cutouts."""
    demo_dir = Path(demo_dir) if demo_dir is not None else get_settings().demo_dir
    return [
        Source(str(demo_dir / "gz1" / "labels.csv"), str(demo_dir / "gz1"), GZ1_IMAGES_CROP),
        Source(str(demo_dir / "spin" / "labels.csv"), str(demo_dir / "spin"), SPIN_CUTOUTS_CROP),
    ]


def active_run(models_dir: Path | None = None) -> Path | None:
    """Run folder of the training run that is running now, or the last one started; None if never."""
    from core.jobs import read_json

    models_dir = Path(models_dir) if models_dir is not None else get_settings().models_dir
    info = read_json(models_dir / ACTIVE_RUN_FILE)
    return Path(info["run_dir"]) if info and info.get("run_dir") else None


def training_busy(models_dir: Path | None = None) -> bool:
    """True while some process on this machine holds the training lock."""
    from core.jobs import is_running

    models_dir = Path(models_dir) if models_dir is not None else get_settings().models_dir
    return is_running(models_dir, TRAINING_LOCK)


def train_command_args(sources: list[Source], out: Path, *, arch: str = "small", size: int = 64,
                       epochs: int = 30, lr: float = 3e-3, batch_size: int = 64, seed: int = 0,
                       extra: list[str] | None = None) -> list[str]:
    """Arguments for ``python -m core`` that train ``sources`` into ``out`` (used by the Train page)."""
    args = ["train"]
    for s in sources:
        args += ["--catalog", str(s.catalog), "--images", str(s.images), "--crop", str(s.crop)]
    args += ["--model", arch, "--size", str(size), "--epochs", str(epochs), "--lr", str(lr),
             "--batch-size", str(batch_size), "--seed", str(seed), "--out", str(out), "--no-progress"]
    return args + list(extra or [])
