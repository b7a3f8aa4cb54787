"""Which embedding index belongs to a run, and one-image queries against it (for the pages).

An index matches a run when its metadata has the run's model.pt SHA-256 and feature dimension
(:func:`core.explain.index_file.same_model` without the views, which the index decides). The
places looked in, in order: ``<run>/embeddings/*.parquet`` then the built-in
``<demo_dir>/embeddings/*.parquet`` (made with ``models/demo``). Files that are not readable
indexes are skipped, never fatal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from core.explain.index_file import IndexFileError, read_meta


def index_dirs(run_dir: str | os.PathLike, demo_dir: str | os.PathLike) -> list[Path]:
    """The folders searched for ``run_dir``'s index, in order."""
    return [Path(run_dir) / "embeddings", Path(demo_dir) / "embeddings"]


def matching_indexes(run, folders: Sequence[str | os.PathLike]) -> list[Path]:
    """Index files in ``folders`` made with ``run`` (a LoadedModel): same weights hash and dimension."""
    from core.explain.features import embedding_dim
    from core.explain.identity import weights_sha256

    sha, dim = weights_sha256(run.run_dir), embedding_dim(run.model)
    out = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*.parquet")) if Path(folder).is_dir() else []:
            try:
                meta = read_meta(path)
            except IndexFileError:
                continue
            if meta.get("model_sha256") == sha and meta.get("dim") == dim:
                out.append(path)
    return out


def embed_command(run_dir: str | os.PathLike, images_dir: str | os.PathLike) -> str:
    """The CLI command that builds an index for ``run_dir`` where :func:`matching_indexes` finds it."""
    run_dir = Path(run_dir)
    return (f"python -m core embed --model {run_dir} --images {images_dir} "
            f"--out {run_dir / 'embeddings' / (Path(images_dir).name or 'images')}.parquet")


def image_vector(run, img: Image.Image, views: int, crop_fraction: float | None = None) -> np.ndarray:
    """Embedding (D,) float32 of one upright RGB image with ``run``, framed as the run frames it."""
    from core.explain.features import embed_prepared

    prepared = run.prepare([img if img.mode == "RGB" else img.convert("RGB")], crop_fraction=crop_fraction)
    return embed_prepared(run.model, prepared, views=views)[0]


def map_folders(demo_dir: str | os.PathLike, run_dirs: Sequence[str | os.PathLike]) -> list[Path]:
    """Where the embedding map looks for index files: the built-in ``<demo_dir>/embeddings``, then each
    run's ``<run>/embeddings``."""
    return [Path(demo_dir) / "embeddings"] + [Path(r) / "embeddings" for r in run_dirs]


def find_indexes(folders: Sequence[str | os.PathLike]) -> tuple[dict[str, dict], list[str]]:
    """({path: metadata} of the readable index files in ``folders``, in order; [reason] for each one refused
    (:class:`core.explain.index_file.IndexFileError` text, naming the file))."""
    found: dict[str, dict] = {}
    refused: list[str] = []
    for folder in folders:
        for path in sorted(Path(folder).glob("*.parquet")) if Path(folder).is_dir() else []:
            try:
                found[str(path)] = read_meta(path)
            except IndexFileError as exc:
                refused.append(str(exc))
    return found, refused


def run_with_weights(sha256: str, run_dirs: Sequence[str | os.PathLike]) -> Path | None:
    """The first run folder whose model.pt has this SHA-256 (the model an index was made with), or None."""
    from core.explain.identity import weights_sha256

    for run_dir in run_dirs:
        try:
            if weights_sha256(run_dir) == sha256:
                return Path(run_dir)
        except OSError:
            continue
    return None
