"""Is this really a usable galaxy cutout? Checks for HTTP answers, bytes and files on disk.

A cutout is kept only if it is a complete JPEG that Pillow decodes, has the
requested size (when one is given), and is not blank (a near-constant image,
which is what a cutout service returns outside its footprint). HTML error
pages served with status 200 are recognised and named as such.

Every check raises :class:`InvalidImage` with a short ``reason`` that ends up
in the failures table; ``retryable`` says whether asking again may help.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.images.folder import JPEG_EOI, JPEG_MAGIC

#: Below this standard deviation of grey levels (0-255) an image counts as blank.
#: Real SDSS cutouts have >= 11 (sky noise plus the galaxy); blank service answers ~0.
BLANK_STD_THRESHOLD = 2.0
#: Largest cutout accepted (bytes): 2048x2048 JPEGs from SkyServer are well under this.
MAX_IMAGE_BYTES = 20 * 1024 * 1024
JPEG_CONTENT_TYPES = ("image/jpeg", "image/jpg", "image/pjpeg")


class InvalidImage(ValueError):
    """The bytes are not a usable cutout; ``reason`` is short text for the failures table."""

    def __init__(self, reason: str, retryable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str
    std: float  #: standard deviation of grey levels, 0-255


def _looks_like_html(data: bytes) -> bool:
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")) or b"<html" in head


def check_jpeg_bytes(data: bytes, expected_size: tuple[int, int] | None = None) -> ImageInfo:
    """Validate JPEG bytes; ``expected_size`` is (width, height) in pixels or None for any size."""
    if not data:
        raise InvalidImage("empty response body", retryable=True)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidImage(f"image larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    if _looks_like_html(data):
        # SkyServer answers overload and internal errors with an HTML page, sometimes with status 200.
        raise InvalidImage("HTML error page instead of a JPEG", retryable=True)
    if not data.startswith(JPEG_MAGIC):
        raise InvalidImage("not a JPEG (wrong magic bytes)")
    if not data.rstrip(b"\x00\r\n ").endswith(JPEG_EOI):
        raise InvalidImage("truncated JPEG (no end-of-image marker)", retryable=True)
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "JPEG":
                raise InvalidImage(f"not a JPEG (Pillow reads {img.format})")
            width, height, mode = img.width, img.height, img.mode
            # Decode every byte of entropy-coded data (so damage still raises) but let libjpeg scale
            # the output down, which is several times faster and plenty for the blank test.
            img.draft("L", (max(1, width // 4), max(1, height // 4)))
            img.load()
            grey = np.asarray(img.convert("L"), dtype=np.float32)
            info = ImageInfo(width, height, mode, float(grey.std()))
    except InvalidImage:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise InvalidImage(f"JPEG does not decode: {exc}", retryable=True) from None
    if expected_size is not None and (info.width, info.height) != tuple(expected_size):
        raise InvalidImage(
            f"wrong size {info.width}x{info.height}, requested {expected_size[0]}x{expected_size[1]}")
    if info.std < BLANK_STD_THRESHOLD:
        raise InvalidImage(f"blank image (grey-level std {info.std:.2f})")
    return info


def check_response(status: int, content_type: str | None, data: bytes,
                   expected_size: tuple[int, int] | None = None) -> ImageInfo:
    """Validate an HTTP answer: status 200, a JPEG content type, then :func:`check_jpeg_bytes`."""
    if status != 200:
        raise InvalidImage(f"HTTP {status}", retryable=status >= 500 or status == 429)
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in JPEG_CONTENT_TYPES:
        if ctype.startswith("text/html") or _looks_like_html(data):
            raise InvalidImage("HTML error page instead of a JPEG", retryable=True)
        raise InvalidImage(f"content type {ctype or 'missing'!r}, expected image/jpeg")
    return check_jpeg_bytes(data, expected_size)


def check_file(path: Path, expected_size: tuple[int, int] | None = None) -> ImageInfo:
    """Validate a JPEG on disk (raises :class:`InvalidImage`, also when it cannot be read)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise InvalidImage(f"file larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidImage(f"cannot read file: {exc.strerror or exc}") from None
    return check_jpeg_bytes(data, expected_size)


def is_valid_file(path: Path, expected_size: tuple[int, int] | None = None) -> bool:
    """True if :func:`check_file` accepts the file."""
    try:
        check_file(path, expected_size)
    except InvalidImage:
        return False
    return True
