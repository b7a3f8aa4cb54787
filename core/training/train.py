"""Train a GalaxyNet on labelled image sets, on the CPU, with resumable checkpoints.

:func:`run_training` is the one training code path (CLI, Train page via a
detached ``python -m core train`` process, tests). It:

1. refuses a run folder in the read-only shipped models folder (:func:`shipped_folder_problem`),
   then takes the machine-wide training lock (``<models_dir>/training.lock``, in your runs
   folder, next to ``active_training.json``): one training run at a time per machine; a second
   one gets :class:`TrainingBusy`;
2. joins each source's labels to its images and prepares the pixels once
   (:mod:`core.training.prepare`; unreadable images are skipped and listed);
3. splits by ID into train/validation: an ID goes to validation when
   SHA-256(seed, ID) falls below ``val_fraction``;
4. trains with AdamW and a one-cycle learning-rate schedule (:mod:`core.training.epochs`);
   early stopping on validation loss (``patience``);
5. after every epoch writes metrics.csv, model.pt (state dict) and resume.pt
   atomically, and state.json (a :class:`core.jobs.JobState`) for anyone watching.

A killed or cancelled run resumes from its last finished epoch when started again
with the same run folder and settings; ``epochs`` may be raised to extend it (the
one-cycle schedule is then stretched to the new length from where it stands).
Cancel (the CANCEL file / SIGTERM) is checked every batch. Any problem ends the run
as ``failed`` with a message, never with the state left at "preparing".

Under ``torchrun`` (``WORLD_SIZE`` > 1, :mod:`core.training.distributed`) every rank runs
this same path with DistributedDataParallel: ``batch_size`` is the global batch (each rank
takes ``batch_size / world``), rank 0 alone takes the locks and writes every file, reads
the resume point and hands it to the others; config.json records ``world_size``,
``batch_size_per_rank`` and ``steps_per_epoch``. A restarted group (``--max-restarts``)
finds the checkpoint of the same settings in the run folder and resumes from it, like any
second start; a resume whose world size changes the steps per epoch is refused.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from core.config import get_settings
from core.jobs import (
    JobBusy,
    JobLock,
    JobStatus,
    cancel_requested,
    clear_cancel,
    install_sigterm_as_cancel,
    is_running,
    read_json,
    write_json_atomic,
)
from core.training import checkpoint as ckpt
from core.training import distributed as dist
from core.training.distributed import World, world_from_env
from core.training.epochs import TrainTensors, evaluate_arrays, steps_per_epoch
from core.training.loop import epoch_loop
from core.training.losses import class_weights, vote_weights
from core.training.model import GalaxyNet, build_model
from core.training.prepare import PreparedData, is_validation, prepare_data
from core.training.run_record import RunState, config_record, resume_entry
from core.training.train_config import (
    Source,
    TrainConfig,
    TrainingError,
    demo_sources,
    resume_conflicts,
)

__all__ = ["run_training", "TrainingBusy", "TrainingError", "TrainConfig", "Source", "PreparedData",
           "prepare_data", "evaluate_arrays", "is_validation", "demo_sources", "active_run", "training_busy",
           "TRAINING_LOCK", "ACTIVE_RUN_FILE", "shipped_folder_problem"]

TRAINING_LOCK = "training.lock"
ACTIVE_RUN_FILE = "active_training.json"


class TrainingBusy(RuntimeError):
    """Another training run holds the machine-wide training lock."""


def run_training(config: TrainConfig, run_dir: str | Path, command: str | None = None,
                 on_batch: Callable[[int, int, int, float], None] | None = None,
                 on_epoch: Callable[[dict], None] | None = None,
                 on_message: Callable[[str], None] | None = None, world: World | None = None) -> dict:
    """Train into ``run_dir`` (resuming if it holds a compatible unfinished run); return the final state.

    Callbacks: ``on_batch(epoch, batch, n_batches, loss)``, ``on_epoch(metrics_row)``,
    ``on_message(text)``. Raises TrainingBusy when another run holds the machine
    lock, TrainingError for unusable input (after writing a ``failed`` state).
    ``world``: this process's torchrun rank and world size (default: from the environment);
    the process group is joined here and left on return. A ``run_dir`` in the shipped models
    folder is a TrainingError before anything is written or locked.
    """
    settings = get_settings()
    world = world_from_env() if world is None else world
    run_dir = Path(run_dir).resolve()
    if problem := shipped_folder_problem(run_dir):
        raise TrainingError(problem)
    command = command or " ".join(["python", "-m", "core", *sys.argv[1:]])
    check_world(config, world)
    dist.init(world)
    try:
        return _run_on_rank(config, run_dir, command, on_batch, on_epoch, on_message, world, settings)
    finally:
        dist.destroy()


def shipped_folder_problem(run_dir: str | Path) -> str | None:
    """Why ``run_dir`` may not be trained into (it lies in the read-only shipped models folder), else None."""
    settings = get_settings()
    if not settings.is_shipped(run_dir):
        return None
    return (f"{run_dir} is in the shipped models folder {settings.shipped_models_dir}, which is read-only: a "
            f"shipped run is never trained into, resumed or extended. Give an --out in your runs folder "
            f"{settings.models_dir} (GZ_MODELS_DIR), or leave --out out")


def _sigterm_under_torchrun(run_dir: Path) -> None:
    """Rank 0's SIGTERM under torchrun: a cancel when the CANCEL file is already there (Cancel writes it
    before signalling), else torchrun tearing the group down after a rank died: end at once (the run is
    then interrupted after its last finished epoch), rather than wait in a collective for the dead rank."""

    def _handler(signum: int, frame: object) -> None:
        if not cancel_requested(run_dir):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, _handler)


def check_world(config: TrainConfig, world_size: World | int) -> None:
    """TrainingError unless the global batch splits evenly over the ranks."""
    n = world_size.size if isinstance(world_size, World) else int(world_size)
    if n < 1 or config.batch_size % n:
        raise TrainingError(f"--batch-size {config.batch_size} is the global batch (images per step summed over "
                            f"ranks) and must be a multiple of the number of processes ({n}); choose e.g. "
                            f"{max(n, config.batch_size // n * n)}")


def _run_on_rank(config: TrainConfig, run_dir: Path, command: str, on_batch, on_epoch, on_message, world: World,
                 settings) -> dict:
    """:func:`run_training` inside the process group: rank 0 takes the locks and tells the others."""
    machine_lock = JobLock(settings.models_dir, TRAINING_LOCK)
    busy = None
    if world.main:
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        try:
            machine_lock.acquire()
        except JobBusy:
            active = (read_json(settings.models_dir / ACTIVE_RUN_FILE) or {}).get("run_dir", "another run")
            busy = (f"a training run is already in progress on this machine ({active}); "
                    f"wait for it to finish or cancel it, then start again")
    busy = dist.broadcast(world, busy)
    if busy:
        raise TrainingBusy(busy)
    try:
        with JobLock(run_dir) if world.main else nullcontext():
            previous = read_json(settings.models_dir / ACTIVE_RUN_FILE) if world.main else None
            if world.main:
                write_json_atomic(settings.models_dir / ACTIVE_RUN_FILE,
                                  {"run_dir": str(run_dir), "pid": os.getpid(), "started_at": time.time(),
                                   "world_size": world.size})
                clear_cancel(run_dir)
                (_sigterm_under_torchrun if world.distributed else install_sigterm_as_cancel)(run_dir)
            run = RunState(run_dir, config, on_message, writes=world.main)
            run.save()
            try:
                return _train_locked(config, run, command, on_batch, on_epoch, world)
            except (TrainingError, ckpt.CheckpointError) as exc:
                started = run.state.phase == "training"
                run.end(JobStatus.FAILED, str(exc))
                if world.main and not started:  # a failed start never replaces the current run
                    _restore_active(settings.models_dir, previous)
                raise TrainingError(str(exc)) from exc
    finally:
        if world.main:
            machine_lock.release()


def _restore_active(models_dir: Path, previous: dict | None) -> None:
    """Put back the active-run record a start that failed before training replaced (none: remove it)."""
    if previous is None:
        (models_dir / ACTIVE_RUN_FILE).unlink(missing_ok=True)
    else:
        write_json_atomic(models_dir / ACTIVE_RUN_FILE, previous)


def _optimizer_and_schedule(model: GalaxyNet, config: TrainConfig, n_steps: int, resume: dict | None,
                            same_length: bool):
    """AdamW + one-cycle schedule, restored from ``resume``; a longer run stretches the schedule."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if resume is not None and not same_length:
        # The restored groups carry initial_lr, so the schedule can start part-way (closed form).
        optimizer.load_state_dict(resume["optimizer"])
        done_steps = int(resume["epoch"]) * n_steps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=n_steps, pct_start=0.3,
                last_epoch=done_steps - 1)
        return optimizer, scheduler
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                                    steps_per_epoch=n_steps, pct_start=0.3)
    if resume is not None:
        # After the scheduler's first step, which resets the learning rate the optimizer state restores.
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
    return optimizer, scheduler


