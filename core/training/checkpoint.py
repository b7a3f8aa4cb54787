"""Run-folder files: model state dicts, resume checkpoints, config.json and metrics.csv.

Layout of a run folder (``<runs folder>/<run-id>/``, or a shipped one in ``models/``):

* ``config.json``: every training setting, data hash, library versions, exact command;
* ``metrics.csv``: one row per finished epoch;
* ``model.pt``: the model's ``state_dict`` only (tensors), after the last finished epoch;
* ``resume.pt``: model + optimizer + scheduler state and the epoch number, for
  resuming a killed or cancelled run; plain tensors and numbers only.

Every file is written to a temporary file in the same folder and renamed over
the old one (``os.replace``), so a kill at any moment leaves the last good
version. Every ``.pt`` file is read with ``torch.load(weights_only=True)``:
a pickled model object (which could run code when loaded) is refused with
:class:`CheckpointError`.
"""

from __future__ import annotations

import csv
import io
import pickle
from pathlib import Path
from typing import Any

import torch

from core.atomic import write_bytes_atomic, write_json_atomic
from core.jobs import read_json

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.csv"
MODEL_NAME = "model.pt"
RESUME_NAME = "resume.pt"
#: metrics.csv columns that hold counts: read back as int, so a resumed file never mixes "1.0" and "3".
INTEGER_METRICS = ("epoch", "val_n", "val_n_top_answer", "val_n_spin")


class CheckpointError(ValueError):
    """A checkpoint that cannot or must not be loaded; the message names the file."""


def save_torch_atomic(path: Path, obj: Any) -> None:
    """``torch.save`` to memory, then atomic write (temp file + rename)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(Path(path), buf.getvalue())


def load_torch_safe(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; refuses pickled objects with CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused - not a plain state dict (a pickled Python object could run code "
            f"when loaded; only weights_only checkpoints are accepted)"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({exc})") from exc


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A model state dict (name -> tensor) from ``path``, or CheckpointError."""
    obj = load_torch_safe(path)
    if not isinstance(obj, dict) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise CheckpointError(f"{Path(path)}: not a model state dict (expected a mapping of names to tensors)")
    return obj


def save_model(run_dir: Path, state_dict: dict[str, torch.Tensor]) -> None:
    save_torch_atomic(Path(run_dir) / MODEL_NAME, {k: v.detach().cpu() for k, v in state_dict.items()})


def save_resume(run_dir: Path, *, epoch: int, model: dict, optimizer: dict, scheduler: dict,
                best: float, bad_epochs: int) -> None:
    """Everything needed to continue after ``epoch`` (1-based, finished)."""
    save_torch_atomic(Path(run_dir) / RESUME_NAME, {
        "epoch": int(epoch), "model": model, "optimizer": optimizer, "scheduler": scheduler,
        "best": float(best), "bad_epochs": int(bad_epochs),
    })


def load_resume(run_dir: Path) -> dict | None:
    path = Path(run_dir) / RESUME_NAME
    return load_torch_safe(path) if path.exists() else None


def write_config(run_dir: Path, config: dict) -> None:
    write_json_atomic(Path(run_dir) / CONFIG_NAME, config)


def read_config(run_dir: Path) -> dict | None:
    return read_json(Path(run_dir) / CONFIG_NAME)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Rows of metrics.csv as dicts with floats, counts (INTEGER_METRICS) as int, empty cells None; [] if missing."""
    path = Path(run_dir) / METRICS_NAME
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []  # missing or unreadable: the run shows no curves rather than taking the page down
    out = []
    for row in rows:
        parsed: dict[str, Any] = {}
        for k, v in row.items():
            if v in ("", None):
                parsed[k] = None
            else:
                try:
                    parsed[k] = float(v)
                except ValueError:
                    parsed[k] = v
                if k in INTEGER_METRICS and isinstance(parsed[k], float) and parsed[k].is_integer():
                    parsed[k] = int(parsed[k])
        out.append(parsed)
    return out


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite metrics.csv atomically with all epoch rows (columns = union, in first-seen order)."""
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(k, row.get(k)) for k in cols})
    write_bytes_atomic(Path(run_dir) / METRICS_NAME, buf.getvalue().encode())


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return ""
    if column in INTEGER_METRICS and isinstance(value, float) and value.is_integer():
        return int(value)
    return value
