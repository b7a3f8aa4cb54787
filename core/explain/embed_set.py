"""Embed a galaxy set, streamed and resumable like batch prediction (:mod:`core.inference.batch`).

:func:`embed_set` runs a LoadedModel's backbone (:mod:`core.explain.features`) over a
:class:`core.inference.galaxy_sets.GalaxySet` in chunks; every image goes through
:func:`core.images.reading.open_image` (EXIF orientation applied; an unusable image is
listed, not fatal) and the crop the run used for its folder (batch prediction's chooser).
Each chunk is written at once, atomically, as ``<OUT>.parts/part-NNNNN.parquet``; a killed
run keeps its finished chunks and a rerun skips the IDs already in ``OUT`` or its parts
(:func:`core.inference.batch.still_to_do`). At the end everything is merged into ``OUT``
(atomically) and the parts folder is removed. Parts or an ``OUT`` made by another model are
refused (:class:`core.explain.index_file.IndexFileError`), never mixed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.explain.features import embed_prepared, embedding_dim
from core.explain.identity import model_identity
from core.explain.index_file import IndexFileError, read_ids, read_index, read_meta, same_model, write_index
from core.inference.batch import _CropChooser, open_chunk, still_to_do
from core.inference.galaxy_sets import GalaxySet

#: Images decoded and embedded per chunk (one part file each).
DEFAULT_CHUNK = 256


@dataclass
class EmbedResult:
    """What one call did: ``embedded`` now, ``skipped`` (already in OUT or its parts), ``failed`` (ID, message),
    ``rows``: rows in OUT afterwards, ``path``: OUT."""

    embedded: int
    skipped: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0
    path: Path | None = None


def parts_dir(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".parts")


def index_meta(run, views: int) -> dict:
    """The metadata an index of ``run`` with ``views`` carries (identity, dim, views, image size)."""
    return {**model_identity(run), "dim": embedding_dim(run.model), "views": int(views),
            "image_size": int(run.image_size)}


def _done_ids(out: Path, meta: dict) -> tuple[set[str], list[Path]]:
    """IDs already in ``out`` and its parts (checked to come from the same model) and the part files."""
    done: set[str] = set()
    files = [out] if out.exists() else []
    parts = sorted(parts_dir(out).glob("part-*.parquet")) if parts_dir(out).is_dir() else []
    for path in files + parts:
        other = read_meta(path)
        if not same_model(other, meta):
            raise IndexFileError(f"{path}: made by another model ({other.get('model_run')}, weights "
                                 f"{str(other.get('model_sha256'))[:12]}, views {other.get('views')}); this run is "
                                 f"{meta['model_run']} ({meta['model_sha256'][:12]}, views {meta['views']}). "
                                 "Choose another --out or remove it")
        done.update(read_ids(path))
    return done, parts


def _embed_chunk(run, gset: GalaxySet, idx: np.ndarray, crop_of: _CropChooser, views: int,
                 batch_size: int) -> tuple[list[int], np.ndarray, list[tuple[str, str]]]:
    images, good, failed = open_chunk(gset, idx)
    vectors = np.empty((len(good), embedding_dim(run.model)), dtype=np.float32)
    crops = [crop_of(gset.files[i].parent) for i in good]  # None = framed by the galaxy
    for crop in dict.fromkeys(crops):
        sel = np.flatnonzero([c == crop for c in crops])
        prepared = run.prepare([images[k] for k in sel], crop_fraction=crop)
        vectors[sel] = embed_prepared(run.model, prepared, views=views, batch_size=batch_size)
    return good, vectors, failed


def merge_parts(out: Path, meta: dict) -> int:
    """Merge ``out`` (if present) and its parts into ``out`` atomically; remove the parts. Returns rows."""
    pieces = ([out] if out.exists() else []) + (sorted(parts_dir(out).glob("part-*.parquet"))
                                                if parts_dir(out).is_dir() else [])
    ids: list[str] = []
    vectors = []
    for path in pieces:
        index = read_index(path)
        ids += index.ids
        vectors.append(index.vectors)
    matrix = np.concatenate(vectors) if vectors else np.zeros((0, meta["dim"]), dtype=np.float32)
    write_index(out, ids, matrix, meta)
    shutil.rmtree(parts_dir(out), ignore_errors=True)
    return len(ids)


def embed_set(run, gset: GalaxySet, out: str | os.PathLike, *, views: int = 4, chunk: int = DEFAULT_CHUNK,
              batch_size: int = 64, crop_fraction: float | None = None,
              progress: Callable[[int, int], None] | None = None) -> EmbedResult:
    """Embed every galaxy of ``gset`` not yet in ``out`` and merge everything into ``out`` (parquet).

    ``crop_fraction`` None: the crop the run used for each image folder, else the run's
    default (as :func:`core.inference.batch.predict_set`). ``progress(done, total)`` is called
    before the first chunk and after every chunk.
    """
    out = Path(out)
    meta = index_meta(run, views)
    done, parts = _done_ids(out, meta)
    todo = still_to_do(gset, None, done_ids=done)
    crop_of = _CropChooser(run, crop_fraction)
    failed: list[tuple[str, str]] = []
    n_part = 1 + max((int(p.stem.split("-")[1]) for p in parts), default=-1)
    embedded = 0
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), chunk):
        good, vectors, bad = _embed_chunk(run, gset, todo[start:start + chunk], crop_of, views, batch_size)
        failed += bad
        if good:
            write_index(parts_dir(out) / f"part-{n_part:05d}.parquet", [gset.ids[i] for i in good], vectors, meta)
            n_part += 1
            embedded += len(good)
        if progress:
            progress(min(start + chunk, len(todo)), len(todo))
    rows = merge_parts(out, meta) if (embedded or parts or not out.exists()) else len(done)
    return EmbedResult(embedded, len(gset) - len(todo), failed, rows, out)