def _load_resume(run_dir: Path, record: dict) -> tuple[dict | None, dict | None]:
    """(previous config.json, resume checkpoint) when the run folder holds a resumable run, else (None, None)."""
    old = ckpt.read_config(run_dir)
    resume = ckpt.load_resume(run_dir) if old is not None else None
    if resume is None:
        return None, None
    if not isinstance(resume, dict) or not {"epoch", "model", "optimizer", "scheduler"} <= set(resume):
        raise ckpt.CheckpointError(f"{run_dir / ckpt.RESUME_NAME}: not a resume checkpoint of this program")
    changed = resume_conflicts(old, record)
    if (old.get("data") or {}).get("hash") != record["data"]["hash"]:
        changed.append("data")
    if changed:
        raise TrainingError(f"{run_dir} holds a run with different settings ({', '.join(changed)}); "
                            f"choose a new run folder")
    if old.get("steps_per_epoch", record["steps_per_epoch"]) != record["steps_per_epoch"]:
        raise TrainingError(f"{run_dir} was trained with {old['steps_per_epoch']} steps per epoch (world size "
                            f"{old.get('world_size', 1)}); this start gives {record['steps_per_epoch']} (world size "
                            f"{record['world_size']}): resume it with the same number of processes")
    if int(resume["epoch"]) >= record["epochs"]:
        raise TrainingError(f"{run_dir} already finished {int(resume['epoch'])} epochs; raise the epochs to "
                            f"extend it")
    return old, resume


