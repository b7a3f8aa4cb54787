"""A run's ensemble: the other runs its ``ensemble.json`` names, predicting with it.

``<run>/ensemble.json`` (data only)::

    {"members": ["../gz1-heldout-seed1", "../gz1-heldout-seed2"]}

Paths are relative to the run folder and must stay inside the run folder's parent
(sibling runs), so a run copied elsewhere with its members keeps working and a name
cannot reach outside the models folder. The run itself is always the first member and the
one saliency and embeddings use. Members must be compatible: same image size, same
framing, same learned columns (checked on load, the error names the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.json_files import JsonObjectError, read_json_object

#: The file in a run folder that names its other members.
ENSEMBLE_NAME = "ensemble.json"
#: Most members an ensemble may name (each one is a full forward pass per image).
MAX_MEMBERS = 16


class EnsembleError(ValueError):
    """An ensemble.json that cannot be used; the message names the file and the member."""


def member_dirs(run_dir: str | Path) -> list[Path]:
    """The other members' folders named by ``<run_dir>/ensemble.json`` ([] when there is none)."""
    run_dir = Path(run_dir)
    path = run_dir / ENSEMBLE_NAME
    if not path.is_file():
        return []
    try:
        data = read_json_object(path, what="ensemble file")
    except JsonObjectError as exc:
        raise EnsembleError(str(exc)) from None
    members = data.get("members")
    if not isinstance(members, list) or not all(isinstance(m, str) and m.strip() for m in members):
        raise EnsembleError(f"{path}: expected {{\"members\": [\"../other-run\", ...]}} (a list of folder names)")
    if len(members) > MAX_MEMBERS:
        raise EnsembleError(f"{path}: {len(members)} members; at most {MAX_MEMBERS}")
    home = run_dir.resolve().parent
    out = []
    for name in members:
        folder = (run_dir / name).resolve()
        if folder.parent != home or folder == run_dir.resolve():
            raise EnsembleError(f"{path}: member {name!r} must be another run folder beside {run_dir.name} "
                                f"(e.g. \"../{run_dir.name}-seed1\")")
        if not folder.is_dir():
            raise EnsembleError(f"{path}: member {name!r} does not exist ({folder.name} not found)")
        out.append(folder)
    return out


def check_compatible(run, member, path: Path) -> None:
    """EnsembleError unless ``member`` (a LoadedModel) predicts the same way as ``run``."""
    problems = []
    if member.image_size != run.image_size:
        problems.append(f"image size {member.image_size} px, not {run.image_size}")
    if member.crop_fraction != run.crop_fraction:
        problems.append(f"framing {member.crop_fraction}, not {run.crop_fraction}")
    if not np.array_equal(member.learned, run.learned):
        problems.append("other learned columns")
    if problems:
        raise EnsembleError(f"{path}: member {member.run_dir.name} cannot join {run.run_dir.name}: "
                            + "; ".join(problems))
