"""Make a finished run folder fit to commit as a shipped model.

Usage: python models/ship_run.py models/demo [models/gz1-heldout ...]

A run records the data it learned from as absolute paths (``python -m core
train`` resolves them, so that a resume or a comparison works from any folder).
Those paths name the trainer's machine. Before a run is committed, this script
rewrites every recorded data path in ``config.json`` and ``state.json`` relative
to the repository root (for example ``../shared/data/gz1_images_423px``), the
form the recorded command already uses. It changes nothing else, writes each
file atomically, and refuses a run that is still running.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from core.atomic import write_json_atomic
from core.jobs import read_job

REPO = Path(__file__).resolve().parent.parent
#: Keys that hold a data path, in ``sources`` (settings) and ``data.sources`` (join summaries).
PATH_KEYS = ("catalog", "images", "labels_source", "images_dir")


def repo_relative(path: str, repo: Path = REPO) -> str:
    """``path`` relative to ``repo`` if it is absolute, else unchanged (already relative, or a label such as "uploaded")."""
    return os.path.relpath(path, repo) if os.path.isabs(path) else path


def _relative_sources(sources: list, repo: Path) -> list:
    return [{k: (repo_relative(v, repo) if k in PATH_KEYS and isinstance(v, str) else v) for k, v in s.items()}
            for s in sources]


def relative_record(record: dict, repo: Path = REPO) -> dict:
    """A copy of a run's config.json or state.json with every recorded data path repo-relative."""
    out = dict(record)
    if isinstance(out.get("sources"), list):
        out["sources"] = _relative_sources(out["sources"], repo)
    for section in ("data", "settings"):
        inner = out.get(section)
        if isinstance(inner, dict) and isinstance(inner.get("sources"), list):
            out[section] = {**inner, "sources": _relative_sources(inner["sources"], repo)}
    return out


def ship(run_dir: Path, repo: Path = REPO) -> list[Path]:
    """Rewrite ``run_dir``'s config.json and state.json in place; returns the files changed."""
    if not (run_dir / "config.json").is_file():
        raise SystemExit(f"{run_dir}: not a run folder (no config.json)")
    job = read_job(run_dir)
    if job is not None and job.running:
        raise SystemExit(f"{run_dir}: the run is still {job.status.value}; ship it once it has finished")
    changed = []
    for name in ("config.json", "state.json"):
        path = run_dir / name
        if not path.is_file():
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        new = relative_record(record, repo)
        if new != record:
            write_json_atomic(path, new)
            changed.append(path)
    return changed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders to rewrite")
    for run_dir in ap.parse_args().runs:
        changed = ship(run_dir)
        print(f"{run_dir}: " + (", ".join(p.name for p in changed) + " rewritten" if changed else "already relative"))


if __name__ == "__main__":
    main()
