"""Resuming a run folder: is it resumable, and the command that resumes it (the same one the CLI runs).

A run stopped by a kill, a crash or Cancel keeps ``resume.pt`` after its last finished
epoch. Running ``python -m core train`` again with the settings in its config.json
continues it; a larger ``epochs`` extends it (see :mod:`core.training.train`). A run of the
read-only shipped models folder is never resumable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from core.config import get_settings
from core.jobs import JobStatus, read_job
from core.training.checkpoint import RESUME_NAME, read_config, read_metrics
from core.training.train_config import TrainConfig, config_argv, config_from_json

#: Statuses from which the Train page offers Resume.
RESUMABLE = (JobStatus.INTERRUPTED, JobStatus.CANCELLED)


@dataclass
class ResumePoint:
    """A resumable run: its folder, status, finished and planned epochs, and its recorded settings."""

    run_dir: Path
    status: JobStatus
    epochs_done: int
    epochs_planned: int
    config: TrainConfig


def resume_point(run_dir: str | Path) -> ResumePoint | None:
    """The run's resume point when it stopped early (interrupted or cancelled) with a checkpoint, else None
    (always None for a shipped run)."""
    run_dir = Path(run_dir)
    if get_settings().is_shipped(run_dir):
        return None
    state = read_job(run_dir)
    if state is None or state.running or not (run_dir / RESUME_NAME).exists():
        return None
    status = state.status
    stored = read_config(run_dir)
    if status not in RESUMABLE or not isinstance(stored, dict):
        return None
    try:
        config = config_from_json(stored)
    except ValueError:
        return None
    done = len(read_metrics(run_dir))
    return ResumePoint(run_dir, status, done, config.epochs, config)


def resume_argv(point: ResumePoint, epochs: int | None = None) -> list[str]:
    """``python -m core`` arguments that resume ``point`` (to ``epochs`` in all, if given)."""
    config = point.config if epochs is None else replace(point.config, epochs=int(epochs))
    return config_argv(config.check(), point.run_dir)
