"""The galaxies visitors can classify, with the model's fractions computed once and kept on disk.

A pool joins one or more image sets: the built-in demo images (``data/demo``), the
downloaded cutouts (``settings.images_dir``) and any image folder joined to a catalogue.
Only galaxies named by an 18-digit SDSS objid take part (votes are exported as GZ1
Table-2 rows keyed by OBJID); the spin-labelled demo cutouts, keyed by position, do not.

The model's nine fractions per galaxy (default run ``models/demo``) are predicted once per
(run, model file version, image files) and cached as ``<cache_dir>/votes/predictions-<key>.npy``,
so no request ever waits for the model on a galaxy it has seen, with its TOP_P (the calibrated
probability that the volunteers' top answer is the model's, :mod:`core.inference.calibration`).
How unsure the model is: 1 - TOP_P where the run is calibrated, else the Shannon entropy of the six
raw fractions, in bits (0 = sure, log2 6 = 2.585 = no idea).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import Settings, get_settings
from core.inference.runs import default_run
from core.schema import RAW_INDEX, VOTE_COLUMNS, LabelKind
from core.votes.store import GALAXY_ID_PATTERN

#: Names of the image sources, as stored with each vote.
SOURCE_DEMO = "built-in demo"
SOURCE_DOWNLOADED = "downloaded"


@dataclass
class VotingPool:
    """Galaxies a visitor may be shown, aligned arrays.

    ``ids`` 18-digit OBJIDs (text), ``files`` image paths, ``sources`` image-set names,
    ``human`` (N, 9) GZ1 fractions in VOTE_COLUMNS order (NaN = unknown), ``class_derived``
    (N,) True where ``human`` is a one-hot GZ1 class rather than vote fractions, ``model``
    (N, 9) the model's fractions (NaN rows where the image could not be read), ``top_p`` (N,) its
    TOP_P (NaN where unknown: no calibration, or no prediction).
    """

    ids: list[str]
    files: list[Path]
    sources: list[str]
    human: np.ndarray
    class_derived: np.ndarray
    model: np.ndarray
    top_p: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __post_init__(self) -> None:
        self._pos = {g: i for i, g in enumerate(self.ids)}
        if self.top_p is None:
            self.top_p = np.full(len(self.ids), np.nan)

    def position(self, galaxy_id: str) -> int | None:
        """Index of ``galaxy_id`` in the pool, or None."""
        return self._pos.get(galaxy_id)

    @property
    def entropy_bits(self) -> np.ndarray:
        """(N,) entropy of the model's six raw fractions, bits; NaN where there is no prediction."""
        p = np.clip(self.model[:, list(RAW_INDEX)].astype(float), 1e-12, 1.0)
        return -(p * np.log2(p)).sum(axis=1)

    def least_certain_first(self, positions: np.ndarray) -> np.ndarray:
        """``positions`` ordered from the galaxy the model is least sure of: lowest TOP_P when every one
        has a TOP_P, else highest entropy; galaxies without a prediction last (ties in pool order)."""
        positions = np.asarray(positions, dtype=int)
        top_p = self.top_p[positions]
        if len(positions) and np.isfinite(top_p).all():
            return positions[np.argsort(top_p, kind="stable")]
        return positions[np.argsort(-np.nan_to_num(self.entropy_bits[positions], nan=-1.0), kind="stable")]

    def human_kind(self, i: int) -> LabelKind:
        """What the GZ1 side of galaxy ``i`` is: vote fractions, a class, partial or nothing."""
        known = ~np.isnan(self.human[i, list(RAW_INDEX)])
        if self.class_derived[i]:
            return LabelKind.CLASS
        return LabelKind.VOTES if known.all() else (LabelKind.PARTIAL if known.any() else LabelKind.NONE)

    def human_top(self) -> np.ndarray:
        """(N,) position 0..5 of the GZ1 top answer where all six are known (class or votes), else -1."""
        raw = self.human[:, list(RAW_INDEX)]
        full = ~np.isnan(raw).any(axis=1)
        return np.where(full, np.argmax(np.nan_to_num(raw, nan=-1.0), axis=1), -1)

    def model_top(self) -> np.ndarray:
        """(N,) position 0..5 of the model's top answer, -1 where it has no prediction."""
        raw = self.model[:, list(RAW_INDEX)]
        ok = ~np.isnan(raw).any(axis=1)
        return np.where(ok, np.argmax(np.nan_to_num(raw, nan=-1.0), axis=1), -1)


def demo_image_sets(settings: Settings | None = None) -> list[tuple[object, str]]:
    """The built-in demo sets as (GalaxySet, source name) pairs ([] when the demo data is absent)."""
    from core.inference.galaxy_sets import demo_sets

    s = settings or get_settings()
    return [(gset, SOURCE_DEMO) for gset in demo_sets(s.demo_dir)]


def folder_image_set(folder: str | os.PathLike, catalog: pd.DataFrame | None, source: str) -> list[tuple[object, str]]:
    """Every image of one folder, with GZ1 labels from ``catalog`` (a table with OBJID and any label
    columns) where it has a row; images it lacks, or all when ``catalog`` is None, come unlabelled.
    [] when the folder does not exist or holds no image."""
    from core.inference.galaxy_sets import combine_sets, set_from_folder, set_from_table

    folder = Path(folder)
    if not folder.is_dir():
        return []
    every = set_from_folder(folder, source)
    if catalog is None or not len(every):
        return [(every, source)] if len(every) else []
    labelled = set_from_table(catalog, folder, source)
    known = set(labelled.ids)
    rest = every.subset(np.asarray([g not in known for g in every.ids], dtype=bool))
    return [(combine_sets([s for s in (labelled, rest) if len(s)], source), source)]


