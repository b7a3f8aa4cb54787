"""Predictions for many galaxies at once, streamed to a predictions CSV as they are made.

:func:`predict_set` runs a :class:`core.inference.predict.LoadedModel` over a
:class:`core.inference.galaxy_sets.GalaxySet` in chunks; every image goes through
:func:`core.images.reading.open_image` (an image that cannot be used is listed, not
fatal), and each chunk's rows are appended to the output CSV
(:mod:`core.inference.predictions_csv`) and flushed, so a killed run keeps what it did
and a rerun skips the IDs already written. Columns the run never learned are written
blank (``model.learned``).

Decoding and framing overlap the model: while the model runs on one chunk, a pool of
threads (``workers``) opens and prepares the next one (Pillow's decoder and most of
numpy release the GIL). Threads, not processes, so it also runs inside a Dask worker,
whose daemonic processes cannot start children. The rows, their order and their values
are those of the one-after-another path (``workers=0``): each image is prepared alone
and the model sees the same batches.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.csv_safety import safe_cell
from core.images.reading import ImageInputError, open_image
from core.inference.galaxy_sets import GalaxySet
from core.inference.predictions_csv import OUTPUT_COLUMNS, PredictionWriter, existing_ids
from core.schema import VOTE_COLUMNS

#: Images decoded and predicted per chunk (one CSV flush and one progress call per chunk).
DEFAULT_CHUNK = 256

#: ``progress(done, total)``: images handled so far (predicted or refused) out of those to do.
ProgressCallback = Callable[[int, int], None]


@dataclass
class SetPrediction:
    """Fractions (N, 9) aligned with the set (NaN rows for images that could not be used) and the failures.

    ``uncertainty`` (N, 10): TOP_P then the nine SDs (OUTPUT_COLUMNS after the fractions), NaN
    where unknown; None when the prediction carried none.
    """

    fractions: np.ndarray
    failed: list[tuple[str, str]]  # (ID, message naming the file)
    skipped: int = 0               # IDs already present in the output CSV
    uncertainty: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        return ~np.isnan(self.fractions).any(axis=1)

    @property
    def top_p(self) -> np.ndarray:
        """(N,) TOP_P (NaN where unknown)."""
        if self.uncertainty is None:
            return np.full(len(self.fractions), np.nan, dtype=np.float32)
        return self.uncertainty[:, 0]

    @property
    def sd(self) -> np.ndarray:
        """(N, 9) one SD per fraction (NaN where unknown)."""
        if self.uncertainty is None:
            return np.full_like(self.fractions, np.nan)
        return self.uncertainty[:, 1:]


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


def open_chunk(gset: GalaxySet, idx: np.ndarray) -> tuple[list, list[int], list[tuple[str, str]]]:
    """Open the galaxies at ``idx`` upright: (images, their positions, (ID, reason) of those refused)."""
    images, good, failed = [], [], []
    for i in idx:
        try:
            images.append(open_image(gset.files[i]))
            good.append(int(i))
        except ImageInputError as exc:
            failed.append((gset.ids[i], str(exc)))
    return images, good, failed


def _predict_chunk(model, gset: GalaxySet, idx: np.ndarray, crop_of: _CropChooser, tta: bool,
                   batch_size: int) -> tuple[list[int], np.ndarray, list[tuple[str, str]]]:
    """Open and predict the galaxies at ``idx``: (positions predicted, their (n, 19) outputs, failures)."""
    images, good, failed = open_chunk(gset, idx)
    pred = np.empty((len(good), len(OUTPUT_COLUMNS)), dtype=np.float32)
    crops = [crop_of(gset.files[i].parent) for i in good]  # None = framed by the galaxy
    for crop in dict.fromkeys(crops):
        sel = np.flatnonzero([c == crop for c in crops])
        pred[sel] = model.predict_outputs_prepared(model.prepare([images[k] for k in sel], crop), tta=tta,
                                                   batch_size=batch_size)
    return good, pred, failed


def _open_and_prepare(model, path: Path, crop_fraction: float | None) -> tuple[np.ndarray | None, str | None]:
    """(prepared uint8 (S, S, 3), None) for one image file, or (None, the message naming it) if refused."""
    try:
        return model.prepare([open_image(path)], crop_fraction)[0], None
    except ImageInputError as exc:
        return None, str(exc)


@dataclass
class _SubmittedChunk:
    """One chunk handed to the preparing threads: positions, crop per image, one future per image."""

    idx: np.ndarray
    crops: list[float | None]
    futures: list[Future]


def _submit_chunk(pool: ThreadPoolExecutor, model, gset: GalaxySet, idx: np.ndarray,
                  crop_of: _CropChooser) -> _SubmittedChunk:
    crops = [crop_of(gset.files[i].parent) for i in idx]  # here: the crop cache is not shared between threads
    return _SubmittedChunk(idx, crops, [pool.submit(_open_and_prepare, model, gset.files[i], c)
                                        for i, c in zip(idx, crops, strict=True)])


def _finish_chunk(model, gset: GalaxySet, chunk: _SubmittedChunk, tta: bool,
                  batch_size: int) -> tuple[list[int], np.ndarray, list[tuple[str, str]]]:
    """As :func:`_predict_chunk`, on images the pool prepares; each batch runs as soon as its images are ready.

    A batch is the next ``batch_size`` usable images of one crop, in chunk order, exactly as
    :func:`_predict_chunk` cuts them, so every forward pass sees the same images.
    """
    good, failed = [], []
    waiting: dict[float | None, tuple[list[int], list[np.ndarray]]] = {}  # crop -> (rows in good, arrays)
    done: list[tuple[list[int], np.ndarray]] = []
    for i, crop, future in zip(chunk.idx, chunk.crops, chunk.futures, strict=True):
        array, problem = future.result()
        if problem is not None:
            failed.append((gset.ids[i], problem))
            continue
        rows, arrays = waiting.setdefault(crop, ([], []))
        rows.append(len(good))
        arrays.append(array)
        good.append(int(i))
        if len(arrays) == batch_size:
            done.append((rows, model.predict_outputs_prepared(np.stack(arrays), tta=tta, batch_size=batch_size)))
            del waiting[crop]
    for rows, arrays in waiting.values():
        done.append((rows, model.predict_outputs_prepared(np.stack(arrays), tta=tta, batch_size=batch_size)))
    pred = np.empty((len(good), len(OUTPUT_COLUMNS)), dtype=np.float32)
    for rows, fractions in done:
        pred[rows] = fractions
    return good, pred, failed


def _overlapped_chunks(model, gset: GalaxySet, todo: np.ndarray, chunk: int, crop_of: _CropChooser, tta: bool,
                       batch_size: int, workers: int):
    """Yield ``(done, (good, pred, failed))`` per chunk; chunk k+1 is prepared while the model runs on chunk k."""
    starts = range(0, len(todo), chunk)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gz-prepare")
    try:
        ahead = _submit_chunk(pool, model, gset, todo[:chunk], crop_of) if len(todo) else None
        for start in starts:
            current = ahead
            nxt = start + chunk
            ahead = _submit_chunk(pool, model, gset, todo[nxt:nxt + chunk], crop_of) if nxt < len(todo) else None
            yield min(nxt, len(todo)), _finish_chunk(model, gset, current, tta, batch_size)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_CORES_LOCK = threading.Lock()
_CORES = {"runs": 0, "budget": 0}  # overlapped runs in this process; torch's thread count before the first


@contextmanager
def shared_cores(workers: int | None = None) -> Iterator[int]:
    """Split this process's cores between the model and the preparing threads; yield the thread count.

    The budget is ``torch.get_num_threads()`` as the caller set it (``GZ_TORCH_THREADS``,
    or the Dask worker's ``nthreads``). While overlapped runs are active, torch uses half of
    it (at least 1: its forward passes on small batches scale poorly) and ``workers`` threads
    (None: as many as the budget) decode and frame; the caller's count is restored after
    the last run ends, so concurrent runs (dashboard sessions) do not lower it for good.
    ``workers=0`` changes nothing (the one-after-another path).
    """
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be 0 (one after another) or more, got {workers}")
    if workers == 0:
        yield 0
        return
    import torch

    with _CORES_LOCK:
        if not _CORES["runs"]:
            _CORES["budget"] = torch.get_num_threads()
        _CORES["runs"] += 1
        budget = _CORES["budget"]
        torch.set_num_threads(max(1, budget // 2))
    try:
        yield budget if workers is None else workers
    finally:
        with _CORES_LOCK:
            _CORES["runs"] -= 1
            if not _CORES["runs"]:
                torch.set_num_threads(budget)


def still_to_do(gset: GalaxySet, out_csv: str | os.PathLike | None,
                done_ids: set[str] | None = None) -> np.ndarray:
    """Positions whose ID is not yet in ``out_csv`` (IDs are compared as written, formula-safe).

    ``done_ids``: IDs already done in some other output (e.g. an embedding parquet), compared
    as they are; used instead of ``out_csv``.
    """
    todo = np.arange(len(gset))
    if done_ids is not None:
        return todo[np.array([i not in done_ids for i in gset.ids], dtype=bool)] if done_ids else todo
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
    workers: int | None = None,
) -> SetPrediction:
    """Predict every galaxy of ``gset`` with ``model`` (a core.inference.predict.LoadedModel).

    ``out_csv``: stream rows there (header once; rows appended and flushed per chunk;
    IDs already in the file are skipped and counted; unlearned columns blank).
    ``crop_fraction``: centre crop (fraction of the shorter side) for every image; None =
    the crop the run was trained with for that image folder, else the run's default.
    ``progress``: True for a tqdm bar on stderr, or a callable ``(done, total)`` called
    once before the first chunk and after every chunk.
    ``workers``: threads that open and frame the next chunk while the model runs on this
    one (None: as many as torch had threads, see :func:`shared_cores`); 0 = one after
    another in this thread (the old path).
    """
    with shared_cores(workers) as threads:
        return _predict_set(model, gset, tta, out_csv, batch_size, chunk, crop_fraction, progress, threads)


def _predict_set(model, gset: GalaxySet, tta: bool, out_csv, batch_size: int, chunk: int,
                 crop_fraction: float | None, progress: bool | ProgressCallback, workers: int) -> SetPrediction:
    outputs = np.full((len(gset), len(OUTPUT_COLUMNS)), np.nan, dtype=np.float32)
    failed: list[tuple[str, str]] = []
    todo = still_to_do(gset, out_csv)
    crop_of = _CropChooser(model, crop_fraction)
    report = _progress_reporter(progress, len(todo), gset.name)
    writer = PredictionWriter(out_csv, getattr(model, "learned", None)) if out_csv is not None else None
    chunks = None
    try:
        if writer is not None:
            writer.__enter__()
        report(0)
        if workers:
            chunks = _overlapped_chunks(model, gset, todo, chunk, crop_of, tta, batch_size, workers)
        else:
            chunks = ((min(s + chunk, len(todo)), _predict_chunk(model, gset, todo[s:s + chunk], crop_of, tta,
                                                                 batch_size)) for s in range(0, len(todo), chunk))
        for done, (good, pred, bad) in chunks:
            failed += bad
            outputs[good] = pred
            if writer is not None and good:
                writer.write([gset.ids[i] for i in good], [gset.files[i].name for i in good], pred)
            report(done)
    finally:
        if chunks is not None:
            chunks.close()  # stops the preparing threads now, not when the generator is collected
        if writer is not None:
            writer.__exit__(None, None, None)
        report(None)
    n9 = len(VOTE_COLUMNS)
    return SetPrediction(outputs[:, :n9], failed, len(gset) - len(todo), uncertainty=outputs[:, n9:])


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
    """(19,) outputs for one image path, bytes or upload: nine fractions (VOTE_COLUMNS order), TOP_P,
    nine SDs (OUTPUT_COLUMNS); the page/CLI path.

    Crop as in :func:`predict_set`: for a path with ``crop_fraction=None``, the crop the
    run used for that folder; for bytes/uploads, the run's default crop.
    """
    if crop_fraction is None and isinstance(image_source, (str, os.PathLike)):
        from core.inference.predict import crop_for_images

        crop_fraction = crop_for_images(model, Path(image_source).parent)
    prepared = model.prepare([open_image(image_source, name)], crop_fraction)
    return model.predict_outputs_prepared(prepared, tta=tta)[0]
