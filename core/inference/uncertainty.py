"""How sure a prediction is: samples of it and what they agree on.

A prediction's *samples* are the (S, N, 9) fractions (``VOTE_COLUMNS`` order) of S
forward passes that could each have been the answer:

* **ensemble** members: the run itself plus the runs its ``ensemble.json`` names
  (same recipe, other seeds; :mod:`core.inference.ensemble`);
* **MC dropout**: the head's dropout (the share ``dropout`` of config.json, dropped
  before the two heads in training) kept on, ``mc_samples`` masks per image. The masks
  are drawn once from a fixed seed and shared by every image, so a galaxy gets the same
  answer in any batch, on any worker (the cluster path equals the single-process one);
* **views**: with ``tta`` the 8 rotations/flips of the square (P_CW and P_ACW swapped
  back on the mirrored ones).

The point prediction is the mean of the members' deterministic passes (dropout off)
over the views; with one member and no TTA that is exactly the plain prediction. The
spread (``<COLUMN>_SD``) is the standard deviation over all samples. The top answer is
the argmax of the six raw fractions of the point prediction (``core.schema.RAW_COLUMNS``),
and ``agreement`` is the share of samples whose own top answer is that one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.schema import RAW_INDEX
from core.training.augment import DIHEDRAL_GROUP, dihedral, swap_spin
from core.training.model import GalaxyNet, fractions_from_logits, uint8_to_input

#: Head-dropout masks per image and member when MC dropout is on.
MC_SAMPLES = 16
#: Seed of the shared dropout masks (fixed: the same masks for every image, batch and worker).
MC_SEED = 20_081_179  # Lintott et al. 2008, MNRAS 389, 1179

_RAW = list(RAW_INDEX)


def head_masks(n_features: int, dropout: float, samples: int, seed: int = MC_SEED) -> torch.Tensor:
    """(samples, n_features) inverted-dropout masks: 0 with probability ``dropout``, else 1 / (1 - dropout)."""
    if not 0.0 < dropout < 1.0 or samples <= 0:
        return torch.ones((0, n_features))
    gen = torch.Generator().manual_seed(seed)
    keep = torch.rand((samples, n_features), generator=gen) >= dropout
    return keep.float() / (1.0 - dropout)


def _heads(net: GalaxyNet, features: torch.Tensor) -> torch.Tensor:
    return fractions_from_logits(net.raw_head(features), net.debiased_head(features))


@dataclass
class SampleSet:
    """The samples of a batch: ``point`` (N, 9), the prediction; ``samples`` (S, N, 9), every pass."""

    point: np.ndarray
    samples: np.ndarray


@torch.inference_mode()
def sample_prepared(nets: Sequence[GalaxyNet], prepared: np.ndarray, *, tta: bool = False,
                    masks: Sequence[torch.Tensor] = (), batch_size: int = 64) -> SampleSet:
    """Samples of prepared uint8 images (N, S, S, 3) under every net of ``nets`` (eval mode).

    ``masks[m]``: the (T, D) head-dropout masks of member ``m`` (empty: no MC dropout for it).
    Samples per image: members x views x (1 + T), the deterministic pass included.
    """
    views = DIHEDRAL_GROUP if tta else ((0, False),)
    points, samples = [], []
    for start in range(0, len(prepared), batch_size):
        x = uint8_to_input(prepared[start:start + batch_size])
        point = torch.zeros((len(x), 9))
        batch_samples = []
        for m, net in enumerate(nets):
            net.eval()
            mask = masks[m] if m < len(masks) else torch.ones((0, 1))
            for k, flip in views:
                f = net.backbone((dihedral(x, k, flip) - net.mean) / net.std)  # eval: dropout is off
                frac = _heads(net, f)
                frac = swap_spin(frac) if flip else frac
                point += frac
                batch_samples.append(frac)
                if len(mask):
                    mc = _heads(net, (f[None, :, :] * mask[:, None, :]).reshape(-1, f.shape[1]))
                    mc = mc.reshape(len(mask), len(x), 9)
                    batch_samples.extend(swap_spin(s) if flip else s for s in mc)
        points.append((point / (len(nets) * len(views))).numpy())
        samples.append(torch.stack(batch_samples).numpy())
    if not points:
        return SampleSet(np.zeros((0, 9), np.float32), np.zeros((0, 0, 9), np.float32))
    return SampleSet(np.concatenate(points).astype(np.float32), np.concatenate(samples, axis=1).astype(np.float32))


@dataclass
class Spread:
    """What the samples say about each galaxy (N rows).

    ``sd`` (N, 9): standard deviation of each fraction over the samples (0 with one sample);
    ``top`` (N,): index into RAW_COLUMNS of the point prediction's top answer;
    ``p_top`` (N,): the point prediction's fraction for that answer;
    ``margin`` (N,): that fraction minus the second largest raw fraction;
    ``agreement`` (N,): share of samples whose top raw answer is ``top``.
    """

    sd: np.ndarray
    top: np.ndarray
    p_top: np.ndarray
    margin: np.ndarray
    agreement: np.ndarray

    def take(self, index: np.ndarray) -> Spread:
        """The rows ``index`` (integer positions or a boolean mask) of every field."""
        return Spread(self.sd[index], self.top[index], self.p_top[index], self.margin[index], self.agreement[index])


def spread(result: SampleSet) -> Spread:
    """The per-galaxy spread of a :class:`SampleSet`."""
    raw = result.point[:, _RAW]
    top = np.argmax(raw, axis=1)
    ordered = np.sort(raw, axis=1)
    sample_top = np.argmax(result.samples[:, :, _RAW], axis=2)  # (S, N)
    n = len(raw)
    sd = result.samples.std(axis=0) if result.samples.shape[0] > 1 else np.zeros_like(result.point)
    return Spread(sd=sd.astype(np.float32), top=top, p_top=raw[np.arange(n), top],
                  margin=ordered[:, -1] - ordered[:, -2],
                  agreement=(sample_top == top[None, :]).mean(axis=0) if n else np.zeros(0))