def _train_tensors(data: PreparedData, train_idx: np.ndarray, config: TrainConfig) -> TrainTensors:
    targets = data.targets[train_idx]
    weights = vote_weights(data.nvote[train_idx]) * class_weights(targets, config.class_balance)
    targets_t = torch.as_tensor(targets, dtype=torch.float32)
    return TrainTensors(data.images[train_idx], targets_t, ~torch.isnan(targets_t),
                        torch.as_tensor(weights, dtype=torch.float32))


def _resume_point(run_dir: Path, record: dict) -> tuple[dict | None, dict | None, list[dict]]:
    """(previous config.json, resume checkpoint, its metrics rows) of the run folder; (None, None, [])."""
    old, resume = _load_resume(run_dir, record)
    rows = [] if resume is None else [r for r in ckpt.read_metrics(run_dir)
                                      if r.get("epoch") and r["epoch"] <= resume["epoch"]]
    return old, resume, rows


def _on_main(world: World, fn: Callable):
    """``fn()`` on rank 0 and its result on every rank; its TrainingError/CheckpointError raised on every rank."""
    if not world.distributed:
        return fn()
    result, error = None, None
    if world.main:
        try:
            result = fn()
        except (TrainingError, ckpt.CheckpointError) as exc:
            error = str(exc)
    error, result = dist.broadcast(world, (error, result))
    if error:
        raise TrainingError(error)
    return result


def _prepare(config: TrainConfig, run: RunState, world: World) -> PreparedData:
    """prepare_data; under torchrun rank 0 first (it fills the preprocessing cache), then the others read it."""
    if not world.distributed:
        return prepare_data(config, progress=run.say)
    data, error = None, None
    for turn in ((0,), range(1, world.size)):
        if world.rank in turn:
            try:
                data = prepare_data(config, progress=run.say)
            except TrainingError as exc:
                error = str(exc)
        error = dist.first_error(world, error)
        if error:
            raise TrainingError(error)
    return data


