"""Show what the model sees after framing (Train and Predict pages).

The picture with the frame drawn on it, next to the model input it becomes
(:func:`core.images.preprocess.prepare_with_info`, the same call training and
prediction use), and one sentence on how the frame was chosen.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from core.images.preprocess import prepare_with_info

FRAME_COLOUR = (255, 214, 0)
PREVIEW_SIDE = 240  # px, longest side of the annotated picture


def framing_caption(crop_fraction: float | None, image_size: int) -> str:
    """How a run turns a picture into its input, in one sentence."""
    if crop_fraction is None:
        return (f"The picture is framed by its central galaxy (a square a fixed multiple of the galaxy's size) "
                f"and resized to {image_size} px, as in training.")
    return (f"The picture is centre-cropped to {crop_fraction:.0%} of its shorter side and resized to "
            f"{image_size} px, as in training. Best results with a galaxy centred in the frame.")


def annotated(img: Image.Image, crop_fraction: float | None, image_size: int) -> tuple[Image.Image, np.ndarray, str]:
    """(picture with the frame drawn, model input uint8 (S, S, 3), sentence on the framing)."""
    img = img.convert("RGB")
    arr, info = prepare_with_info(img, image_size, crop_fraction)
    w, h = img.size
    if info is None:
        side = min(w, h) * crop_fraction
        cx, cy, text = w / 2, h / 2, f"Fixed centre crop of {crop_fraction:.0%} of the shorter side."
    else:
        side, cx, cy, text = info.side, info.center_x, info.center_y, info.describe()
    scale = min(1.0, PREVIEW_SIDE / max(w, h))
    # Room around the picture so a frame that runs off it stays visible.
    pad = int(max(0.0, side / 2 - min(cx, cy, w - cx, h - cy)) * scale) + 2
    view = Image.new("RGB", (int(w * scale) + 2 * pad, int(h * scale) + 2 * pad), (40, 40, 40))
    view.paste(img.resize((max(1, int(w * scale)), max(1, int(h * scale)))), (pad, pad))
    half = side / 2 * scale
    x0, y0 = pad + cx * scale, pad + cy * scale
    ImageDraw.Draw(view).rectangle((x0 - half, y0 - half, x0 + half, y0 + half), outline=FRAME_COLOUR, width=2)
    return view, arr, text


def show_framing(img: Image.Image, crop_fraction: float | None, image_size: int, name: str = "") -> None:
    """Draw the picture with its frame and the model input side by side, with the framing sentence."""
    view, arr, text = annotated(img, crop_fraction, image_size)
    left, right = st.columns(2)
    left.image(view, caption=f"{name} (frame in yellow)".strip(), width="content")
    right.image(arr, caption=f"model input, {image_size} px", width=PREVIEW_SIDE)
    st.caption(text)
