"""Flips must swap P_CW and P_ACW (the original tool's bug: flip without swap)."""

from __future__ import annotations

import numpy as np
import torch

from core.schema import ACW_INDEX as ACW
from core.schema import CW_INDEX as CW
from core.training.augment import DIHEDRAL_GROUP, AugmentSettings, augment_batch, dihedral


def _chiral_image(size: int = 16) -> torch.Tensor:
    """An 'L' with a tick: no rotation maps it onto its mirror image."""
    x = torch.zeros(1, 3, size, size)
    x[:, :, 2:12, 3] = 1.0        # vertical bar
    x[:, :, 11, 3:9] = 1.0        # foot to the right
    x[:, :, 2, 4:6] = 1.0         # tick at the top, to the right
    return x


def _is_mirrored(original: torch.Tensor, out: torch.Tensor) -> bool:
    """True if ``out`` is a rotation of the mirrored ``original`` (and not of the original)."""
    rots = [torch.rot90(original, k, dims=[2, 3]) for k in range(4)]
    mirrored = [torch.rot90(torch.flip(original, dims=[3]), k, dims=[2, 3]) for k in range(4)]
    is_rot = any(torch.equal(out, r) for r in rots)
    is_mir = any(torch.equal(out, m) for m in mirrored)
    assert is_rot != is_mir, "test image must be chiral"
    return is_mir


def _target() -> torch.Tensor:
    t = torch.full((1, 9), float("nan"))
    t[0, CW], t[0, ACW] = 0.9, 0.05
    return t


def test_every_flip_swaps_spin_targets_and_masks():
    """Pure dihedral augmentation: targets swapped exactly when the image was mirrored."""
    x0, t0 = _chiral_image(), _target()
    m0 = ~torch.isnan(t0)
    m0[0, ACW] = False  # asymmetric mask, so a mask that is not swapped is caught too
    settings = AugmentSettings(rotate=True, flip=True, max_shift=0.0, max_zoom=0.0, max_cut=0.0)
    seen = set()
    for seed in range(40):
        g = torch.Generator().manual_seed(seed)
        # rotate=True adds a small continuous angle; use the dihedral part only for the exact check
        x, t, m = augment_batch(x0, t0, m0, AugmentSettings(rotate=False, flip=True, max_shift=0, max_zoom=0, max_cut=0), g)
        mirrored = _is_mirrored(x0, x)
        seen.add(mirrored)
        if mirrored:
            assert t[0, CW] == 0.05 and t[0, ACW] == 0.9
            assert not m[0, CW] and m[0, ACW]
        else:
            assert t[0, CW] == 0.9 and t[0, ACW] == 0.05
            assert m[0, CW] and not m[0, ACW]
    assert seen == {True, False}
    # with arbitrary rotation the targets still follow the flip rule
    x, t, m = augment_batch(x0.repeat(64, 1, 1, 1), t0.repeat(64, 1), m0.repeat(64, 1), settings,
                            torch.Generator().manual_seed(1))
    swapped = t[:, CW] == 0.05
    assert 0 < int(swapped.sum()) < 64
    assert torch.equal(m[swapped, ACW], torch.ones(int(swapped.sum()), dtype=torch.bool))


def _spin_consistent(augment) -> bool:
    """Run ``augment(x, t, m, generator)`` on a chiral image labelled clockwise; True if every
    mirrored output is labelled anticlockwise and every unmirrored one clockwise."""
    x0, t0 = _chiral_image(), _target()
    m0 = ~torch.isnan(t0)
    for seed in range(20):
        x, t, _ = augment(x0, t0, m0, torch.Generator().manual_seed(seed))
        if _is_mirrored(x0, x) != bool(t[0, CW] < t[0, ACW]):
            return False
    return True


def test_flip_without_swap_is_caught():
    """The check above passes our augmentation and fails the original tool's rule (flip, keep targets)."""
    def ours(x, t, m, g):
        return augment_batch(x, t, m, AugmentSettings(rotate=False, max_shift=0, max_zoom=0, max_cut=0), g)

    def flip_without_swap(x, t, m, g):
        return (torch.flip(x, dims=[3]) if torch.rand(1, generator=g) < 0.5 else x), t, m

    assert _spin_consistent(ours)
    assert not _spin_consistent(flip_without_swap)


def test_dihedral_group_and_tta_symmetry():
    x = _chiral_image()
    outs = [dihedral(x, k, f) for k, f in DIHEDRAL_GROUP]
    assert len({tuple(o.flatten().tolist()) for o in outs}) == 8
    assert [(_is_mirrored(x, o)) for o in outs] == [f for _, f in DIHEDRAL_GROUP]


def test_augment_is_seeded_and_leaves_inputs_alone():
    x = torch.rand(4, 3, 16, 16)
    t = torch.rand(4, 9)
    m = torch.ones(4, 9, dtype=torch.bool)
    x_copy, t_copy = x.clone(), t.clone()
    a = augment_batch(x, t, m, AugmentSettings(), torch.Generator().manual_seed(3))
    b = augment_batch(x, t, m, AugmentSettings(), torch.Generator().manual_seed(3))
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=False))
    assert torch.equal(x, x_copy) and torch.equal(t, t_copy)
    assert np.isfinite(a[0].numpy()).all()
