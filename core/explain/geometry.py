"""Where the model's square input lies in the original image, and mapping a map back onto it.

:func:`model_box` repeats the box arithmetic of :func:`core.images.preprocess.centre_crop`
(declared crop) and :func:`core.images.framing.frame_image` (framed by the galaxy,
padded with sky where the frame runs off the image), in original-image pixels
(x to the right, y down, pixel i covering [i, i + 1)). :func:`to_original` samples a map
given over that box (any resolution, e.g. a 4 x 4 Grad-CAM) bilinearly at every
original pixel centre; pixels outside the box get 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.images.framing import FrameInfo, find_galaxy


@dataclass(frozen=True)
class ModelBox:
    """The square the model saw: (left, top, right, bottom) in original px, and the frame info (None: declared crop)."""

    left: float
    top: float
    right: float
    bottom: float
    frame: FrameInfo | None = None


def model_box(img: Image.Image, crop_fraction: float | None) -> ModelBox:
    """The box :func:`core.images.preprocess.prepare_image` cuts from ``img`` for ``crop_fraction``."""
    w, h = img.size
    if crop_fraction is not None:
        side = max(1.0, min(w, h) * crop_fraction)
        left, top = (w - side) / 2.0, (h - side) / 2.0
        return ModelBox(round(left), round(top), round(left + side), round(top + side))
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    info = find_galaxy(rgb)
    half = info.side / 2.0
    left, top = info.center_x - half, info.center_y - half
    right, bottom = info.center_x + half, info.center_y + half
    if left >= -0.5 and top >= -0.5 and right <= w + 0.5 and bottom <= h + 0.5:
        return ModelBox(max(0.0, left), max(0.0, top), min(float(w), right), min(float(h), bottom), info)
    side = max(1, int(round(info.side)))
    ox, oy = int(round(-left)), int(round(-top))  # where frame_image pastes the image on its canvas
    return ModelBox(-ox, -oy, -ox + side, -oy + side, info)


def to_original(values: np.ndarray, box: ModelBox, width: int, height: int) -> np.ndarray:
    """float32 (height, width): ``values`` (h, w), spread over ``box``, sampled at each original pixel centre.

    Bilinear between cell centres, constant to the box edge, 0 outside the box.
    """
    from scipy.ndimage import map_coordinates

    values = np.asarray(values, dtype=np.float64)
    gh, gw = values.shape
    xs = (np.arange(width) + 0.5 - box.left) / (box.right - box.left)   # 0..1 across the box
    ys = (np.arange(height) + 0.5 - box.top) / (box.bottom - box.top)
    inside = ((ys >= 0) & (ys <= 1))[:, None] & ((xs >= 0) & (xs <= 1))[None, :]
    u = np.clip(xs * gw - 0.5, 0, gw - 1)
    v = np.clip(ys * gh - 0.5, 0, gh - 1)
    vv, uu = np.meshgrid(v, u, indexing="ij")
    out = map_coordinates(values, [vv.ravel(), uu.ravel()], order=1, mode="nearest").reshape(height, width)
    return np.where(inside, out, 0.0).astype(np.float32)
