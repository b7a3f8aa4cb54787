"""The one image preprocessing used by training, evaluation and prediction.

:func:`prepare_image` turns any PIL image into a ``(size, size, 3)`` uint8 RGB
array: a centred square crop whose side is ``crop_fraction`` of the shorter
image side (1.0 = the whole square centre, 0.4 = the central 40 %), then an
anti-aliased resize to ``size`` x ``size`` pixels. Galaxy Zoo subjects are
centred on the galaxy, so a centre crop keeps the galaxy and drops sky.

:func:`cached_arrays` runs :func:`prepare_image` once per image set, size and
crop and keeps the result on disk under ``settings.cache_dir`` as a ``.npy``
file. Its key hashes every file's name, byte size and modification time, so a
changed, added or removed image gives a new key (a fresh cache) instead of
stale pixels. For framed sets it also keeps which images fell back to the whole
frame (:func:`cached_fallbacks`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from core.atomic import atomic_file
from core.config import get_settings
from core.images.crop import CROP_RANGE, is_crop_fraction
from core.images.framing import FrameInfo, frame_image, framing_key
from core.images.imageset import read_imageset
from core.images.reading import upright

#: Bumped whenever prepare_image changes, so old caches are not reused.
PREPROCESS_VERSION = 2


def _check(size: int, crop_fraction: float | None) -> None:
    if crop_fraction is not None and not is_crop_fraction(crop_fraction):
        raise ValueError(f"crop_fraction must be in {CROP_RANGE}, got {crop_fraction}")
    if size < 8:
        raise ValueError(f"size must be at least 8 px, got {size}")


def centre_crop(img: Image.Image, size: int, crop_fraction: float) -> np.ndarray:
    """Centred square of ``crop_fraction`` of the shorter side, resized to ``size`` px: uint8 (size, size, 3)."""
    _check(size, crop_fraction)
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    side = max(1.0, min(w, h) * crop_fraction)
    left, top = (w - side) / 2.0, (h - side) / 2.0
    box = (round(left), round(top), round(left + side), round(top + side))
    # reducing_gap makes large downscales fast while staying anti-aliased.
    out = img.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    return np.asarray(out, dtype=np.uint8).copy()


def prepare_with_info(img: Image.Image, size: int,
                      crop_fraction: float | None = None) -> tuple[np.ndarray, FrameInfo | None]:
    """(uint8 (size, size, 3) RGB, FrameInfo) framed by the galaxy; FrameInfo is None with a declared crop."""
    _check(size, crop_fraction)
    if crop_fraction is not None:
        return centre_crop(img, size, crop_fraction), None
    return frame_image(img, size)


def prepare_image(img: Image.Image, size: int, crop_fraction: float | None = None) -> np.ndarray:
    """The model's view of ``img``: uint8 (size, size, 3) RGB, ``size`` px a side.

    ``crop_fraction`` None: framed by the central galaxy; else a centred square
    of that fraction of the shorter side (0 < f <= 1).
    """
    return prepare_with_info(img, size, crop_fraction)[0]


def folder_crop_fraction(images_dir: str | Path) -> float | None:
    """The centre crop an image folder declares in its ``imageset.json`` (key ``crop_fraction``), or None.

    The right crop depends on the pixel scale of a set (GZ1 subject images are
    scaled to the galaxy, 0.2"/px cutouts are tight), so a folder can say it once
    and training, evaluation and the pages all use the same value.
    """
    try:
        value = float(read_imageset(images_dir).get("crop_fraction"))
    except (TypeError, ValueError):
        return None
    return value if is_crop_fraction(value) else None


def prepare_file_with_info(path: Path, size: int,
                           crop_fraction: float | None = None) -> tuple[np.ndarray, FrameInfo | None]:
    """:func:`prepare_with_info` of an image file; the error names the file if it cannot be read."""
    try:
        with Image.open(path) as img:
            return prepare_with_info(upright(img), size, crop_fraction)  # EXIF orientation applied
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


def prepare_file(path: Path, size: int, crop_fraction: float | None = None) -> np.ndarray:
    """:func:`prepare_image` of an image file; the error names the file if it cannot be read."""
    return prepare_file_with_info(path, size, crop_fraction)[0]


def _framing_key(crop_fraction: float | None) -> str:
    return framing_key() if crop_fraction is None else f"{crop_fraction:.6f}"


def files_key(files: Sequence[Path], size: int, crop_fraction: float | None) -> str:
    """Cache key of an image set: SHA-256 over names, byte sizes, mtimes, size, framing/crop and version."""
    h = hashlib.sha256(f"v{PREPROCESS_VERSION}|{size}|{_framing_key(crop_fraction)}|".encode())
    for f in files:
        st = os.stat(f)
        h.update(f"{Path(f).name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def cache_path(files: Sequence[Path], size: int, crop_fraction: float | None,
               cache_dir: Path | None = None) -> Path:
    cache_dir = Path(cache_dir) if cache_dir is not None else get_settings().cache_dir
    return cache_dir / "preprocessed" / f"{files_key(files, size, crop_fraction)}_{size}px.npy"


def _fallback_path(path: Path) -> Path:
    return path.with_name(path.stem + "_fallback.npy")


def _save_atomic(path: Path, arr: np.ndarray) -> None:
    # No fsync: a cache file is checked (shape, dtype) when read back and rebuilt if bad.
    with atomic_file(path, fsync=False) as fh:
        np.save(fh, arr)


def _prepare_one(path: Path, size: int, crop_fraction: float | None) -> tuple[np.ndarray, bool]:
    """(pixels, fell back to the whole image?) of one file."""
    if crop_fraction is not None:
        return prepare_file(path, size, crop_fraction), False
    arr, info = prepare_file_with_info(path, size, None)
    return arr, bool(info is not None and info.fallback)


def cached_arrays(files: Sequence[Path], size: int, crop_fraction: float | None,
                  cache_dir: Path | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  workers: int = 2) -> np.ndarray:
    """Prepared uint8 array (N, size, size, 3) of ``files`` in the given order, from disk cache if valid.

    ``crop_fraction`` None frames each image by its galaxy (see :func:`prepare_image`).
    The cache file is written atomically (temp file + rename), so a killed
    process never leaves a half-written cache behind. ``progress(done, total)``
    is called while building.
    """
    files = [Path(f) for f in files]
    path = cache_path(files, size, crop_fraction, cache_dir)
    if path.exists():
        try:
            arr = np.load(path, mmap_mode="r")
            if arr.shape == (len(files), size, size, 3) and arr.dtype == np.uint8:
                return np.asarray(arr)
        except (OSError, ValueError):
            pass  # unreadable cache: rebuild it below
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    fell_back = np.zeros(len(files), dtype=bool)
    done = 0
    # PIL releases the GIL while decoding JPEGs, so threads help on 2 cores.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, (arr, fb) in enumerate(pool.map(lambda f: _prepare_one(f, size, crop_fraction), files)):
            out[i], fell_back[i] = arr, fb
            done += 1
            if progress is not None and (done % 200 == 0 or done == len(files)):
                progress(done, len(files))
    if crop_fraction is None:
        _save_atomic(_fallback_path(path), fell_back)
    _save_atomic(path, out)
    return out


def cached_fallbacks(files: Sequence[Path], size: int, crop_fraction: float | None,
                     cache_dir: Path | None = None) -> np.ndarray | None:
    """Bool (N,): which of ``files`` fell back to the whole image when :func:`cached_arrays` framed them.

    All False for a declared crop (no framing); None when the framed set is not cached yet.
    """
    if crop_fraction is not None:
        return np.zeros(len(files), dtype=bool)
    path = _fallback_path(cache_path([Path(f) for f in files], size, crop_fraction, cache_dir))
    try:
        flags = np.load(path)
    except (OSError, ValueError):
        return None
    return flags if flags.shape == (len(files),) else None
