"""The Train page's data step: which labelled images to train on, and how well labels and images match.

Labels come from the built-in demo set, the current catalogue (the built-in sample
included, via :mod:`ui.catalog_state`), an uploaded CSV or a CSV path on the server.
Every typed path goes through :func:`core.paths.confine`; error messages never
quote a file's contents, and user-supplied names are shown as text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from core.atomic import write_bytes_atomic
from core.config import Settings
from core.images.matching import match_images
from core.labels.join import JoinResult, load_labelled_set
from core.labels.targets import LabelError
from core.paths import PathNotAllowed, confine, display_path
from core.schema import VOTE_COLUMNS, LabelKind
from core.training.prepare import is_validation
from core.training.run_figures import SMALL_N
from core.training.train_config import Source, TrainConfig, demo_sources
from core.wording import count
from ui import state_keys
from ui.catalog_state import (
    MAPPED_LABELS,
    current_catalog,
    current_selection,
    is_mapped,
    labelled_rows,
    mapped_labels_path,
    selected_table,
)
from ui.embedding_selection import only_map_selection_sources
from ui.plain_text import md_escape
from ui.train_run_view import code_span
from ui.visitor_votes_input import VISITOR_VOTES, choose_visitor_vote_sources

DEMO, CATALOGUE, UPLOAD, SERVER_PATH = ("Built-in demo set", "Current catalogue", "Upload a labels CSV",
                                        "Labels CSV on this computer")
LABELS_HELP = ("Labels may be vote fractions (any GZ1 catalogue form), partial fractions (e.g. only P_CW, P_ACW) "
               "or a CLASS_NAME column, used as a one-hot target and marked class-derived. Each row needs an "
               "OBJID (or a FILE name) that matches an image <ID>.jpg in the image folder.")


@st.cache_resource(show_spinner="Matching labels to images…", max_entries=8)
def _join(catalog: str, images: str, stamp: tuple) -> JoinResult:
    """Labels joined to images, held across reruns (``stamp`` changes when the files change)."""
    return load_labelled_set(catalog, images)


def file_stamp(*paths: str) -> tuple:
    """(mtime, size) of each path, None where it cannot be read: a cache key that follows file changes."""
    out = []
    for p in paths:
        try:
            st_ = Path(p).stat()
            out.append((st_.st_mtime_ns, st_.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


#: session_state key: saved CSV path -> the name the visitor knows it by (catalogue or uploaded file name).
SHOWN_NAMES = "train_shown_names"


def _saved_csv(settings: Settings, prefix: str, data: bytes, shown: str) -> str:
    """Store ``data`` under the catalogues folder by content hash and return its path (shown as ``shown``)."""
    path = settings.catalogs_dir / f"{prefix}_{hashlib.sha256(data).hexdigest()[:12]}.csv"
    if not path.exists():
        write_bytes_atomic(path, data)
    st.session_state.setdefault(SHOWN_NAMES, {})[str(path)] = shown
    return str(path)


def shown_name(catalog: str) -> str:
    """The name to show for a labels CSV: the catalogue's or upload's own name, not the stored copy's."""
    return st.session_state.get(SHOWN_NAMES, {}).get(str(catalog)) or Path(catalog).name


