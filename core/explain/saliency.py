"""Grad-CAM saliency for one answer column, as a map over the ORIGINAL image's pixels.

Grad-CAM (Selvaraju et al. 2017) via captum's ``LayerGradCam``: the activations of the
model's last convolutional stage (:func:`last_conv_stage`), weighted by the spatial mean of
the gradient of the chosen column's predicted fraction, summed over channels and passed
through ReLU. The low-resolution map (4 x 4 for the shipped 64 px runs) is then mapped back
through the model's own framing (:mod:`core.explain.geometry`) onto the original image's
height x width, clipped at 0 and normalised to sum to 1. A map that is zero everywhere
(the answer's score rises nowhere) becomes uniform and ``uniform`` says so.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from core.explain.answers import answer_index
from core.explain.geometry import ModelBox, model_box, to_original
from core.images.preprocess import prepare_image
from core.schema import VOTE_COLUMNS
from core.training.model import fractions_from_logits, uint8_to_input


@dataclass
class SaliencyMap:
    """``values``: float32 (H, W) of the original image, >= 0, sum 1; ``column``; ``fraction``: the
    model's predicted value of that column; ``uniform``: True when the CAM was all zero;
    ``box``: where the model's input lay in the image; ``cam``: the raw low-resolution CAM."""

    values: np.ndarray
    column: str
    fraction: float
    uniform: bool
    box: ModelBox
    cam: np.ndarray

    def describe(self) -> str:
        h, w = self.values.shape
        text = f"{self.column}={self.fraction:.3f}; saliency map {h}x{w} (sums to 1)"
        if self.uniform:
            text += "; the Grad-CAM was zero everywhere, so the map is uniform (no region raises this answer)"
        if self.box.frame is not None and self.box.frame.padded:
            text += "; the model's frame ran off the image (padded with sky), saliency there is dropped"
        return text


def last_conv_stage(model) -> torch.nn.Module:
    """The module whose output is the last convolutional feature map of a GalaxyNet."""
    backbone = model.backbone
    if model.arch == "small":
        convs = [m for m in backbone.features if isinstance(m, torch.nn.Sequential)]
        return convs[-1]
    if model.arch == "effnet_lite0":
        return backbone._bn1 if backbone.full else backbone._blocks[-1]
    return backbone.layer4


def gradcam(model, prepared: np.ndarray, column: int) -> np.ndarray:
    """Non-negative Grad-CAM (N, h, w) float32 of prepared uint8 images (N, S, S, 3) for VOTE_COLUMNS[column]."""
    from captum.attr import LayerGradCam

    model.eval()

    def forward(x: torch.Tensor) -> torch.Tensor:
        return fractions_from_logits(*model(x))

    x = uint8_to_input(prepared).requires_grad_(True)
    cam = LayerGradCam(forward, last_conv_stage(model)).attribute(x, target=int(column), relu_attributions=True)
    return np.clip(cam.detach().sum(dim=1).numpy(), 0, None).astype(np.float32)


def normalised(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """(values / sum as float32, False), or (a uniform map, True) when nothing is positive."""
    values = np.clip(np.asarray(values, dtype=np.float64), 0, None)
    total = values.sum()
    if not np.isfinite(total) or total <= 0:
        return np.full(values.shape, 1.0 / values.size, dtype=np.float32), True
    out = (values / total).astype(np.float32)
    return out / out.sum(dtype=np.float64).astype(np.float32), False


def explain_image(run, img: Image.Image, column: str, crop_fraction: float | None = None,
                  model=None) -> SaliencyMap:
    """Saliency of ``column`` for ``img`` (an upright RGB PIL image) with ``run`` (a LoadedModel).

    ``crop_fraction``: the framing to use (None: the run's default, which is None = framed by
    the galaxy for the shipped runs). ``model``: another GalaxyNet of the same shape to explain
    instead of ``run.model`` (e.g. the randomised copy of the sanity check); same framing.
    Raises UnlearnedColumnError for a column the run never learned.
    """
    col = answer_index(column, run.learned, f"model {run.run_id}")
    crop = run.crop_fraction if crop_fraction is None else crop_fraction
    net = run.model if model is None else model
    img = img if img.mode == "RGB" else img.convert("RGB")
    prepared = prepare_image(img, run.image_size, crop)[None]
    with torch.inference_mode():
        fraction = float(fractions_from_logits(*net(uint8_to_input(prepared)))[0, col])
    cam = gradcam(net, prepared, col)[0]
    box = model_box(img, crop)
    values, uniform = normalised(to_original(cam, box, *img.size))
    return SaliencyMap(values, VOTE_COLUMNS[col], fraction, uniform, box, cam)


def overlay_png(img: Image.Image, values: np.ndarray, alpha: float = 0.55) -> bytes:
    """PNG bytes: ``img`` with ``values`` (H, W) drawn over it in matplotlib's 'inferno' colours."""
    from matplotlib import colormaps

    peak = float(values.max()) or 1.0
    heat = colormaps["inferno"](values / peak)[..., :3]
    base = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    weight = alpha * (values / peak)[..., None]
    mixed = (1 - weight) * base + weight * heat
    buf = io.BytesIO()
    Image.fromarray(np.clip(mixed * 255 + 0.5, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def npy_bytes(values: np.ndarray) -> bytes:
    """``values`` as the bytes of a .npy file (no pickles: plain float32)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(values, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()
