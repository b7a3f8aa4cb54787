"""Predict page: "More like this", the k nearest galaxies in the embedding index that matches the run.

The index is found with :func:`core.explain.index_lookup.matching_indexes` (the run's own
``embeddings/`` folder, then the built-in demo indexes made with ``models/demo``); without one
the page says so and shows the ``embed`` command that builds it. Neighbour images are looked
up in the galaxy set on the page, then in the image folder of the set the index was made from
(``<demo_dir>/<index name>``). "Open" sets :data:`ui.state_keys.PREDICT_FOCUS`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import streamlit as st

from core.config import REPO_ROOT, get_settings
from core.explain.index_file import read_index
from core.explain.index_lookup import embed_command, image_vector, index_dirs, matching_indexes
from core.explain.similar import Query, id_queries, search
from core.images.reading import open_image
from core.inference.galaxy_sets import GalaxySet
from ui import state_keys
from ui.plain_text import md_escape

#: Neighbours shown.
DEFAULT_K = 6


@st.cache_resource(show_spinner="Reading the embedding index...", max_entries=8)
def _index(path: str, mtime: float):
    return read_index(path)


@st.cache_data(show_spinner=False, max_entries=32)
def _matching(run_path: str, mtime: float, demo_dir: str) -> list[str]:
    from ui.model_cache import model_for

    return [str(p) for p in matching_indexes(model_for(run_path), index_dirs(run_path, demo_dir))]


@st.cache_data(show_spinner=False, max_entries=256)
def _upload_vector(run_path: str, mtime: float, data: bytes, views: int) -> np.ndarray:
    from ui.model_cache import model_for

    return image_vector(model_for(run_path), open_image(data), views)


@st.cache_data(show_spinner="Embedding this galaxy...", max_entries=64)
def _file_vector(run_path: str, mtime: float, image: str, views: int) -> np.ndarray:
    """Embedding of an image file outside the index, framed as the run frames that folder."""
    from core.inference.predict import crop_for_images
    from ui.model_cache import model_for

    model = model_for(run_path)
    return image_vector(model, open_image(image), views, crop_for_images(model, Path(image).parent))


def _open(gid: str, clear_key: str | None) -> None:
    st.session_state[state_keys.PREDICT_FOCUS] = gid
    if clear_key:  # the galaxy table's selection would otherwise win over the opened galaxy
        st.session_state.pop(clear_key, None)


def _short(path: str | os.PathLike) -> str:
    """``path`` relative to the repository root (where the command is run) when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


def _image_for(gid: str, gset: GalaxySet | None, index_path: Path, demo_dir: Path) -> Path | None:
    if gset is not None and gid in gset.ids:
        return gset.files[gset.ids.index(gid)]
    folder = demo_dir / index_path.stem
    for ext in (".jpg", ".jpeg", ".png"):
        if (folder / f"{gid}{ext}").is_file():
            return folder / f"{gid}{ext}"
    return None


def show_similar(run_path: str, model, query: str | bytes, gset: GalaxySet | None,
                 images_dir: str | os.PathLike, k: int = DEFAULT_K, table_key: str | None = None,
                 key: str = "similar") -> None:
    """Thumbnails of the ``k`` galaxies nearest ``query`` (an ID in the index, or uploaded image bytes).

    A galaxy's own row is never among its neighbours. ``gset``: the set on the page (its images,
    and which neighbours "Open" can show). ``images_dir``: named in the build command.
    ``table_key``: the galaxy table's widget key, whose selection "Open" clears; ``key``: widget-key prefix.
    """
    from ui.model_cache import model_mtime

    settings = get_settings()
    mtime = model_mtime(run_path)
    found = _matching(str(run_path), mtime, str(settings.demo_dir))
    if not found:
        st.info("No embedding index was made with this run, so there are no look-alikes to show. Build one "
                "(it goes where this page looks for it), then reload:")
        st.code(embed_command(_short(run_path), _short(images_dir)), language="bash", wrap_lines=True)
        return
    path = Path(found[0])
    index = _index(str(path), os.stat(path).st_mtime)
    if isinstance(query, str) and query in index.ids:
        queries = id_queries(index, [query])
    elif isinstance(query, str):
        own = _image_for(query, gset, path, settings.demo_dir)
        if own is None:
            st.caption(f"Galaxy {md_escape(query)} is not in the index {md_escape(path.name)} and has no image "
                       "here to compare, so there are no look-alikes to show.")
            return
        st.caption(f"Galaxy {md_escape(query)} is not in the index {md_escape(path.name)}: its image was embedded "
                   "now and compared with the index.")
        queries = [Query(query, _file_vector(str(run_path), mtime, str(own), int(index.meta.get("views", 1))))]
    else:
        queries = [Query("", _upload_vector(str(run_path), mtime, bytes(query), int(index.meta.get("views", 1))))]
    rows = search(index, queries, k)
    st.caption(f"Nearest {len(rows)} of {len(index.ids):,} galaxies in {md_escape(path.name)} by cosine distance "
               "(0 = same direction) between the model's penultimate features, averaged over 4 rotations.")
    cols = st.columns(max(1, len(rows)))
    for col, (_, rank, gid, dist) in zip(cols, rows, strict=True):
        image = _image_for(gid, gset, path, settings.demo_dir)
        if image is not None:
            col.image(str(image), width="stretch")
        col.caption(f"{md_escape(gid)}  \nd = {dist:.3f}")
        can_open = gset is not None and gid in gset.ids
        col.button("Open", key=f"{key}_open|{rank}|{gid}", on_click=_open, args=(gid, table_key), disabled=not can_open,
                   help="Show this galaxy above" if can_open else "Not in the galaxies chosen on this page",
                   width="stretch")