def _catalogue_labels(settings: Settings) -> str | None:
    """The current catalogue's labels as a CSV path (the sky-map selection's rows when asked), or None."""
    catalog = current_catalog()
    if catalog is None:
        st.error("The built-in sample catalogue cannot be read; pick another option.")
        return None
    rows, picked = catalog.table, current_selection()
    if picked and st.toggle(f"Only the {len(picked):,} galaxies selected on the sky map", value=True,
                            key="train_only_selection", help="Clear the selection on the **Catalog** page, or "
                                                             "turn this off, to train on the whole catalogue."):
        rows = selected_table(catalog)
    labels = labelled_rows(catalog, rows)
    what = f"{len(rows):,} of its {len(catalog.table):,} rows (the sky-map selection)" if len(rows) < len(
        catalog.table) else f"{len(rows):,} rows"
    if is_mapped(catalog):
        st.caption(f"Catalogue: {md_escape(catalog.name)}, {what}. Their labels come from "
                   f"{code_span(display_path(mapped_labels_path()))}: the source's class (used class-derived, "
                   "one-hot) and the GZ1 vote fractions where known. Their images: **Images** page, *Import the "
                   "built-in images*.")
        shown = f"{catalog.name} ({MAPPED_LABELS})"
    else:
        st.caption(f"Catalogue: {md_escape(catalog.name)}, {what}"
                   + (" (the built-in sample; load another on the **Catalog** page)." if catalog.is_sample else "."))
        shown = catalog.name
        if not any(c in labels.columns for c in (*VOTE_COLUMNS, "CLASS_NAME", "CLASS")):
            st.info(f"{md_escape(catalog.name)} has no vote fractions and no class column, so it cannot label "
                    "images. Load a catalogue with GZ1 vote fractions on the **Catalog** page, or pick another "
                    "labels option.", icon=":material/label_off:")
            return None
    # Every column, so the labels' description counts the table's columns, not a subset's.
    return _saved_csv(settings, "train_labels", labels.to_csv(index=False).encode(), shown)


def _labels_path(settings: Settings, choice: str) -> str | None:
    if choice == CATALOGUE:
        return _catalogue_labels(settings)
    if choice == UPLOAD:
        upload = st.file_uploader("Labels CSV", type=["csv"], key="train_labels_upload", help=LABELS_HELP)
        return (_saved_csv(settings, "uploaded_labels", upload.getvalue(), upload.name)
                if upload is not None else None)
    typed = st.text_input("Labels CSV path", key="train_catalog_path", placeholder="data/…/labels.csv",
                          help="A CSV file inside the folders this dashboard may use. " + LABELS_HELP)
    if not typed.strip():
        return None
    try:
        return str(confine(typed, "Labels CSV path", settings))
    except PathNotAllowed as exc:
        st.error(md_escape(exc))
        return None


def choose_sources(settings: Settings) -> list[Source]:
    """Draw the label and image-folder inputs; the labelled sets chosen ([] until they are usable)."""
    choice = st.radio("Labels", (DEMO, CATALOGUE, UPLOAD, SERVER_PATH, VISITOR_VOTES), horizontal=True,
                      key="train_data_choice",
                      help="The demo set is a class-balanced subset of GZ1 images plus spin-labelled SDSS "
                           "cutouts, shipped with the app. " + LABELS_HELP)
    if choice == DEMO:
        sources = demo_sources()
        st.caption(f"Demo set in {code_span(display_path(settings.demo_dir))}: GZ1 subject images (class "
                   "labels) + spin-labelled 0.2″/px cutouts (P_CW, P_ACW, NVOTE).")
        return only_map_selection_sources(settings, sources)  # the Explore page's box/lasso, when kept on
    if choice == VISITOR_VOTES:  # votes cast on the Classify page, exported as GZ1 vote fractions
        return choose_visitor_vote_sources(settings)
    catalog_path = _labels_path(settings, choice)
    default_images = str(st.session_state.get(state_keys.IMAGES_DIR) or settings.images_dir)
    c1, c2 = st.columns([3, 1])
    images_dir = c1.text_input("Image folder (files named <ID>.jpg)", value=default_images, key="train_images_dir",
                               help="A folder inside the ones this dashboard may use, e.g. where the Images page "
                                    "downloaded the cutouts.")
    crop = c2.number_input("Fixed centre crop (0 = frame by the galaxy)", 0.0, 1.0, 0.0, 0.05, key="train_crop",
                           help="0 (default): each image is framed by its central galaxy, whatever the source. "
                                "Otherwise the share of the image side kept around the centre before resizing.")
    try:
        folder = confine(images_dir, "Image folder", settings) if images_dir.strip() else None
    except PathNotAllowed as exc:
        st.error(md_escape(exc))
        return []
    if not catalog_path or folder is None:
        return []
    return [Source(catalog_path, str(folder), float(crop) or None)]


