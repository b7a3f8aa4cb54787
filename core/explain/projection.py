"""A 2-D map of an embedding index: principal component analysis (numpy), deterministic.

The embeddings are compared by cosine distance everywhere else (:mod:`core.explain.neighbours`),
so each row is first scaled to unit length; the map is then the projection of the centred unit
vectors onto their first two principal axes. ``x`` and ``y`` are in those units (at most 2 apart
for any two galaxies); ``explained`` is the share of the total variance along each axis (0-1).
Each axis's sign is fixed so that its largest-magnitude loading is positive, so the same index
always gives the same picture. Several index files may be mapped together when they come from
the same model (same weights hash, dimension and views); anything else is refused naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.explain.index_file import EmbeddingIndex, IndexFileError, read_index, same_model

#: Rows handled at a time (65,536 x 112 float64 = 59 MB).
CHUNK_ROWS = 65_536


class ProjectionError(ValueError):
    """Embeddings that cannot be mapped (too few galaxies or features, files from different models)."""


@dataclass
class Projection:
    """``ids`` (N,), map coordinates ``x``, ``y`` (N,) float64, ``explained`` (2,) variance shares,
    ``source`` (N,) the stem of the index file each galaxy came from, ``meta`` (the indexes' metadata)."""

    ids: list[str]
    x: np.ndarray
    y: np.ndarray
    explained: tuple[float, float]
    source: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def _unit_rows(block: np.ndarray) -> np.ndarray:
    u = np.asarray(block, dtype=np.float64)
    norms = np.linalg.norm(u, axis=1, keepdims=True)
    return u / np.where(norms > 0, norms, 1.0)


def pca_2d(vectors: np.ndarray, chunk: int = CHUNK_ROWS) -> tuple[np.ndarray, tuple[float, float]]:
    """(N, 2) coordinates of the unit-length rows of ``vectors`` on their first two principal axes,
    and the share of the variance each axis carries. ProjectionError for fewer than 2 rows or features.

    The axes are the top eigenvectors of the D x D covariance, accumulated over ``chunk`` rows at a
    time in float64, so the memory is the input plus O(chunk x D) whatever N (667,944 x 112 works).
    """
    v = np.asarray(vectors)
    if v.ndim != 2 or v.shape[0] < 2 or v.shape[1] < 2:
        raise ProjectionError(f"a map needs at least 2 galaxies with at least 2 features each, got shape {v.shape}")
    n, d = v.shape
    total, scatter = np.zeros(d), np.zeros((d, d))
    for start in range(0, n, chunk):
        u = _unit_rows(v[start:start + chunk])
        total += u.sum(axis=0)
        scatter += u.T @ u
    mean = total / n
    cov = (scatter - n * np.outer(mean, mean)) / (n - 1)
    values, vecs = np.linalg.eigh((cov + cov.T) / 2)
    order = np.argsort(values)[::-1]
    values, axes = np.clip(values[order], 0.0, None), vecs[:, order[:2]].T.copy()
    for a in axes:
        if a[np.argmax(np.abs(a))] < 0:
            a *= -1
    xy = np.empty((n, 2))
    for start in range(0, n, chunk):
        xy[start:start + chunk] = (_unit_rows(v[start:start + chunk]) - mean) @ axes.T
    whole = float(values.sum())
    shares = (float(values[0] / whole), float(values[1] / whole)) if whole > 0 else (0.0, 0.0)
    return xy, shares


def project(index: EmbeddingIndex, source: str | None = None) -> Projection:
    """The 2-D map of one index."""
    xy, explained = pca_2d(index.vectors)
    name = source or (Path(index.path).stem if index.path else "index")
    return Projection(list(index.ids), xy[:, 0], xy[:, 1], explained, [name] * len(index.ids), dict(index.meta))


def combine(indexes: Sequence[EmbeddingIndex]) -> EmbeddingIndex:
    """One index holding the rows of several from the same model; IDs kept once (first file wins)."""
    if not indexes:
        raise ProjectionError("no embedding index to map")
    first = indexes[0]
    for other in indexes[1:]:
        if not same_model(first.meta, other.meta):
            raise IndexFileError(f"{other.path}: made by another model ({other.meta.get('model_run')}, weights "
                                 f"{str(other.meta.get('model_sha256'))[:12]}) than {first.path} "
                                 f"({first.meta.get('model_run')}, {str(first.meta.get('model_sha256'))[:12]}); "
                                 "map files of one model together")
    seen: set[str] = set()
    ids, rows = [], []
    for index in indexes:
        keep = [i for i, gid in enumerate(index.ids) if gid not in seen]
        seen.update(index.ids[i] for i in keep)
        ids += [index.ids[i] for i in keep]
        rows.append(index.vectors[keep])
    return EmbeddingIndex(ids, np.concatenate(rows), dict(first.meta), first.path)


def project_files(paths: Sequence[str | os.PathLike]) -> Projection:
    """The 2-D map of one or more index files of one model (read and checked by
    :func:`core.explain.index_file.read_index`: a wrong-shape file is refused naming it)."""
    indexes = [read_index(p) for p in paths]
    merged = combine(indexes)
    source = {}
    for index in indexes:
        for gid in index.ids:
            source.setdefault(gid, Path(index.path).stem)
    projection = project(merged)
    projection.source = [source[g] for g in merged.ids]
    return projection
