"""The Explore page's inputs: which embedding files to map, their projection, and the model that made them.

Cached per file set and modification times (:func:`projection_for`) and per weights hash and run
folders' model.pt times (:func:`run_for`), so reruns (a click, a colour change) cost nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.config import REPO_ROOT, get_settings
from core.explain.projection import Projection, project_files
from ui import state_keys
from ui.plain_text import md_escape


def _run_dirs() -> list[str]:
    from core.inference.runs import run_folder_paths

    return [str(p) for folder in get_settings().run_folders for p in run_folder_paths(Path(folder))]


def _short(text: str) -> str:
    """Paths in messages relative to the repository (the built-in files), else as they are."""
    return text.replace(str(REPO_ROOT) + "/", "")


@st.cache_data(show_spinner="Projecting the embeddings...", max_entries=8)
def _projection(paths: tuple[str, ...], stamps: tuple[int, ...]) -> Projection:
    return project_files(paths)


def projection_for(paths: list[str]) -> Projection:
    """The PCA map of ``paths`` (raises IndexFileError / ProjectionError naming the file)."""
    return _projection(tuple(paths), tuple(os.stat(p).st_mtime_ns for p in paths))


@st.cache_data(show_spinner=False, max_entries=16)
def _run_for(sha: str, stamp: tuple) -> str | None:
    from core.explain.index_lookup import run_with_weights

    found = run_with_weights(sha, [run for run, _ in stamp])
    return str(found) if found else None


def run_for(sha256: str) -> str | None:
    """The run folder (yours or shipped) whose model.pt made the files, or None."""
    stamp = tuple((r, os.stat(Path(r) / "model.pt").st_mtime_ns) for r in _run_dirs())
    return _run_for(str(sha256), stamp)


def file_label(path: str, meta: dict) -> str:
    return f"{Path(path).name} (model {Path(str(meta.get('model_run'))).name}, {str(meta.get('model_sha256'))[:8]})"


def choose_files() -> list[str]:
    """The multiselect of embedding files (default: every file of the first file's model); a warning names
    each file that is not a usable index. Stops the page when there is none."""
    from core.explain.index_lookup import find_indexes, map_folders
    from ui.credits import show_credit

    files, refused = find_indexes(map_folders(get_settings().demo_dir, _run_dirs()))
    for reason in refused:
        st.warning(f"Skipped: {md_escape(_short(reason))}", icon=":material/error:")
    if not files:
        st.info("No embedding file to map. Build one with `python -m core embed --model RUN --images DIR "
                "--out RUN/embeddings/NAME.parquet`, then reload.")
        show_credit()
        st.stop()
    first_sha = next(iter(files.values())).get("model_sha256")
    default = [p for p, m in files.items() if m.get("model_sha256") == first_sha]
    kept = [p for p in st.session_state.get(state_keys.MAP_FILES) or [] if p in files]
    if kept != (st.session_state.get(state_keys.MAP_FILES) or []):
        st.session_state.pop(state_keys.MAP_FILES, None)  # a file went away: start from the default
        kept = []
    return st.multiselect("Embedding files", list(files), default=kept or default, key=state_keys.MAP_FILES,
                          format_func=lambda p: file_label(p, files[p]),
                          help="Files written by `gz embed`, found in the built-in demo data and in each run's "
                               "`embeddings/` folder. Files of one model can be mapped together; the built-in "
                               "ones cover the demo set (GZ1 subject images and spin-labelled cutouts).")


def short_error(exc: Exception) -> str:
    return md_escape(_short(str(exc)))
