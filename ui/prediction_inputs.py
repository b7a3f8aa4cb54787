"""Widgets shared by the Predict and Compare pages: which galaxies, and how a run is named."""

from __future__ import annotations

import math
from pathlib import Path

import streamlit as st

from core.config import get_settings
from core.images.matching import match_images
from core.inference.galaxy_sets import GalaxySet
from core.inference.runs import run_name, scan_runs, skipped_note
from core.paths import display_path
from core.training.run_config import RunConfig
from ui import state_keys
from ui.catalog_state import current_catalog, current_selection, labelled_rows, selected_table
from ui.embedding_selection import only_map_selection_set
from ui.model_cache import catalog_set, demo_set, folder_set
from ui.plain_text import md_escape

#: Largest set predicted on a page; bigger sets: ``python -m core predict --catalog ... --out``.
MAX_PAGE_GALAXIES = 2000

SET_DEMO = "Built-in demo set"
SET_CATALOG = "Catalogue + downloaded images"
SET_FOLDER = "Image folder (no labels)"


def runs_or_stop() -> list[dict]:
    """The trained runs, yours and the shipped ones (core.inference.runs.scan_runs); without any, say where to
    get one and stop the page.

    Run folders that cannot be read are named in a note, and the good runs stay usable.
    """
    from ui.credits import show_credit

    settings = get_settings()
    scan = scan_runs()
    runs = scan.runs
    if scan.skipped:
        st.warning(md_escape(skipped_note(scan.skipped)), icon=":material/folder_off:")
    if not runs:
        where = "" if settings.public else f" in {md_escape(display_path(settings.models_dir))} or the shipped models"
        st.info(f"No trained model{where}. Train one on the **Train** page "
                "(or `python -m core train`), then come back.")
        show_credit()
        st.stop()
    return runs


def run_label(run: dict) -> str:
    """One-line name of a run for select boxes: id (marked when shipped), architecture, input size, validation
    accuracy and its n."""
    cfg = run["config"]
    acc = run["final_metrics"].get("val_accuracy")
    recorded = RunConfig.from_dict(cfg)
    bits = [run_name(run), recorded.arch, f"{recorded.image_size} px"]
    if isinstance(acc, float):
        n_top = run["final_metrics"].get("val_n_top_answer")  # galaxies the accuracy is scored on
        bits.append(f"val. accuracy {acc:.0%}" + (f" (n = {int(n_top):,})" if isinstance(n_top, int | float)
                                                  and not isinstance(n_top, bool) else ""))
    elif not cfg.get("val_fraction"):
        bits.append("nothing held out")
    return " · ".join(bits)


def fmt(value, pattern: str = "{:.1%}") -> str:
    """Format a number, or "n/a" for None/NaN."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else pattern.format(value)


def pick_galaxy_set(key: str, include_folder: bool = True) -> GalaxySet | None:
    """Radio for the galaxies to use (demo set, catalogue + images, image folder); None if not available.

    Messages about what is missing are drawn here. Sets above MAX_PAGE_GALAXIES are cut to that size.
    """
    settings = get_settings()
    images_dir = Path(st.session_state.get(state_keys.IMAGES_DIR) or settings.images_dir)
    choices = [SET_DEMO, SET_CATALOG] + ([SET_FOLDER] if include_folder else [])
    picked = current_selection()  # a sky-map selection makes the catalogue the first choice
    source = st.radio("Galaxies", choices, index=1 if picked else 0, horizontal=True, key=key,
                      persist_state="session",
                      help="The demo set ships with the app. The catalogue is the one loaded on the Catalog "
                           f"page, joined by OBJID to the images in {md_escape(images_dir)}.")
    gset: GalaxySet | None = None
    why_none = ""  # how many images the folder holds and why no catalogue galaxy matches
    if picked and source != SET_CATALOG:
        st.caption(f"{len(picked):,} galaxies are selected on the sky map: pick *{SET_CATALOG}* to use them.")
    if source == SET_DEMO:
        gset = demo_set(str(settings.demo_dir))
        if gset is None:
            st.warning(f"The built-in demo set is missing ({md_escape(settings.demo_dir)}).")
    elif source == SET_CATALOG:
        catalog = current_catalog()  # the Catalog page's upload, else the built-in sample
        if catalog is None:
            st.warning("The built-in sample catalogue cannot be read; load one on the **Catalog** page.")
        else:
            name, rows = catalog.name, catalog.table
            if picked and st.toggle(f"Only the {len(picked):,} galaxies selected on the sky map", value=True,
                                    key=f"{key}_only_selection", persist_state="session",
                                    help="The box/lasso selection of the Catalog page; turn off for the "
                                         "whole catalogue."):
                name, rows = f"{catalog.name}, sky-map selection", selected_table(catalog)
            rows = labelled_rows(catalog, rows)  # the built-in galaxies with images: their shipped labels
            why_none = match_images(rows["OBJID"], images_dir).explanation()
            try:
                gset = catalog_set(rows, str(images_dir), name)
            except (ValueError, FileNotFoundError) as exc:
                st.info(f"{md_escape(why_none or f'{exc}.')} Download images on the **Images** page first.")
            if gset is not None and gset.missing:
                st.caption(f"{len(gset.missing):,} catalogue galaxies have no image in {md_escape(images_dir)} yet "
                           "(download them on the **Images** page).")
    else:
        try:
            gset = folder_set(str(images_dir))
        except FileNotFoundError as exc:
            st.info(f"{md_escape(exc)}. Download images on the **Images** page first.")
    gset = only_map_selection_set(gset, f"{key}_only_map_selection")  # the Explore page's box/lasso
    if gset is not None and len(gset) > MAX_PAGE_GALAXIES:
        st.caption(f"Showing the first {MAX_PAGE_GALAXIES:,} of {len(gset):,} galaxies; for all of them run "
                   "`python -m core predict --catalog CSV --images DIR --out predictions.csv`.")
        gset = gset.head(MAX_PAGE_GALAXIES)
    if gset is not None and len(gset) == 0:
        st.info("No galaxy in this set has an image yet. " + md_escape(why_none), icon=":material/link_off:")
        gset = None
    return gset
