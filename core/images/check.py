"""Is this really a usable galaxy cutout? Checks for HTTP answers, bytes and files on disk.

A cutout is kept only if it is a complete JPEG that Pillow decodes, has the
requested size (when one is given), and is not blank (a near-constant image,
which is what a cutout service returns outside its footprint). HTML error
pages served with status 200 are recognised and named as such.

A JPEG cut short and then closed with an ``FF D9`` end marker decodes without an
error: libjpeg only warns and fills the missing blocks with zero coefficients,
i.e. flat grey 128. :func:`ends_early` spots that: the last 8x8 luma block of a
real cutout is never exactly flat 128 (sky noise), that of a cut one always is.

Every check raises :class:`InvalidImage` with a short plain-words ``reason`` that
ends up in the failures table (``detail`` keeps the decoder's message);
``retryable`` says whether asking again may help: server errors and damaged
answers (HTML, truncated, wrong size, blank) are retried, other 4xx answers are not.
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
HTML_REASON = "the server sent an HTML page instead of a JPEG"
TRUNCATED_DATA_REASON = "truncated JPEG (image data ends early)"


class InvalidImage(ValueError):
    """The bytes are not a usable cutout; ``reason`` is short text for the failures table."""

    def __init__(self, reason: str, retryable: bool = False, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.detail = detail


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
        raise InvalidImage("empty (0 bytes)", retryable=True)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidImage(f"image larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    if _looks_like_html(data):
        # SkyServer answers overload and internal errors with an HTML page, sometimes with status 200.
        raise InvalidImage("an HTML page instead of a JPEG", retryable=True)
    if not data.startswith(JPEG_MAGIC):
        raise InvalidImage("not a JPEG (its first bytes say otherwise)", retryable=True)
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
        raise InvalidImage("the JPEG does not decode", retryable=True, detail=str(exc)[:200]) from None
    if expected_size is not None and (info.width, info.height) != tuple(expected_size):
        raise InvalidImage(
            f"wrong size {info.width}x{info.height}, requested {expected_size[0]}x{expected_size[1]}",
            retryable=True)
    if info.std < BLANK_STD_THRESHOLD:
        raise InvalidImage(f"blank image (grey-level std {info.std:.2f})", retryable=True)
    if ends_early(grey, (width, height)):
        raise InvalidImage(TRUNCATED_DATA_REASON, retryable=True)
    return info


def ends_early(grey: np.ndarray, full_size: tuple[int, int]) -> bool:
    """True when the JPEG's entropy-coded data ended before its last block.

    ``grey`` is the decoded luma (mode "L", possibly scaled down by ``draft``);
    ``full_size`` is the image's (width, height) in pixels. The visible part of the
    last 8x8 block must not be exactly flat 128, the value libjpeg gives a block it
    had no data for.
    """
    height, width = grey.shape[:2]
    full_w, full_h = full_size
    if width == 0 or height == 0 or float(np.std(grey)) < BLANK_STD_THRESHOLD:
        return False  # a flat image is blank, not cut short
    # The visible part of the last block (an image need not be a multiple of 8 wide), scaled like grey.
    cols = max(1, -(-((full_w - 1) % 8 + 1) * width // full_w))
    rows = max(1, -(-((full_h - 1) % 8 + 1) * height // full_h))
    return bool(np.all(grey[-rows:, -cols:] == 128))


def jpeg_ends_early(data: bytes) -> bool:
    """:func:`ends_early` for JPEG bytes, decoding the luma only (False if the bytes do not decode)."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
            size = img.size
            img.draft("L", (max(1, size[0] // 4), max(1, size[1] // 4)))  # libjpeg's DCT scaling: fast
            img.load()
            return ends_early(np.asarray(img.convert("L")), size)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False


def check_response(status: int, content_type: str | None, data: bytes,
                   expected_size: tuple[int, int] | None = None) -> ImageInfo:
    """Validate an HTTP answer: status 200, a JPEG content type, then :func:`check_jpeg_bytes`."""
    if status != 200:
        raise InvalidImage(f"server answered HTTP {status}", retryable=status >= 500 or status == 429)
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype.startswith("text/html") or _looks_like_html(data):
        raise InvalidImage(HTML_REASON, retryable=True)
    if ctype not in JPEG_CONTENT_TYPES:
        raise InvalidImage(f"the server sent {ctype or 'no content type'} instead of a JPEG", retryable=True)
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
