"""Training data: labels joined to images, pixels prepared once, and the train/validation split.

Images that cannot be decoded are left out and listed in the join summary
(``unreadable_images``), so one corrupt JPEG never ends a run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.images.preprocess import cached_arrays, prepare_file
from core.labels.join import JoinResult, load_labelled_set
from core.labels.targets import LabelError
from core.schema import VOTE_COLUMNS
from core.training.train_config import Source, TrainConfig, TrainingError


@dataclass
class PreparedData:
    """Pixels and targets of all sources, concatenated."""

    images: np.ndarray          # uint8 (N, S, S, 3)
    targets: np.ndarray         # (N, 9) vote fractions in VOTE_COLUMNS order, NaN = unknown
    class_derived: np.ndarray   # (N,) bool
    nvote: np.ndarray           # (N,) float, NaN = unknown
    ids: np.ndarray             # (N,) str
    source_index: np.ndarray    # (N,) int
    joins: list[JoinResult]


def is_validation(ids, seed: int, val_fraction: float) -> np.ndarray:
    """Boolean mask: ID goes to validation when SHA-256("seed:ID") / 2**64 < val_fraction."""
    out = np.zeros(len(ids), dtype=bool)
    for i, x in enumerate(ids):
        h = int.from_bytes(hashlib.sha256(f"{seed}:{x}".encode()).digest()[:8], "big") / 2.0 ** 64
        out[i] = h < val_fraction
    return out


#: A column is learned with at least this many training labels, or with labels on at least
#: LEARN_SHARE of the training rows (so a 16-image test run still learns its columns); a handful
#: of labels among thousands of images (6 debiased values in the demo set) moves a head too little.
MIN_LABELS_TO_LEARN = 50
LEARN_SHARE = 0.05


def label_counts(targets: np.ndarray) -> dict[str, int]:
    """Known (non-NaN) training labels per VOTE_COLUMN of ``targets`` (N, 9)."""
    known = (~np.isnan(targets)).sum(axis=0) if len(targets) else np.zeros(len(VOTE_COLUMNS), dtype=int)
    return {col: int(n) for col, n in zip(VOTE_COLUMNS, known, strict=True)}


def learned_columns(targets: np.ndarray) -> list[str]:
    """The VOTE_COLUMNS of ``targets`` (N, 9) with enough known values to count as learned (see above)."""
    needed = max(1.0, min(MIN_LABELS_TO_LEARN, LEARN_SHARE * len(targets)))
    return [col for col, n in label_counts(targets).items() if n >= needed]


def _unreadable(join: JoinResult, size: int, crop_fraction: float) -> dict[int, str]:
    """Row index -> reason, for every matched image of ``join`` that cannot be prepared."""
    bad = {}
    for i, path in enumerate(join.files):
        try:
            prepare_file(path, size, crop_fraction)
        except ValueError as exc:
            reason = str(exc.__cause__ or exc).replace(str(path), path.name)
            bad[i] = reason[:160]
    return bad


def _source_pixels(join: JoinResult, source: Source, size: int,
                   progress: Callable[[int, int], None]) -> tuple[JoinResult, np.ndarray]:
    """(join without unreadable images, their pixels); the decode is only repeated when one fails."""
    try:
        return join, cached_arrays(join.files, size, source.crop_fraction, progress=progress)
    except ValueError:
        join = join.without(_unreadable(join, size, source.crop_fraction))
    if len(join) == 0:
        raise TrainingError(f"no readable image in {source.images} matches a label in {source.catalog} "
                            f"({len(join.unreadable_images)} matched images could not be decoded)")
    return join, cached_arrays(join.files, size, source.crop_fraction, progress=progress)


def _join(source: Source) -> JoinResult:
    try:
        join = load_labelled_set(source.catalog, source.images)
    except (FileNotFoundError, LabelError) as exc:
        raise TrainingError(str(exc)) from exc
    if len(join) == 0:
        raise TrainingError(f"no image in {source.images} matches a label in {source.catalog} "
                            f"({len(join.missing_images)} labelled {join.labels.id_kind}s have no image)")
    return join


def prepare_data(config: TrainConfig, progress: Callable[[str], None] | None = None) -> PreparedData:
    """Join every source and load its preprocessed pixels (through the disk cache)."""
    arrays, joins = [], []
    for s_i, source in enumerate(config.sources):

        def _p(done: int, total: int, s_i: int = s_i) -> None:
            if progress:
                progress(f"preparing images of source {s_i + 1}: {done}/{total}")

        join, pixels = _source_pixels(_join(source), source, config.image_size, _p)
        joins.append(join)
        arrays.append(pixels)
    return PreparedData(
        images=np.concatenate(arrays),
        targets=np.concatenate([j.labels.targets for j in joins]),
        class_derived=np.concatenate([j.labels.class_derived for j in joins]),
        nvote=np.concatenate([j.labels.nvote for j in joins]),
        ids=np.concatenate([j.labels.ids.astype(str) for j in joins]),
        source_index=np.concatenate([np.full(len(j), i) for i, j in enumerate(joins)]),
        joins=joins)
