"""Framing by the galaxy (core.images.framing) on real GZ1/SDSS images, and its fallback.

Tolerance: the same galaxy re-cut to the central 60 % (40 %) of its GZ1 subject image
must give a frame side within 15 % of the one found in the whole image for at least
85 % (80 %) of the 341 demo images, with a median ratio within 0.9..1.1, and a frame
centre within 5 % of the side for at least 85 % of them. (Measured when written:
92.7 % / 86.8 % within 15 %, medians 0.97 / 0.97, centres 94.7 % / 90.0 %.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.images.framing import FRAME_MULTIPLE, find_galaxy, frame_image
from core.images.preprocess import cache_path, cached_arrays, cached_fallbacks, prepare_image, prepare_with_info

REPO = Path(__file__).resolve().parents[2]
GZ1 = sorted((REPO / "data" / "demo" / "gz1").glob("*.jpg"))
SPIN = sorted((REPO / "data" / "demo" / "spin").glob("*.jpg"))


def _central(img: Image.Image, cut: float) -> tuple[Image.Image, float]:
    """The central ``cut`` of ``img`` and the offset (px) of its corner in the original."""
    w = img.size[0]
    left = round((w - w * cut) / 2)
    return img.crop((left, left, w - left, w - left)), left


@pytest.fixture(scope="module")
def recut_frames() -> np.ndarray:
    """(n, 3 cuts, 3): side, centre x, centre y in whole-image pixels; NaN side on fallback."""
    out = np.full((len(GZ1), 3, 3), np.nan)
    for i, path in enumerate(GZ1):
        with Image.open(path) as raw:
            img = raw.convert("RGB")
        for j, cut in enumerate((1.0, 0.6, 0.4)):
            part, left = _central(img, cut)
            info = find_galaxy(part)
            out[i, j] = (np.nan if info.fallback else info.side, info.center_x + left, info.center_y + left)
    return out


@pytest.mark.parametrize(("j", "share"), [(1, 0.85), (2, 0.80)])
def test_same_galaxy_recut_gives_matching_frame(recut_frames, j, share):
    assert len(GZ1) >= 300
    ratio = recut_frames[:, j, 0] / recut_frames[:, 0, 0]
    assert np.isnan(recut_frames[:, :2, 0]).sum() <= 2  # real galaxies are found
    assert np.nanmean(np.abs(ratio - 1) <= 0.15) >= share
    assert 0.9 <= np.nanmedian(ratio) <= 1.1
    shift = np.hypot(*(recut_frames[:, j, 1:] - recut_frames[:, 0, 1:]).T) / recut_frames[:, 0, 0]
    assert np.nanmean(shift <= 0.05) >= 0.85


def test_frame_scales_with_the_image():
    """A cutout upsampled 2x gives a frame twice as large (within 10 %) around the same point."""
    ratios = []
    for path in SPIN[:40]:
        with Image.open(path) as raw:
            img = raw.convert("RGB")
        a, b = find_galaxy(img), find_galaxy(img.resize((240, 240), Image.Resampling.BICUBIC))
        assert a.fallback == b.fallback
        if not a.fallback:
            ratios.append(b.side / (2 * a.side))
            assert abs(b.center_x / 2 - a.center_x) <= 0.05 * a.side
    assert len(ratios) >= 35
    assert np.all(np.abs(np.asarray(ratios) - 1) <= 0.10)


def test_frame_is_a_fixed_multiple_of_the_galaxy():
    with Image.open(GZ1[0]) as raw:
        arr, info = frame_image(raw, 48)
    assert arr.shape == (48, 48, 3) and arr.dtype == np.uint8
    assert not info.fallback and info.reason == ""
    assert info.side == pytest.approx(FRAME_MULTIPLE * info.radius)


def test_tight_cut_is_padded_with_sky_not_stretched():
    with Image.open(GZ1[5]) as raw:
        img = raw.convert("RGB")
    whole = find_galaxy(img)
    tight, _ = _central(img, 0.4)
    arr, info = frame_image(tight, 64)
    assert info.padded and info.side > tight.size[0]
    assert abs(info.side / whole.side - 1) <= 0.15
    # Corners come from the pad: the border sky colour, not galaxy light.
    assert arr[0, 0].max() <= 60 and arr[-1, -1].max() <= 60


@pytest.mark.parametrize("kind", ["black", "grey", "noise", "tiny"])
def test_fallback_on_blank_and_noise(kind):
    rng = np.random.default_rng(0)
    if kind == "black":
        a = np.zeros((120, 120, 3), np.uint8)
    elif kind == "grey":
        a = np.full((200, 160, 3), 128, np.uint8)
    elif kind == "noise":
        a = np.clip(rng.normal(40, 12, (150, 150, 3)), 0, 255).astype(np.uint8)
    else:
        a = np.zeros((6, 6, 3), np.uint8)
    img = Image.fromarray(a)
    arr, info = frame_image(img, 32)
    assert info.fallback and info.reason
    w, h = img.size
    assert info.side == min(w, h) and (info.center_x, info.center_y) == (w / 2, h / 2)
    # Whole image (square centre), exactly as a centre crop of 1.0 would give.
    assert np.array_equal(arr, prepare_image(img, 32, 1.0))


def test_declared_crop_overrides_framing():
    with Image.open(GZ1[1]) as raw:
        img = raw.convert("RGB")
    arr, info = prepare_with_info(img, 32, 0.45)
    assert info is None
    assert np.array_equal(arr, prepare_image(img, 32, 0.45))
    framed, finfo = prepare_with_info(img, 32)
    assert finfo is not None and np.array_equal(framed, prepare_image(img, 32))
    with pytest.raises(ValueError, match="crop_fraction"):
        prepare_image(img, 32, 0.0)


def test_cache_records_fallbacks(tmp_path):
    files = []
    for i, path in enumerate(GZ1[:2]):
        files.append(tmp_path / f"g{i}.jpg")
        files[-1].write_bytes(path.read_bytes())
    blank = tmp_path / "blank.jpg"
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(blank)
    files.append(blank)
    assert cached_fallbacks(files, 24, None, cache_dir=tmp_path / "c") is None  # not built yet
    arr = cached_arrays(files, 24, None, cache_dir=tmp_path / "c")
    assert arr.shape == (3, 24, 24, 3)
    assert cached_fallbacks(files, 24, None, cache_dir=tmp_path / "c").tolist() == [False, False, True]
    assert cached_fallbacks(files, 24, 0.5, cache_dir=tmp_path / "c").tolist() == [False, False, False]


@pytest.mark.parametrize("constant, value", [("FRAME_MULTIPLE", 3.0), ("ISOPHOTE", 0.3), ("MAX_FRAME_TO_IMAGE", 1.5),
                                             ("MIN_CONTRAST", 0.1), ("FRAMING_VERSION", 99)])
def test_framed_cache_is_keyed_by_every_framing_constant(tmp_path, monkeypatch, constant, value):
    from core.images import framing

    files = [tmp_path / "g.jpg"]
    files[0].write_bytes(GZ1[0].read_bytes())
    framed, cropped = cache_path(files, 24, None, cache_dir=tmp_path), cache_path(files, 24, 0.5, cache_dir=tmp_path)
    monkeypatch.setattr(framing, constant, value)
    assert cache_path(files, 24, None, cache_dir=tmp_path) != framed  # frames from other settings never reused
    assert cache_path(files, 24, 0.5, cache_dir=tmp_path) == cropped  # a declared crop does not frame
