"""The one catalogue every page works with: the upload cleaned on the Catalog page, else the built-in sample.

API (use these instead of reading ``st.session_state`` keys directly)::

    from ui.catalog_state import current_catalog, current_selection, selected_table

    catalog = current_catalog()      # CurrentCatalog, or None only if the built-in sample can't be read
    catalog.result                   # core.catalog CatalogResult (clean ``table``, ``report``, ``rejected``)
    catalog.table                    # shortcut for catalog.result.table
    catalog.name                     # display name: the uploaded file's name or "built-in sample (...)"
    catalog.is_sample                # True while no upload replaced the built-in sample
    load_mapped_catalog()            # the built-in galaxies that the built-in images show (Catalog page button)
    catalog.digest                   # content key; changes whenever the catalogue changes
    current_selection()              # list[str] of OBJIDs lassoed on the sky map ([] = nothing selected)
    selected_table(catalog)          # clean rows in the selection (all rows when nothing is selected)
    is_mapped(catalog)               # True for the built-in galaxies with images (load_mapped_catalog)
    labelled_rows(catalog, rows)     # rows with their human labels (the mapped set's come from its labels.csv)

Only the Catalog page writes: ``set_catalog(result, digest, is_sample)`` (which clears the selection
when the catalogue changes), ``set_selection(objids)`` and ``forget_catalog()``. Names shown in the page are user-supplied:
pass them through ``ui.plain_text.md_escape`` wherever Markdown renders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from core.catalog.reader import CatalogReadError, CatalogResult, load_catalog, load_sample, select_rows
from core.config import get_settings
from core.images.matching import mapped_catalog, mapped_dir
from ui import state_keys


@dataclass(frozen=True)
class CurrentCatalog:
    """The catalogue in use: its validated result, display name, origin and content key."""

    result: CatalogResult
    name: str
    is_sample: bool
    digest: str

    @property
    def table(self) -> pd.DataFrame:
        return self.result.table


@st.cache_data(max_entries=2, show_spinner=False)
def _parse_sample(digest: str) -> CatalogResult:
    """The built-in sample; ``digest`` names the file and its modification time."""
    return load_sample()


def sample_digest() -> str:
    """Content key of the built-in sample (path and modification time)."""
    path = get_settings().sample_catalog
    return f"sample:{path}:{path.stat().st_mtime_ns if path.exists() else 0}"


def load_sample_catalog() -> CurrentCatalog:
    """The built-in sample as a CurrentCatalog (parsed once per server). Raises CatalogReadError."""
    digest = sample_digest()
    result = _parse_sample(digest)
    return CurrentCatalog(result, result.name, True, digest)


#: Display name of the built-in catalogue whose galaxies the built-in images (core.images.matching) show.
MAPPED_NAME = "built-in galaxies with images"


@st.cache_data(max_entries=2, show_spinner=False)
def _parse_mapped(digest: str) -> CatalogResult:
    """The built-in catalogue of the built-in images; ``digest`` names the file and its modification time."""
    return load_catalog(mapped_catalog(), name=MAPPED_NAME)


def mapped_digest() -> str:
    """Content key of the built-in catalogue of the built-in images (path and modification time)."""
    path = mapped_catalog()
    return f"mapped:{path}:{path.stat().st_mtime_ns if path.exists() else 0}"


def load_mapped_catalog() -> CurrentCatalog:
    """The built-in galaxies that have built-in images (real positions), as a CurrentCatalog.

    Raises CatalogReadError or OSError when the shipped file cannot be read."""
    digest = mapped_digest()
    return CurrentCatalog(_parse_mapped(digest), MAPPED_NAME, False, digest)


#: The built-in mapped galaxies' labels (the source's class, GZ1 fractions where known), beside their catalogue.
MAPPED_LABELS = "labels.csv"


def mapped_labels_path() -> Path:
    """``<data_dir>/sample/mapped/labels.csv``: OBJID, CLASS, CLASS_NAME, FILE, ... of the built-in images."""
    return mapped_dir() / MAPPED_LABELS


def is_mapped(catalog: CurrentCatalog) -> bool:
    """True when ``catalog`` is the built-in galaxies with images (Catalog page button)."""
    return catalog.digest.startswith("mapped:") and catalog.digest == mapped_digest()


@st.cache_data(max_entries=2, show_spinner=False)
def _mapped_labels(digest: str) -> pd.DataFrame:
    """The mapped labels CSV as text; ``digest`` names the file and its modification time."""
    return pd.read_csv(mapped_labels_path(), dtype=str, keep_default_na=False)


def labelled_rows(catalog: CurrentCatalog, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """``rows`` of ``catalog`` (default: :func:`selected_table`) with their human labels.

    A catalogue carries its own vote fractions; the built-in galaxies with images have none in their
    catalogue (OBJID, RA, DEC only), so their rows of the shipped ``labels.csv`` are returned instead
    (same OBJIDs; CLASS_NAME, a class-derived label, and GZ1 fractions for the one galaxy that has them).
    Falls back to ``rows`` when that file cannot be read."""
    rows = selected_table(catalog) if rows is None else rows
    if not is_mapped(catalog):
        return rows
    path = mapped_labels_path()
    try:
        labels = _mapped_labels(f"{path}:{path.stat().st_mtime_ns}")
    except (OSError, ValueError):
        return rows
    return labels[labels["OBJID"].str.strip().isin(set(rows["OBJID"].astype(str).str.strip()))].reset_index(drop=True)


def current_catalog() -> CurrentCatalog | None:
    """The session's catalogue, else the built-in sample; None only when the sample can't be read."""
    result = st.session_state.get(state_keys.CATALOG)
    if result is not None:
        return CurrentCatalog(result, str(st.session_state.get(state_keys.CATALOG_SOURCE) or result.name),
                              bool(st.session_state.get(state_keys.CATALOG_IS_SAMPLE, False)),
                              str(st.session_state.get(state_keys.CATALOG_DIGEST) or ""))
    try:
        return load_sample_catalog()
    except (CatalogReadError, OSError):
        return None


def set_catalog(result: CatalogResult, digest: str, is_sample: bool) -> None:
    """Make ``result`` the session's catalogue; a different catalogue clears the sky-map selection."""
    if st.session_state.get(state_keys.CATALOG_DIGEST) != digest:
        st.session_state[state_keys.SKY_SELECTION] = []
    st.session_state[state_keys.CATALOG] = result
    st.session_state[state_keys.CATALOG_SOURCE] = result.name
    st.session_state[state_keys.CATALOG_DIGEST] = digest
    st.session_state[state_keys.CATALOG_IS_SAMPLE] = is_sample


def forget_catalog() -> None:
    """Drop the session's catalogue and selection: every page falls back to the built-in sample."""
    for key in (state_keys.CATALOG, state_keys.CATALOG_SOURCE, state_keys.CATALOG_DIGEST,
                state_keys.CATALOG_IS_SAMPLE, state_keys.SKY_SELECTION):
        st.session_state.pop(key, None)


def current_selection() -> list[str]:
    """OBJIDs picked with box/lasso on the Catalog page's sky map ([] when nothing is selected)."""
    return [str(x) for x in st.session_state.get(state_keys.SKY_SELECTION) or []]


def set_selection(objids: Iterable[str]) -> None:
    st.session_state[state_keys.SKY_SELECTION] = [str(x) for x in objids]


def selected_table(catalog: CurrentCatalog) -> pd.DataFrame:
    """Clean rows of ``catalog`` in the sky-map selection, or all of them when nothing is selected."""
    chosen = current_selection()
    return select_rows(catalog.table, chosen) if chosen else catalog.table
