"""Cached models, galaxy sets and predictions shared by the Predict and Compare pages.

Models are held with ``st.cache_resource`` (one copy per run and model.pt
version, shared by all sessions); sets with ``st.cache_data``; predictions in one
shared store keyed by the run, the model file's modification time, the images'
names, sizes and modification times, and the TTA switch, so a retrained run or a
changed image is never served stale numbers. Predicting reports progress to the
page (:func:`predictions_with_progress`), which a ``st.cache_data`` function could not.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.config import get_settings
from core.inference.batch import ProgressCallback, predict_set
from core.inference.galaxy_sets import GalaxySet, combine_sets, demo_sets, set_from_folder, set_from_table
from core.inference.predict import load_run
from core.training.checkpoint import CheckpointError


def model_mtime(run_path: str) -> float:
    return os.stat(Path(run_path) / "model.pt").st_mtime


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def _cached_model(run_path: str, mtime: float):
    import torch

    torch.set_num_threads(get_settings().torch_threads)
    return load_run(run_path)


def model_for(run_path: str):
    """The run's LoadedModel, loaded once per (run, model.pt version)."""
    return _cached_model(str(run_path), model_mtime(run_path))


def loadable_runs(runs: list[tuple[str, str]]) -> list[str]:
    """The run paths of ``[(run_path, name)]`` whose model loads; a warning names each that does not.

    One damaged model.pt (truncated, pickled, weights that do not fit config.json) must not
    take the page down: its run is left out and the reason shown as text.
    """
    from ui.plain_text import md_escape

    good = []
    for path, name in runs:
        try:
            model_for(path)
        except (CheckpointError, OSError) as exc:
            reason = str(exc).replace(str(Path(path).parent) + "/", "")
            st.warning(f"Run {md_escape(name)} cannot be used: {md_escape(reason)}", icon=":material/error:")
        else:
            good.append(path)
    return good


@st.cache_data(show_spinner=False, max_entries=4)
def demo_set(demo_dir: str) -> GalaxySet | None:
    """All built-in demo sets as one set, or None when the demo data is absent."""
    sets = demo_sets(demo_dir)
    return combine_sets(sets, "built-in demo set") if sets else None


@st.cache_data(show_spinner=False, max_entries=4)
def catalog_set(table: pd.DataFrame, images_dir: str, name: str) -> GalaxySet:
    return set_from_table(table, images_dir, name)


@st.cache_data(show_spinner=False, max_entries=4)
def folder_set(images_dir: str) -> GalaxySet:
    return set_from_folder(images_dir)


def files_signature(files: list[Path]) -> tuple:
    """Names, sizes and modification times: a changed image gives a new cache key."""
    out = []
    for f in files:
        try:
            s = os.stat(f)
            out.append((str(f), s.st_size, s.st_mtime_ns))
        except OSError:
            out.append((str(f), -1, -1))
    return tuple(out)


class _PredictionStore:
    """Predictions shared by all sessions, newest :data:`MAX_PREDICTIONS` kept (keys as in the module docstring).

    Not ``st.cache_data``: the work must report progress to the page that asked for it.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple, tuple[np.ndarray, list[tuple[str, str]], np.ndarray | None]] = OrderedDict()

    def get(self, key: tuple):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: tuple, value) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > MAX_PREDICTIONS:
                self.items.popitem(last=False)


#: How many (run, set, TTA) predictions are kept in memory.
MAX_PREDICTIONS = 16


@st.cache_resource(show_spinner=False)
def _store() -> _PredictionStore:
    return _PredictionStore()


def _key(run_path: str, gset: GalaxySet, tta: bool) -> tuple:
    return str(run_path), model_mtime(run_path), files_signature(gset.files), bool(tta)


def predictions_for(run_path: str, gset: GalaxySet, tta: bool,
                    progress: ProgressCallback | None = None) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """(fractions (N, 9) with NaN rows for unusable images, [(ID, problem)]) of a run on a set.

    ``progress(done, total)`` is called while predicting (not when the result is already kept).
    """
    return _kept(run_path, gset, tta, progress)[:2]


def _kept(run_path: str, gset: GalaxySet, tta: bool, progress: ProgressCallback | None = None) -> tuple:
    key = _key(run_path, gset, tta)
    kept = _store().get(key)
    if kept is None:
        result = predict_set(model_for(run_path), gset, tta=tta, progress=progress or False)
        kept = (result.fractions, result.failed, result.uncertainty)
        _store().put(key, kept)
    return kept


def uncertainty_for(run_path: str, gset: GalaxySet, tta: bool) -> tuple[np.ndarray, np.ndarray]:
    """(TOP_P (N,), SD (N, 9)) of a run on a set, NaN where unknown (predicted once with the fractions)."""
    extra = _kept(run_path, gset, tta)[2]
    if extra is None:
        extra = np.full((len(gset), 10), np.nan, dtype=np.float32)
    return extra[:, 0], extra[:, 1:]


def predictions_with_progress(runs: list[tuple[str, str]], gset: GalaxySet, tta: bool,
                              slot) -> dict[str, tuple[np.ndarray, list[tuple[str, str]]]]:
    """Predictions of several runs ``[(run_path, name)]`` on ``gset``, keyed by run path.

    Runs not yet predicted show a progress bar with counts in ``slot`` (an ``st.empty()``
    placed at the top of the section the numbers belong to); it is cleared when done.
    """
    todo = [(p, n) for p, n in runs if _store().get(_key(p, gset, tta)) is None]
    out = {}
    for path, name in runs:
        step = next((i for i, (p, _) in enumerate(todo) if p == path), None)
        if step is None:
            out[path] = predictions_for(path, gset, tta)
            continue
        which = f" (run {step + 1} of {len(todo)})" if len(todo) > 1 else ""
        label = f"Predicting {len(gset):,} galaxies with {name}{' and TTA' if tta else ''}{which}"
        bar = slot.progress(0.0, text=f"{label}: loading the model")

        def report(done: int, total: int, bar=bar, label=label) -> None:
            bar.progress(done / total if total else 1.0, text=f"{label}: {done:,} / {total:,}")

        out[path] = predictions_for(path, gset, tta, report)
    slot.empty()
    return out
