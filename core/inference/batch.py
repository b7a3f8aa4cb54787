"""Predictions for many galaxies at once, streamed to a predictions CSV as they are made.

:func:`predict_set` runs a :class:`core.inference.predict.LoadedModel` over a
:class:`core.inference.galaxy_sets.GalaxySet` in chunks; every image goes through
:func:`core.images.reading.open_image` (an image that cannot be used is listed, not
fatal), and each chunk's rows are appended to the output CSV
(:mod:`core.inference.predictions_csv`) and flushed, so a killed run keeps what it did
and a rerun skips the IDs already written. Columns the run never learned are written
blank (``model.learned``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.csv_safety import safe_cell
from core.images.reading import ImageInputError, open_image
from core.inference.galaxy_sets import GalaxySet
from core.inference.predictions_csv import PredictionWriter, existing_ids
from core.schema import VOTE_COLUMNS

#: Images decoded and predicted per chunk (one CSV flush and one progress call per chunk).
DEFAULT_CHUNK = 256

#: ``progress(done, total)``: images handled so far (predicted or refused) out of those to do.
ProgressCallback = Callable[[int, int], None]


@dataclass
class SetPrediction:
    """Fractions (N, 9) aligned with the set (NaN rows for images that could not be used) and the failures."""

    fractions: np.ndarray
    failed: list[tuple[str, str]]  # (ID, message naming the file)
    skipped: int = 0               # IDs already present in the output CSV

    @property
    def ok(self) -> np.ndarray:
        return ~np.isnan(self.fractions).any(axis=1)


class _CropChooser:
    """Centre crop per image folder: the one given, else :func:`core.inference.predict.crop_for_images`."""

    def __init__(self, model, crop_fraction: float | None):
        self.model, self.fixed, self.cache = model, crop_fraction, {}

    def __call__(self, folder: Path) -> float | None:
        if self.fixed is not None:
            return float(self.fixed)
        if folder not in self.cache:
            from core.inference.predict import crop_for_images

            self.cache[folder] = crop_for_images(self.model, folder)
        return self.cache[folder]


def _predict_chunk(model, gset: GalaxySet, idx: np.ndarray, crop_of: _CropChooser, tta: bool,
                   batch_size: int) -> tuple[list[int], np.ndarray, list[tuple[str, str]]]:
    """Open and predict the galaxies at ``idx``: (positions predicted, their (n, 9) fractions, failures)."""
    images, good, failed = [], [], []
    for i in idx:
        try:
            images.append(open_image(gset.files[i]))
            good.append(int(i))
        except ImageInputError as exc:
            failed.append((gset.ids[i], str(exc)))
    pred = np.empty((len(good), len(VOTE_COLUMNS)), dtype=np.float32)
    crops = [crop_of(gset.files[i].parent) for i in good]  # None = framed by the galaxy
    for crop in dict.fromkeys(crops):
        sel = np.flatnonzero([c == crop for c in crops])
        pred[sel] = model.predict([images[k] for k in sel], tta=tta, batch_size=batch_size, crop_fraction=crop)
    return good, pred, failed


def still_to_do(gset: GalaxySet, out_csv: str | os.PathLike | None) -> np.ndarray:
    """Positions whose ID is not yet in ``out_csv`` (IDs are compared as written, formula-safe)."""
    todo = np.arange(len(gset))
    done_ids = existing_ids(out_csv) if out_csv is not None else set()
    if not done_ids:
        return todo
    return todo[np.array([safe_cell(i) not in done_ids for i in gset.ids], dtype=bool)]


def predict_set(
    model,
    gset: GalaxySet,
    *,
    tta: bool = False,
    out_csv: str | os.PathLike | None = None,
    batch_size: int = 64,
    chunk: int = DEFAULT_CHUNK,
    crop_fraction: float | None = None,
    progress: bool | ProgressCallback = False,
) -> SetPrediction:
    """Predict every galaxy of ``gset`` with ``model`` (a core.inference.predict.LoadedModel).

    ``out_csv``: stream rows there (header once; rows appended and flushed per chunk;
    IDs already in the file are skipped and counted; unlearned columns blank).
    ``crop_fraction``: centre crop (fraction of the shorter side) for every image; None =
    the crop the run was trained with for that image folder, else the run's default.
    ``progress``: True for a tqdm bar on stderr, or a callable ``(done, total)`` called
    once before the first chunk and after every chunk.
    """
    fractions = np.full((len(gset), len(VOTE_COLUMNS)), np.nan, dtype=np.float32)
    failed: list[tuple[str, str]] = []
    todo = still_to_do(gset, out_csv)
    crop_of = _CropChooser(model, crop_fraction)
    report = _progress_reporter(progress, len(todo), gset.name)
    writer = PredictionWriter(out_csv, getattr(model, "learned", None)) if out_csv is not None else None
    try:
        if writer is not None:
            writer.__enter__()
        report(0)
        for start in range(0, len(todo), chunk):
            good, pred, bad = _predict_chunk(model, gset, todo[start:start + chunk], crop_of, tta, batch_size)
            failed += bad
            fractions[good] = pred
            if writer is not None and good:
                writer.write([gset.ids[i] for i in good], [gset.files[i].name for i in good], pred)
            report(min(start + chunk, len(todo)))
    finally:
        if writer is not None:
            writer.__exit__(None, None, None)
        report(None)
    return SetPrediction(fractions, failed, len(gset) - len(todo))


def _progress_reporter(progress: bool | ProgressCallback, total: int, name: str) -> Callable[[int | None], None]:
    """``report(done)`` for the chosen progress display; ``report(None)`` closes it."""
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="img", desc=f"predict {name}")

        def report_bar(done: int | None) -> None:
            if done is None:
                bar.close()
            else:
                bar.update(done - bar.n)
        return report_bar
    if callable(progress):
        return lambda done: None if done is None else progress(done, total)
    return lambda done: None


def predict_one(model, image_source, name: str | None = None, *, tta: bool = False,
                crop_fraction: float | None = None) -> np.ndarray:
    """Nine fractions (VOTE_COLUMNS order) for one image path, bytes or upload; the page/CLI path.

    Crop as in :func:`predict_set`: for a path with ``crop_fraction=None``, the crop the
    run used for that folder; for bytes/uploads, the run's default crop.
    """
    if crop_fraction is None and isinstance(image_source, (str, os.PathLike)):
        from core.inference.predict import crop_for_images

        crop_fraction = crop_for_images(model, Path(image_source).parent)
    return model.predict([open_image(image_source, name)], tta=tta, crop_fraction=crop_fraction)[0]
