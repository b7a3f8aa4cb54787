"""Augmentation that respects what the labels mean.

A galaxy's morphology does not depend on how the image is rotated, shifted or
zoomed a little, so those leave the targets unchanged. A mirror image of a
clockwise spiral is an *anticlockwise* spiral, so every flip swaps the P_CW
and P_ACW targets (and their masks); P_CS = CW + ACW + EDGE is unchanged. (The
original tool flipped images without swapping and so taught its network that
spin direction is noise.)

Framing by the galaxy (core.images.framing) leaves two kinds of variation,
which augmentation covers: a frame a little larger or smaller and off-centre
(zoom, shift), and a galaxy cut tighter than its frame, which arrives padded
with sky (``max_cut``: the view outside a random centred box is replaced by
the image's border sky colour).

Images are float tensors (N, 3, H, W). Targets and masks are (N, 9) in
``VOTE_COLUMNS`` order. Angles are in degrees; shifts are fractions of the
image side; zoom is a scale factor (>1 magnifies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from core.schema import ACW_INDEX, CW_INDEX


def swap_spin(t: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Copy of (N, 9) ``t`` with the P_CW and P_ACW columns swapped (on ``rows`` only, if given)."""
    out = t.clone()
    if rows is None:
        out[:, [CW_INDEX, ACW_INDEX]] = t[:, [ACW_INDEX, CW_INDEX]]
    else:
        out[rows, CW_INDEX], out[rows, ACW_INDEX] = t[rows, ACW_INDEX], t[rows, CW_INDEX]
    return out


def dihedral(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    """Mirror left-right (if ``flip``), then rotate by k x 90 degrees; x is (N, C, H, W)."""
    if flip:
        x = torch.flip(x, dims=[3])
    return torch.rot90(x, k % 4, dims=[2, 3]) if k % 4 else x


#: The eight symmetries of the square, as (k quarter turns, flip).
DIHEDRAL_GROUP: tuple[tuple[int, bool], ...] = tuple((k, f) for f in (False, True) for k in range(4))


@dataclass(frozen=True)
class AugmentSettings:
    """What :func:`augment_batch` does; stored in a run's config.json.

    The defaults are the shipped recipe (trial T7 in docs/MODEL_TRIALS.md). A run recorded before a
    switch existed reads back with :data:`ABSENT_SWITCH` for it (see ``from_recorded``).
    """

    rotate: bool = True          # any angle: a random 90-degree multiple plus a uniform angle in [-45, 45)
    flip: bool = True            # mirror half the images (and swap P_CW/P_ACW)
    max_shift: float = 0.05      # fraction of the side, each axis
    max_zoom: float = 0.15       # scale drawn from [1 - z, 1 + z]
    max_cut: float = 0.4         # half the images keep a centred box of side in [1 - c, 1]; sky outside

    def as_dict(self) -> dict:
        return {"rotate": self.rotate, "flip": self.flip, "max_shift": self.max_shift, "max_zoom": self.max_zoom,
                "max_cut": self.max_cut}

    @classmethod
    def from_recorded(cls, recorded: dict) -> AugmentSettings:
        """Settings a run's config.json records; a switch it does not name gets :data:`ABSENT_SWITCH`."""
        known = {f.name for f in fields(cls)}
        return cls(**{**ABSENT_SWITCH, **{k: v for k, v in recorded.items() if k in known}})


#: What a switch that a run's config.json does not record was set to: runs from before
#: ``max_cut`` existed trained without it (a resume must not switch it on).
ABSENT_SWITCH = {"max_cut": 0.0}


def cut_to_box(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Replace what lies outside a centred square of side ``keep`` (N,) (fraction of the side) by sky.

    The sky colour of each image is the per-channel median of its one-pixel border, as
    core.images.framing pads a frame that runs off a tightly cut picture.
    """
    n, _, h, w = x.shape
    border = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], dim=2)
    sky = border.median(dim=2).values[:, :, None, None]
    ys = (torch.arange(h, dtype=x.dtype) + 0.5) / h - 0.5
    xs = (torch.arange(w, dtype=x.dtype) + 0.5) / w - 0.5
    half = (keep / 2)[:, None, None]
    inside = (ys.abs()[None, :, None] <= half) & (xs.abs()[None, None, :] <= half)
    return torch.where(inside[:, None], x, sky)


def augment_batch(x: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                  settings: AugmentSettings, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Randomly rotate/shift/zoom/flip each image; flipped rows get P_CW and P_ACW swapped in target and mask.

    Returns new tensors; inputs are not modified. Deterministic for a given generator state.
    """
    n = x.shape[0]
    flipped = torch.zeros(n, dtype=torch.bool)
    if settings.flip:
        flipped = torch.rand(n, generator=generator) < 0.5
        if flipped.any():
            x = x.clone()
            x[flipped] = torch.flip(x[flipped], dims=[3])
            target = swap_spin(target, flipped)
            mask = swap_spin(mask, flipped)
    if settings.rotate:
        k = int(torch.randint(0, 4, (1,), generator=generator))
        x = torch.rot90(x, k, dims=[2, 3]) if k else x
    angle = (torch.rand(n, generator=generator) - 0.5) * (math.pi / 2) if settings.rotate else torch.zeros(n)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * settings.max_shift * 2  # grid units span 2
    zoom = 1 + (torch.rand(n, generator=generator) * 2 - 1) * settings.max_zoom
    if settings.rotate or settings.max_shift > 0 or settings.max_zoom > 0:
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([
            torch.stack([cos, -sin, shift[:, 0]], dim=1),
            torch.stack([sin, cos, shift[:, 1]], dim=1),
        ], dim=1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        # Reflection padding keeps sky-like borders instead of black corners.
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if settings.max_cut > 0:
        keep = 1 - torch.rand(n, generator=generator) * settings.max_cut
        keep = torch.where(torch.rand(n, generator=generator) < 0.5, keep, torch.ones(n))
        x = cut_to_box(x, keep)
    return x, target, mask