def _train_locked(config: TrainConfig, run: RunState, command: str, on_batch, on_epoch,
                  world: World = World()) -> dict:
    threads = config.threads or max(1, get_settings().torch_threads // world.local_size)
    torch.set_num_threads(max(1, threads))
    torch.manual_seed(config.seed)  # the same first weights on every rank (DDP also copies rank 0's)
    np.random.seed(config.seed % 2 ** 32)
    data = _prepare(config, run, world)
    val = is_validation(data.ids, config.split_seed_used, config.val_fraction)
    train_idx, val_idx = np.flatnonzero(~val), np.flatnonzero(val)
    if len(train_idx) < 2:
        raise TrainingError(f"{len(train_idx)} training images left after the validation split "
                            f"({len(val_idx)} held out, validation fraction {config.val_fraction}); training "
                            f"needs at least 2: add images or lower the validation fraction")
    model = build_model(config.model_section())
    record = config_record(config, data, command, run.run_dir, train_idx, val_idx, model)
    n_steps = steps_per_epoch(len(train_idx), config.batch_size, world.size)
    record.update(world_size=world.size, batch_size_per_rank=config.batch_size // world.size,
                  steps_per_epoch=n_steps, distributed_backend=dist.backend() if world.distributed else None)
    _same_data(world, record)
    old, resume, rows = _on_main(world, lambda: _resume_point(run.run_dir, record))
    if resume is not None:
        try:
            model.load_state_dict(resume["model"])
        except (RuntimeError, TypeError, KeyError) as exc:
            raise ckpt.CheckpointError(f"{run.run_dir / ckpt.RESUME_NAME}: weights do not fit the model "
                                       f"({str(exc)[:200]})") from exc
        record["created_at"] = old.get("created_at", record["created_at"])
        record["resumed"] = old.get("resumed", []) + [{**resume_entry(resume, config, command),
                                                       "world_size": world.size}]
    model.to(dist.device(world))
    net = _ddp(model, world)
    optimizer, scheduler = _optimizer_and_schedule(model, config, n_steps, resume,
                                                   same_length=old is None or old.get("epochs") == config.epochs)
    if world.main:
        ckpt.write_config(run.run_dir, record)
    if resume is not None:
        run.say(f"resuming after epoch {int(resume['epoch'])}")
    run.state.phase, run.state.done = "training", len(rows)
    run.save(n_train=len(train_idx), n_val=len(val_idx), baseline=record["baseline"])
    return epoch_loop(run, config, model, optimizer, scheduler, data, _train_tensors(data, train_idx, config),
                      val_idx, rows, resume, on_batch, on_epoch, world=world, net=net)


def _same_data(world: World, record: dict) -> None:
    """TrainingError on every rank when some rank prepared other data than rank 0 (e.g. another node's files)."""
    differs = dist.broadcast(world, record["data"]["hash"]) != record["data"]["hash"]
    error = dist.first_error(world, "the ranks do not see the same training data (data hash differs from rank "
                                    "0's); every node needs the same catalogues and image folders at the same "
                                    "paths" if differs else None)
    if error:
        raise TrainingError(error)


def _ddp(model: GalaxyNet, world: World) -> torch.nn.Module:
    """The DistributedDataParallel wrapper of ``model`` under torchrun (it starts from rank 0's weights).

    ``find_unused_parameters``: a batch without debiased labels leaves the debiased head without a gradient.
    """
    if not world.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = dist.device(world)
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=True)


def active_run(models_dir: Path | None = None) -> Path | None:
    """Run folder of the training run that is running now, or the last one started; None if never."""
    models_dir = Path(models_dir) if models_dir is not None else get_settings().models_dir
    info = read_json(models_dir / ACTIVE_RUN_FILE)
    return Path(info["run_dir"]) if isinstance(info, dict) and info.get("run_dir") else None


def training_busy(models_dir: Path | None = None) -> bool:
    """True while some process on this machine holds the training lock."""
    models_dir = Path(models_dir) if models_dir is not None else get_settings().models_dir
    return is_running(models_dir, TRAINING_LOCK)

