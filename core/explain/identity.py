"""Which model an embedding index belongs to: the run folder and a SHA-256 of its ``model.pt``.

Two indexes (or an index and a ``--model``) are compatible only when the weight hashes
and the embedding settings (dimension, views) agree; the run path is recorded for people.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.training.checkpoint import MODEL_NAME


def weights_sha256(run_dir: str | Path) -> str:
    """Hex SHA-256 of ``<run_dir>/model.pt``."""
    h = hashlib.sha256()
    with open(Path(run_dir) / MODEL_NAME, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_identity(run) -> dict:
    """{"model_run": run path as given, "model_sha256": hash of model.pt} of a LoadedModel."""
    return {"model_run": str(run.run_dir), "model_sha256": weights_sha256(run.run_dir)}
