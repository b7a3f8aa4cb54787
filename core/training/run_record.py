"""What a training run writes about itself: state.json while it runs, config.json once it starts.

config.json holds every setting (derived from :class:`TrainConfig`, see
:func:`core.training.train_config.config_json`), the data it saw (hash, n, the
join summaries with skipped images), ``learned_columns`` (the vote columns with at
least one training label: a model has no business predicting the others) and
``baseline`` (what the run's own validation labels give without a model: the
majority-class and chance accuracy, with their n).
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from core.jobs import JobKind, JobState, JobStatus, write_state
from core.training.epochs import label_baseline
from core.training.model import GalaxyNet, count_parameters
from core.training.prepare import PreparedData, label_counts, learned_columns
from core.training.train_config import TrainConfig, config_json


class RunState:
    """The state.json of one run (a typed :class:`JobState`), with the callback that watches messages.

    ``done``/``total`` are finished/planned epochs; ``progress`` holds the epoch, batch,
    running loss, n_train/n_val, the baseline and the last metrics row. With ``writes`` False
    (torchrun ranks other than 0) it keeps the state in memory and writes nothing.
    """

    def __init__(self, run_dir: Path, config: TrainConfig, on_message: Callable[[str], None] | None,
                 writes: bool = True):
        self.run_dir, self.on_message, self.writes = run_dir, on_message, writes
        self.state = JobState(kind=JobKind.TRAINING, status=JobStatus.RUNNING, phase="preparing", pid=os.getpid(),
                              total=config.epochs, started_at=time.time(), message="preparing images",
                              settings=config_json(config))

    def save(self, **progress) -> None:
        self.state.progress.update(progress)
        if self.writes:
            write_state(self.run_dir, self.state.to_dict())

    def say(self, text: str) -> None:
        self.state.message = text
        self.save()
        if self.on_message:
            self.on_message(text)

    def end(self, status: JobStatus, message: str) -> dict:
        """Write the final state and return it as a dict."""
        self.state.status, self.state.phase, self.state.message = status, "done", message
        self.save(finished_at=time.time())
        return self.state.to_dict()


def library_versions() -> dict[str, str]:
    import pandas
    import PIL
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__,
            "pandas": pandas.__version__, "pillow": PIL.__version__}


def config_record(config: TrainConfig, data: PreparedData, command: str, run_dir: Path, train_idx: np.ndarray,
                  val_idx: np.ndarray, model: GalaxyNet) -> dict:
    """The whole config.json of a run that starts now."""
    record = {"run_id": run_dir.name, "command": command, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    record.update(config_json(config))
    record.update({
        "model_note": model.init_note,
        "n_params": count_parameters(model),
        "crop_fraction": config.sources[0].crop_fraction,
        "lr_schedule": "one-cycle (cosine), peak lr, 30% warm-up",
        "optimizer": "AdamW",
        "split": "validation if SHA-256('split_seed:ID')/2^64 < val_fraction (split_seed: seed when unset)",
        "torch_threads_used": torch.get_num_threads(),
        "learned_columns": learned_columns(data.targets[train_idx]),
        "label_counts": label_counts(data.targets[train_idx]),
        "baseline": label_baseline(data.targets[val_idx]),
        "data": {
            "hash": hashlib.sha256("|".join(j.data_hash() for j in data.joins).encode()).hexdigest()[:16],
            "n_train": int(len(train_idx)),
            "n_val": int(len(val_idx)),
            "n_class_derived": int(data.class_derived.sum()),
            "n_unreadable": sum(len(j.unreadable_images) for j in data.joins),
            "sources": [j.summary() for j in data.joins],
        },
        "libraries": library_versions(),
        "platform": platform.platform(),
    })
    return record


def resume_entry(resume: dict, config: TrainConfig, command: str) -> dict:
    """One item of config.json's ``resumed`` list: where the run picked up, and to how many epochs."""
    return {"at_epoch": int(resume["epoch"]) + 1, "epochs": config.epochs, "command": command,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