def check_data(sources: list[Source]) -> list[tuple[Source, JoinResult]]:
    """Join each set and draw what matched, with its n; [] after an error (shown, never quoting the file)."""
    joins = []
    for s in sources:
        try:
            joins.append((s, _join(s.catalog, s.images, file_stamp(s.catalog, s.images))))
        except (LabelError, FileNotFoundError, ValueError) as exc:
            st.error(md_escape(str(exc).replace(str(s.catalog), shown_name(s.catalog))))
            return []
    for s, join in joins:
        summ = join.summary()
        with st.container(border=True):
            st.markdown(f"**{md_escape(shown_name(s.catalog))}** · {md_escape(summ['labels_form'])} ↔ "
                        f"{code_span(display_path(Path(s.images)))}")
            cols = st.columns(4)
            cols[0].metric("Matched images", summ["matched"])
            cols[1].metric("Labels without image", summ["labels_without_image"])
            cols[2].metric("Images without label", summ["images_without_label"])
            cols[3].metric("Unusable label rows", summ["label_rows_dropped"])
            kinds = label_kinds_text(summ["label_kinds"], summ["class_column"])
            st.caption((f"Labels: {kinds}. " if kinds else "") + f"Key: {md_escape(summ['id_kind'])}.")
            if not summ["matched"]:  # how many images there are and why none match
                st.info(md_escape(match_images([*join.labels.ids, *join.missing_images], s.images).explanation()), icon=":material/link_off:")
            if summ["labels_without_image"] or summ["images_without_label"] or summ["label_rows_dropped"]:
                st.download_button("Download the list of gaps (CSV)", join.missing_csv(),
                                   file_name=f"missing_{Path(shown_name(s.catalog)).stem}.csv", mime="text/csv",
                                   key=f"missing_{s.catalog}")
    return joins


def label_kinds_text(kinds: dict, class_column: str | None) -> str:
    """``29 class-derived (one-hot from `CLASS_NAME`, not vote fractions), 1 with vote fractions`` (Markdown)."""
    parts = []
    for kind, n in kinds.items():
        if kind == LabelKind.CLASS:
            parts.append(f"{n:,} class-derived (one-hot from {class_column_text(class_column)}, not vote fractions)")
        elif kind == LabelKind.NONE:
            parts.append(f"{n:,} without a label")
        else:
            parts.append(f"{n:,} with {md_escape(kind)}")
    return ", ".join(parts)


def class_column_text(class_column: str | None) -> str:
    """The class column as a code span, or "a class column" when it is not known (Markdown)."""
    return code_span(class_column) if class_column else "a class column"


def validation_count(joins: list[tuple[Source, JoinResult]], config: TrainConfig) -> int:
    """How many of the matched images the run will hold out: the training's own split (``is_validation``) of
    the same IDs, so it is exact unless some images turn out unreadable when they are prepared."""
    key = tuple((s.catalog, s.images, file_stamp(s.catalog, s.images)) for s, _ in joins)
    return _held_out([join for _, join in joins], key, config.split_seed_used, config.val_fraction)


@st.cache_resource(max_entries=16)
def _held_out(_joins: list[JoinResult], key: tuple, seed: int, val_fraction: float) -> int:
    """validation_count's sum, held across reruns (``key`` follows the files, as :func:`_join`'s stamp)."""
    ids = [np.asarray(join.labels.ids).astype(str) for join in _joins]
    if not sum(len(i) for i in ids):
        return 0
    return int(is_validation(np.concatenate(ids), seed, val_fraction).sum())


def tiny_set_warning(n_matched: int, n_val: int) -> bool:
    """Warn when 1 to SMALL_N - 1 images matched; True if so (the page then asks for confirmation).

    ``n_val``: how many of them the split holds out (:func:`validation_count`). With none matched there is
    nothing to confirm: the page says why training cannot start."""
    if n_matched == 0 or n_matched >= SMALL_N:
        return False
    st.warning(f"Only {count(n_matched, 'matched image')} ({n_val} of them held out for validation). Below "
               f"{SMALL_N} images, "
               "accuracy and the other figures mean little: one image can move them by many points.",
               icon=":material/warning:")
    return True
