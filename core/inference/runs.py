"""The trained runs under the models folder, and the odd folders skipped with a note.

One unreadable run folder must never hide the good ones: :func:`scan_runs` reads each
folder's config.json, state.json and metrics.csv strictly (a JSON object, UTF-8, whole)
and lists a folder that fails as *skipped* with a one-line reason that never quotes the
file's contents. The Predict, Train and Compare pages all list runs through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.config import get_settings
from core.training.checkpoint import CONFIG_NAME, MODEL_NAME, CheckpointError, read_metrics

STATE_NAME = "state.json"


@dataclass
class SkippedRun:
    """A folder under the models folder that is not listed, and why (plain words, no file contents)."""

    run_id: str
    reason: str


@dataclass
class RunScan:
    """``runs``: usable runs (dicts, see :func:`list_runs`); ``skipped``: folders left out, with reasons."""

    runs: list[dict] = field(default_factory=list)
    skipped: list[SkippedRun] = field(default_factory=list)


def read_json_object(path: Path) -> dict:
    """The JSON object in ``path``; CheckpointError naming the file (never quoting it) otherwise."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: not valid JSON (truncated or damaged near line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: holds a JSON {type(data).__name__}, not an object")
    return data


def _run_entry(path: Path) -> dict:
    """One usable run as a dict; CheckpointError with the reason when the folder is odd."""
    from core.inference.run_config import check_run_config
    from core.jobs import read_job

    config = check_run_config(read_json_object(path / CONFIG_NAME), path / CONFIG_NAME)
    status = None
    if (path / STATE_NAME).exists():
        read_json_object(path / STATE_NAME)  # refuse a list, non-UTF-8 or truncated state.json
        job = read_job(path)
        status = None if job is None else str(job.status)
    try:
        metrics = read_metrics(path)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path / 'metrics.csv'}: not a readable metrics table ({type(exc).__name__})") from None
    return {
        "run_id": path.name,
        "path": str(path),
        "config": config,
        "final_metrics": metrics[-1] if metrics else {},
        "n_epochs": len(metrics),
        "status": status or ("finished" if metrics else "unknown"),
        "mtime": (path / MODEL_NAME).stat().st_mtime,
    }


def scan_runs(models_dir: str | Path | None = None) -> RunScan:
    """Every folder under ``models_dir`` (default settings.models_dir) with a model.pt: usable or skipped.

    Folders without model.pt (a run still preparing, other files) are not runs and are not
    mentioned. Runs are sorted with ``demo`` first, then newest model.pt first.
    """
    models_dir = Path(models_dir) if models_dir is not None else get_settings().models_dir
    scan = RunScan()
    if not models_dir.is_dir():
        return scan
    for path in sorted(models_dir.iterdir()):
        if not path.is_dir() or not (path / MODEL_NAME).exists():
            continue
        try:
            scan.runs.append(_run_entry(path))
        except CheckpointError as exc:
            scan.skipped.append(SkippedRun(path.name, str(exc).replace(str(models_dir) + "/", "")))
    scan.runs.sort(key=lambda r: (r["run_id"] != "demo", -r["mtime"]))
    return scan


def list_runs(models_dir: str | Path | None = None) -> list[dict]:
    """The usable runs of :func:`scan_runs`.

    Each entry: ``run_id``, ``path`` (str), ``config`` (dict), ``final_metrics``
    (last metrics.csv row as a dict, {} if none), ``n_epochs`` (rows in metrics.csv),
    ``status`` (from state.json, or "finished"/"unknown"), ``mtime`` (of model.pt, s).
    """
    return scan_runs(models_dir).runs


def skipped_note(skipped: list[SkippedRun]) -> str:
    """One plain-text sentence naming the skipped folders and why ("" when none)."""
    if not skipped:
        return ""
    items = "; ".join(f"{s.run_id} ({s.reason})" for s in skipped[:5])
    more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return f"Skipped {len(skipped)} run folder{'s' if len(skipped) != 1 else ''} that cannot be read: {items}{more}."