def downloaded_image_set(settings: Settings | None = None, catalog: pd.DataFrame | None = None) -> list[tuple[object, str]]:
    """The downloaded cutouts joined to ``catalog`` (default: the built-in 695-row GZ1 sample)."""
    s = settings or get_settings()
    if catalog is None and s.sample_catalog.is_file():
        catalog = pd.read_csv(s.sample_catalog, dtype=str, keep_default_na=False)
    return folder_image_set(s.images_dir, catalog, SOURCE_DOWNLOADED)


def default_run_dir(settings: Settings | None = None) -> Path:
    """The model whose fractions are revealed: the default run (core.inference.runs.default_run)."""
    return default_run(settings)


def _predictions_path(run_dir: Path, files: Sequence[Path], cache_dir: Path) -> Path:
    digest = hashlib.sha256()
    model_file = run_dir / "model.pt"
    digest.update(f"{run_dir.resolve()}|{os.stat(model_file).st_mtime_ns}|{os.stat(model_file).st_size}".encode())
    for f in files:
        st = os.stat(f)
        digest.update(f"|{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return cache_dir / "votes" / f"predictions-{digest.hexdigest()[:24]}.npy"


#: Columns of the cached predictions: the nine fractions, then TOP_P.
_CACHED_COLUMNS = len(VOTE_COLUMNS) + 1


def model_fractions(gset, run_dir: str | os.PathLike, cache_dir: Path | None = None) -> np.ndarray:
    """(N, 10) fractions of run ``run_dir`` (VOTE_COLUMNS order) then TOP_P, for every image of ``gset``,
    from the disk cache or computed once."""
    from core.atomic import write_bytes_atomic

    run_dir = Path(run_dir)
    path = _predictions_path(run_dir, gset.files, cache_dir or get_settings().cache_dir)
    if path.is_file():
        cached = np.load(path)
        if cached.shape == (len(gset), _CACHED_COLUMNS):
            return cached
    from core.inference.batch import predict_set
    from core.inference.predict import load_run

    result = predict_set(load_run(run_dir), gset)
    fractions = np.column_stack([result.fractions, result.top_p])
    import io

    buf = io.BytesIO()
    np.save(buf, fractions)
    write_bytes_atomic(path, buf.getvalue())
    return fractions


def build_pool(image_sets: Sequence[tuple[object, str]], run_dir: str | os.PathLike | None = None,
               cache_dir: Path | None = None) -> VotingPool:
    """A pool from (GalaxySet, source) pairs: 18-digit OBJIDs only, first occurrence of an ID kept;
    model fractions from ``run_dir`` (default :func:`default_run_dir`)."""
    from core.inference.galaxy_sets import combine_sets

    kept, sources = [], []
    seen: set[str] = set()
    for gset, source in image_sets:
        take = [i for i, g in enumerate(gset.ids) if GALAXY_ID_PATTERN.fullmatch(str(g)) and g not in seen]
        seen.update(gset.ids[i] for i in take)
        if take:
            kept.append(gset.subset(np.asarray(take, dtype=int)))
            sources += [source] * len(take)
    if not kept:
        empty = np.zeros((0, len(VOTE_COLUMNS)))
        return VotingPool([], [], [], empty, np.zeros(0, dtype=bool), empty)
    joined = combine_sets(kept, "voting pool")
    predicted = np.asarray(model_fractions(joined, run_dir or default_run_dir(), cache_dir), dtype=float)
    return VotingPool([str(g) for g in joined.ids], list(joined.files), sources,
                      np.asarray(joined.targets, dtype=float), np.asarray(joined.class_derived, dtype=bool),
                      predicted[:, :len(VOTE_COLUMNS)], predicted[:, len(VOTE_COLUMNS)])


def merge_pools(pools: Sequence[VotingPool]) -> VotingPool:
    """One pool holding every galaxy of ``pools`` (first occurrence of an ID kept, with its image set's
    labels and model fractions): the reference the statistics over votes from several sets use."""
    pools = [p for p in pools if len(p)]
    if len(pools) == 1:
        return pools[0]
    if not pools:
        empty = np.zeros((0, len(VOTE_COLUMNS)))
        return VotingPool([], [], [], empty, np.zeros(0, dtype=bool), empty)
    seen: set[str] = set()
    parts = []
    for p in pools:
        take = np.asarray([g not in seen for g in p.ids], dtype=bool)
        seen.update(p.ids)
        parts.append((p, np.flatnonzero(take)))
    return VotingPool([p.ids[i] for p, idx in parts for i in idx], [p.files[i] for p, idx in parts for i in idx],
                      [p.sources[i] for p, idx in parts for i in idx],
                      np.concatenate([p.human[idx] for p, idx in parts]),
                      np.concatenate([p.class_derived[idx] for p, idx in parts]),
                      np.concatenate([p.model[idx] for p, idx in parts]),
                      np.concatenate([p.top_p[idx] for p, idx in parts]))
