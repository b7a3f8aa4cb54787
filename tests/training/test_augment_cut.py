"""The 'cut tighter than its frame' augmentation (AugmentSettings.max_cut) pads with the image's own sky."""

from __future__ import annotations

import torch

from core.training.augment import AugmentSettings, augment_batch, cut_to_box, swap_spin


def _galaxy_batch(n: int = 4, side: int = 16) -> torch.Tensor:
    x = torch.full((n, 3, side, side), 0.05)
    x[:, :, 4:12, 4:12] = torch.linspace(0.3, 0.9, 8)  # bright centre, dark sky border
    return x


def test_cut_keeps_the_centred_box_and_fills_the_rest_with_border_sky():
    x = _galaxy_batch(2)
    x[1, :, 0, :] = 0.2  # top border brighter: the median of the border still decides
    out = cut_to_box(x, torch.tensor([1.0, 0.5]))
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1, :, 4:12, 4:12], x[1, :, 4:12, 4:12])
    assert torch.all(out[1, :, :4, :] == 0.05) and torch.all(out[1, :, :, 12:] == 0.05)


def test_max_cut_zero_changes_nothing_and_flips_still_swap_spin():
    x = _galaxy_batch(16)
    target = torch.zeros(16, 9)
    target[:, 1] = 1.0  # all clockwise
    mask = torch.ones(16, 9, dtype=torch.bool)
    settings = AugmentSettings(rotate=False, max_shift=0.0, max_zoom=0.0, max_cut=0.4)
    g = torch.Generator().manual_seed(3)
    out, t, _ = augment_batch(x, target, mask, settings, g)
    flipped = t[:, 2] == 1.0
    assert torch.equal(t[flipped], swap_spin(target)[flipped]) and torch.equal(t[~flipped], target[~flipped])
    assert 0 < int(flipped.sum()) < 16
    # Every image keeps its centre (mirrored where flipped) and its corners stay sky.
    mirrored = torch.flip(x, dims=[3])
    expect = torch.where(flipped[:, None, None, None], mirrored, x)
    assert torch.equal(out[:, :, 6:10, 6:10], expect[:, :, 6:10, 6:10])
    assert torch.all(out[:, :, 0, 0] == 0.05)
    none = AugmentSettings(rotate=False, flip=False, max_shift=0.0, max_zoom=0.0, max_cut=0.0)
    same, _, _ = augment_batch(x, target, mask, none, torch.Generator().manual_seed(3))
    assert torch.equal(same, x)


def test_cut_reaches_into_the_galaxy_for_some_images():
    x = _galaxy_batch(64)
    x[:, :, 1:15, 1:15] = 0.6  # a galaxy filling its frame
    settings = AugmentSettings(rotate=False, flip=False, max_shift=0.0, max_zoom=0.0, max_cut=0.5)
    out, _, _ = augment_batch(x, torch.zeros(64, 9), torch.ones(64, 9, dtype=torch.bool), settings,
                              torch.Generator().manual_seed(0))
    changed = (out != x).flatten(1).any(dim=1)
    assert 10 <= int(changed.sum()) <= 54  # about half the images are cut, not all, not none
