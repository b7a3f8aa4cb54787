"""The galaxies picked with box/lasso on the Explore page's embedding map, for the other pages.

A sibling of the sky-map selection (:mod:`ui.catalog_state`), held the same way in the
session (:data:`ui.state_keys.MAP_SELECTION`), so it outlives a visit to another page::

    from ui.embedding_selection import current_map_selection, only_map_selection_set

    picked = current_map_selection()          # MapSelection or None (nothing selected)
    gset = only_map_selection_set(gset, key)  # Predict/Compare: a toggle, then only the picked galaxies
    sources = only_map_selection_sources(settings, sources)  # Train: only their label rows

Only the Explore page writes (:func:`set_map_selection`, :func:`clear_map_selection`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from core.atomic import write_bytes_atomic
from core.config import Settings
from core.inference.galaxy_sets import GalaxySet
from core.training.train_config import Source
from ui import state_keys

#: Where the toggles send people to change the selection.
PAGE_NAME = "Explore"


@dataclass(frozen=True)
class MapSelection:
    """``ids`` picked on the map (map order) and ``label``: which embedding files the map showed."""

    ids: tuple[str, ...]
    label: str

    def __len__(self) -> int:
        return len(self.ids)


def current_map_selection() -> MapSelection | None:
    """The embedding-map selection of this session, or None when nothing is selected."""
    picked = st.session_state.get(state_keys.MAP_SELECTION)
    return picked if isinstance(picked, MapSelection) and len(picked) else None


def set_map_selection(ids: Sequence[str], label: str) -> None:
    st.session_state[state_keys.MAP_SELECTION] = MapSelection(tuple(str(i) for i in ids), label)


def clear_map_selection() -> None:
    st.session_state.pop(state_keys.MAP_SELECTION, None)


def _toggle(n: int, key: str, what: str) -> bool:
    return st.toggle(f"Only the {n:,} galaxies selected on the embedding map", value=True, key=key,
                     help=f"Drawn with box or lasso on the **{PAGE_NAME}** page. Turn this off, or clear the "
                          f"selection there, to {what} every galaxy of the set.")


def only_map_selection_set(gset: GalaxySet | None, key: str = state_keys.MAP_ONLY_PREDICT) -> GalaxySet | None:
    """``gset`` cut to the embedding-map selection when the visitor keeps the toggle on (drawn only when
    the selection holds galaxies of ``gset``); ``gset`` unchanged otherwise."""
    picked = current_map_selection()
    if gset is None or picked is None:
        return gset
    chosen = set(picked.ids)
    mask = np.array([i in chosen for i in gset.ids], dtype=bool)
    if not mask.any() or not _toggle(int(mask.sum()), key, "use"):
        return gset
    return gset.subset(mask)


def only_map_selection_sources(settings: Settings, sources: list[Source],
                               key: str = state_keys.MAP_ONLY_TRAIN) -> list[Source]:
    """``sources`` with their label rows cut to the embedding-map selection when the toggle is on.

    Each cut label file is stored under the catalogues folder by content hash (one per source that keeps
    any row); sources without a selected galaxy are left out. Unchanged when nothing selected is in them.
    """
    from core.explain.selection import labels_subset

    picked = current_map_selection()
    if picked is None:
        return sources
    cut: list[tuple[Source, bytes, int]] = []
    for s in sources:
        try:
            data, n = labels_subset(s.catalog, picked.ids)
        except (OSError, ValueError):
            continue
        if n:
            cut.append((s, data, n))
    total = sum(n for _, _, n in cut)
    if not total or not _toggle(total, key, "train on"):
        return sources
    out = []
    for s, data, _ in cut:
        path = settings.catalogs_dir / f"map_selection_{hashlib.sha256(data).hexdigest()[:12]}.csv"
        if not path.exists():
            write_bytes_atomic(path, data)
        out.append(Source(str(path), s.images, s.crop_fraction))
    st.caption(f"Training on {total:,} selected galaxies' labels from "
               f"{', '.join(Path(s.catalog).parent.name for s, _, _ in cut)}.")
    return out
