"""The 'what the model sees after framing' view of the Train and Predict pages (ui/framing_view.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from core.images.preprocess import prepare_image
from ui.framing_view import FRAME_COLOUR, annotated, framing_caption

REPO = Path(__file__).resolve().parents[2]
GZ1 = sorted((REPO / "data" / "demo" / "gz1").glob("*.jpg"))
SPIN = sorted((REPO / "data" / "demo" / "spin").glob("*.jpg"))


def _has_frame_colour(img: Image.Image) -> bool:
    return bool((np.asarray(img) == FRAME_COLOUR).all(axis=2).any())


def test_view_shows_the_frame_and_the_exact_model_input():
    with Image.open(GZ1[0]) as raw:
        img = raw.convert("RGB")
    view, arr, text = annotated(img, None, 64)
    assert np.array_equal(arr, prepare_image(img, 64))  # the same call training and prediction use
    assert _has_frame_colour(view)
    assert text.startswith("Framed by the galaxy")


def test_frame_running_off_a_cutout_is_drawn_on_a_margin():
    with Image.open(SPIN[0]) as raw:
        img = raw.convert("RGB")
    view, arr, text = annotated(img, None, 48)
    assert arr.shape == (48, 48, 3)
    assert "padded with sky" in text
    assert view.size[0] > 120 and _has_frame_colour(view)  # margin around the picture keeps the frame visible


def test_blank_picture_says_the_whole_image_is_used():
    view, arr, text = annotated(Image.new("RGB", (100, 80)), None, 32)
    assert "whole image" in text and arr.shape == (32, 32, 3)


def test_declared_crop_is_described_as_a_fixed_centre_crop():
    with Image.open(GZ1[0]) as raw:
        _, arr, text = annotated(raw, 0.45, 32)
        assert np.array_equal(arr, prepare_image(raw.convert("RGB"), 32, 0.45))
    assert "45%" in text
    assert "framed by its central galaxy" in framing_caption(None, 64)
    assert "centre-cropped to 45%" in framing_caption(0.45, 64)
