"""Cached models, galaxy sets and predictions shared by the Predict and Compare pages.

Models are held with ``st.cache_resource`` (one copy per run and model.pt
version, shared by all sessions); sets and predictions with ``st.cache_data``,
keyed by the run, the model file's modification time, the images' names,
sizes and modification times, and the TTA switch, so a retrained run or a
changed image is never served stale numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.config import get_settings
from core.inference.batch import predict_set
from core.inference.galaxy_sets import GalaxySet, combine_sets, demo_sets, set_from_folder, set_from_table
from core.inference.predict import load_run


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


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_predictions(run_path: str, mtime: float, signature: tuple, tta: bool,
                        _gset: GalaxySet) -> tuple[np.ndarray, list[tuple[str, str]]]:
    result = predict_set(_cached_model(run_path, mtime), _gset, tta=tta)
    return result.fractions, result.failed


def predictions_for(run_path: str, gset: GalaxySet, tta: bool) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """(fractions (N, 9) with NaN rows for unusable images, [(ID, problem)]) of a run on a set."""
    return _cached_predictions(str(run_path), model_mtime(run_path), files_signature(gset.files), tta, gset)
