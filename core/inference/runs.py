"""The trained runs, yours and the shipped ones, and the odd folders skipped with a note.

Runs live in two folders (:attr:`core.config.Settings.run_folders`): your runs folder
(``models_dir``, ``<GZ_HOME>/runs``: what ``gz train`` and the Train page write) and the shipped
models folder (``shipped_models_dir``, the repository's ``models/``: read-only, each entry marked
``shipped``). The default model is :func:`default_run`; ``--model NAME`` resolves through
:func:`resolve_run`.

One unreadable run folder must never hide the good ones: :func:`scan_runs` reads each
folder's config.json, state.json and metrics.csv strictly (a JSON object, UTF-8, whole)
and lists a folder that fails as *skipped* with a one-line reason that never quotes the
file's contents. The Home, Predict, Train and Compare pages all list runs through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core import json_files
from core.config import Settings, get_settings
from core.inference.run_config import check_run_config
from core.jobs import read_job
from core.training.checkpoint import CONFIG_NAME, MODEL_NAME, CheckpointError, read_metrics

STATE_NAME = "state.json"
#: Folder name of the default model (yours if you trained one of that name, else the shipped one).
DEFAULT_RUN = "demo"


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
    """:func:`core.json_files.read_json_object` of a run's file, refused as CheckpointError (same message)."""
    try:
        return json_files.read_json_object(path, what="run file")
    except json_files.JsonObjectError as exc:
        raise CheckpointError(str(exc)) from None


def _run_entry(path: Path, shipped: bool = False) -> dict:
    """One usable run as a dict; CheckpointError with the reason when the folder is odd."""
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
        "shipped": shipped,
    }


def run_folder_paths(folder: Path) -> list[Path]:
    """The run folders (sub-folders with a model.pt) directly under ``folder``, by name; [] if it is missing."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.iterdir()) if p.is_dir() and (p / MODEL_NAME).exists()]


def scan_runs(models_dir: str | Path | None = None) -> RunScan:
    """Every run folder (a sub-folder with a model.pt) of ``models_dir``, usable or skipped.

    Default: your runs folder and the shipped models folder (:attr:`Settings.run_folders`); an entry
    is ``shipped`` when its folder lies in the shipped one. Folders without model.pt (a run still
    preparing, other files) are not runs and are not mentioned. Sorted with the default model
    (:func:`default_run`) first, then newest model.pt first.
    """
    settings = get_settings()
    folders = settings.run_folders if models_dir is None else (Path(models_dir),)
    scan = RunScan()
    for folder in folders:
        shipped = settings.is_shipped(folder)
        for path in run_folder_paths(folder):
            try:
                scan.runs.append(_run_entry(path, shipped))
            except CheckpointError as exc:
                scan.skipped.append(SkippedRun(path.name, str(exc).replace(str(folder) + "/", "")))
    default = str(default_run(settings))
    scan.runs.sort(key=lambda r: (r["path"] != default, r["run_id"] != DEFAULT_RUN, -r["mtime"]))
    return scan


def list_runs(models_dir: str | Path | None = None) -> list[dict]:
    """The usable runs of :func:`scan_runs`.

    Each entry: ``run_id``, ``path`` (str), ``config`` (dict), ``final_metrics``
    (last metrics.csv row as a dict, {} if none), ``n_epochs`` (rows in metrics.csv),
    ``status`` (from state.json, or "finished"/"unknown"), ``mtime`` (of model.pt, s),
    ``shipped`` (True for a run of the read-only shipped models folder).
    """
    return scan_runs(models_dir).runs


def shown_name(run_id: str, shipped: bool) -> str:
    """The name a run is shown by: its folder name, plus " (shipped)" for a run of the shipped models folder."""
    return f"{run_id} (shipped)" if shipped else run_id


def run_name(run: dict) -> str:
    """:func:`shown_name` of a :func:`scan_runs` entry."""
    return shown_name(run["run_id"], bool(run.get("shipped")))


def default_run(settings: Settings | None = None) -> Path:
    """The default model: ``<models_dir>/demo`` when you trained one of that name, else the shipped ``demo``."""
    s = settings or get_settings()
    own = s.models_dir / DEFAULT_RUN
    return own if (own / MODEL_NAME).is_file() else s.shipped_models_dir / DEFAULT_RUN


def resolve_run(model: str | Path | None, settings: Settings | None = None) -> Path:
    """The run folder a ``--model`` value names.

    None: :func:`default_run`. An existing folder: itself, as given. A bare name (no ``/``): that run
    in your runs folder, else in the shipped models folder. Anything else is returned as given, for
    the caller to report as missing.
    """
    s = settings or get_settings()
    if model is None or str(model) == "":
        return default_run(s)
    path = Path(model).expanduser()
    if path.is_dir() or len(path.parts) != 1 or path.name in (".", ".."):
        return path
    for folder in s.run_folders:
        if (folder / path.name).is_dir():
            return folder / path.name
    return path


def skipped_note(skipped: list[SkippedRun]) -> str:
    """One plain-text sentence naming the skipped folders and why ("" when none)."""
    if not skipped:
        return ""
    items = "; ".join(f"{s.run_id} ({s.reason})" for s in skipped[:5])
    more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return f"Skipped {len(skipped)} run folder{'s' if len(skipped) != 1 else ''} that cannot be read: {items}{more}."
