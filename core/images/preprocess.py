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
stale pixels.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from core.config import get_settings

#: Bumped whenever prepare_image changes, so old caches are not reused.
PREPROCESS_VERSION = 1


def prepare_image(img: Image.Image, size: int, crop_fraction: float) -> np.ndarray:
    """Centre-crop ``crop_fraction`` of the shorter side, resize to ``size`` px, return uint8 (size, size, 3) RGB.

    ``crop_fraction`` is a fraction of the image side (0 < f <= 1), not pixels;
    ``size`` is the output side in pixels.
    """
    if not 0 < crop_fraction <= 1:
        raise ValueError(f"crop_fraction must be in (0, 1], got {crop_fraction}")
    if size < 8:
        raise ValueError(f"size must be at least 8 px, got {size}")
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    side = max(1.0, min(w, h) * crop_fraction)
    left, top = (w - side) / 2.0, (h - side) / 2.0
    box = (round(left), round(top), round(left + side), round(top + side))
    # reducing_gap makes large downscales fast while staying anti-aliased.
    out = img.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    return np.asarray(out, dtype=np.uint8).copy()


#: Optional file in an image folder describing the set, e.g. {"crop_fraction": 0.45, "description": "..."}.
IMAGESET_FILE = "imageset.json"


def folder_crop_fraction(images_dir: str | Path) -> float | None:
    """The centre crop an image folder declares in its ``imageset.json``, or None.

    The right crop depends on the pixel scale of a set (GZ1 subject images are
    scaled to the galaxy, 0.2"/px cutouts are tight), so a folder can say it once
    and training, evaluation and the pages all use the same value.
    """
    import json

    path = Path(images_dir) / IMAGESET_FILE
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("crop_fraction")
    except (OSError, ValueError, AttributeError):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if 0 < value <= 1 else None


def prepare_file(path: Path, size: int, crop_fraction: float) -> np.ndarray:
    """:func:`prepare_image` of an image file; the error names the file if it cannot be read."""
    try:
        with Image.open(path) as img:
            return prepare_image(img, size, crop_fraction)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


def files_key(files: Sequence[Path], size: int, crop_fraction: float) -> str:
    """Cache key of an image set: SHA-256 over names, byte sizes, mtimes, size, crop and version."""
    h = hashlib.sha256(f"v{PREPROCESS_VERSION}|{size}|{crop_fraction:.6f}|".encode())
    for f in files:
        st = os.stat(f)
        h.update(f"{Path(f).name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


def cache_path(files: Sequence[Path], size: int, crop_fraction: float,
               cache_dir: Path | None = None) -> Path:
    cache_dir = Path(cache_dir) if cache_dir is not None else get_settings().cache_dir
    return cache_dir / "preprocessed" / f"{files_key(files, size, crop_fraction)}_{size}px.npy"


def cached_arrays(files: Sequence[Path], size: int, crop_fraction: float,
                  cache_dir: Path | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  workers: int = 2) -> np.ndarray:
    """Prepared uint8 array (N, size, size, 3) of ``files`` in the given order, from disk cache if valid.

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
    done = 0
    # PIL releases the GIL while decoding JPEGs, so threads help on 2 cores.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, arr in enumerate(pool.map(lambda f: prepare_file(f, size, crop_fraction), files)):
            out[i] = arr
            done += 1
            if progress is not None and (done % 200 == 0 or done == len(files)):
                progress(done, len(files))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cache.", suffix=".npy", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
