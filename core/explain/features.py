"""Penultimate features (the embedding) of a run: the backbone's pooled output, before the heads.

``views`` 1: the image as framed; 4: the mean over its four 90-degree rotations, so a
galaxy turned by 90, 180 or 270 degrees gets (nearly) the same embedding while mirror
images (clockwise vs anticlockwise spirals) stay apart. Float32 (N, D), D = the
backbone's ``n_features`` (112 for the shipped EfficientNet-Lite0 runs).
"""

from __future__ import annotations

import numpy as np
import torch

from core.training.augment import dihedral
from core.training.model import uint8_to_input

#: Accepted values of ``views``.
VIEWS = (1, 4)


def embedding_dim(model) -> int:
    """D of a GalaxyNet's embedding."""
    return int(model.raw_head.in_features)


@torch.inference_mode()
def embed_prepared(model, prepared: np.ndarray, views: int = 4, batch_size: int = 64) -> np.ndarray:
    """float32 (N, D) embeddings of prepared uint8 images (N, S, S, 3) with a GalaxyNet in eval mode."""
    if views not in VIEWS:
        raise ValueError(f"views must be one of {VIEWS}, got {views}")
    model.eval()
    out = np.zeros((len(prepared), embedding_dim(model)), dtype=np.float32)
    for start in range(0, len(prepared), batch_size):
        x = (uint8_to_input(prepared[start:start + batch_size]) - model.mean) / model.std
        acc = sum(model.backbone(dihedral(x, k, False)) for k in range(views))
        out[start:start + len(x)] = (acc / views).numpy()
    return out
