"""Predict page: the Grad-CAM heat map of one answer over the galaxy image (core.explain.saliency).

Maps are cached per (run, model.pt version, image, answer, crop) with ``st.cache_data``, so
switching answers back and forth is instant; only the run's learned columns are offered.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from core.explain.answers import learned_columns
from core.images.reading import open_image
from core.schema import SHORT_LABELS

#: Session key of the answer whose map is shown (a VOTE_COLUMNS name).
ANSWER_KEY = "explain_answer"
#: Suffix of the session key that remembers which image the picked answer belongs to.
SOURCE_SUFFIX = "__image"

CAPTION = ("**Grad-CAM** on the model's last convolutional stage for the chosen answer's predicted share: "
           "brighter = the region that raises that share most. It is coarse (for the 64 px runs the stage is "
           "4 x 4 cells, each about a quarter of the model's view, smoothed onto the image) and shows what "
           "the model uses, not what is physically there; areas outside the model's frame are always dark.")
HELP = ("Sanity check in the README (*Explain: honesty figures*): maps from a randomised copy of the network "
        "rank-correlate ~0 with the trained map; the trained map puts 4.8x more mass per pixel on the galaxy "
        "than its area, but a uniform map over the model's frame already gets 4.2x, so most of that comes from "
        "the framing itself.")


@st.cache_data(show_spinner="Computing the saliency map...", max_entries=256)
def _overlay(run_path: str, mtime: float, source: str | bytes, column: str, crop_fraction: float | None
             ) -> tuple[bytes, float, bool, str]:
    """(overlay PNG, predicted fraction, uniform?, description) of one map; ``source`` a path or image bytes."""
    from core.explain.saliency import explain_image, overlay_png
    from ui.model_cache import model_for

    img = open_image(source).convert("RGB")
    sal = explain_image(model_for(run_path), img, column, crop_fraction=crop_fraction)
    return overlay_png(img, sal.values), sal.fraction, sal.uniform, sal.describe()


def show_saliency(run_path: str, model, source: str | os.PathLike | bytes,
                  default: str | None = None, key: str = ANSWER_KEY) -> None:
    """Answer picker, the image and its heat map side by side, and what the map is.

    ``source``: an image path (its folder's training crop is used) or uploaded bytes (the run's
    default crop). ``default``: the answer shown first (e.g. the model's top one), if learned.
    ``key``: the answer picker's session key (one per place the panel is drawn).
    """
    from core.inference.predict import crop_for_images
    from ui.model_cache import model_mtime

    columns = learned_columns(model.learned)
    if not columns:
        st.info("This run learned no answer column, so there is nothing to explain.")
        return
    # A new image starts on its own default answer; the visitor's pick holds only while the image stays.
    shown = str(source) if isinstance(source, (str, os.PathLike)) else hashlib.sha256(bytes(source)).hexdigest()
    if st.session_state.get(key) not in columns or st.session_state.get(key + SOURCE_SUFFIX) != shown:
        st.session_state[key] = default if default in columns else columns[0]
    st.session_state[key + SOURCE_SUFFIX] = shown
    c_img, c_map, c_text = st.columns([1, 1, 1.3])
    column = c_text.selectbox("Heat map of the answer", columns, key=key,
                                format_func=lambda c: f"{SHORT_LABELS.get(c, c)} ({c})", help=HELP)
    if isinstance(source, (str, os.PathLike)):
        crop, src = crop_for_images(model, Path(source).parent), str(source)
    else:
        crop, src = None, bytes(source)
    png, fraction, uniform, _ = _overlay(str(run_path), model_mtime(run_path), src, column, crop)
    c_img.image(src, caption="image", width="stretch")
    c_map.image(src if uniform else png, caption=f"where it raises {SHORT_LABELS.get(column, column)} "
                             f"(predicted {fraction:.0%})", width="stretch")
    if uniform:
        c_text.caption("The Grad-CAM is zero everywhere for this answer (no region raises it), so the map is flat (the image is shown without a heat map).")
    c_text.caption(CAPTION)

