"""Checked opening of images that come from users: uploads, the CLI, image folders.

Every image a model sees at prediction time passes through :func:`open_image`:

* the format is decided by the first bytes (JPEG or PNG), not by the file name;
* the pixel count is read from the header and refused above ``max_pixels``
  *before* any pixel is decoded, so a decompression bomb costs nothing;
* the image must decode completely (a truncated JPEG is refused, not padded grey, even when
  an end marker was appended after the cut);
* grayscale, palette, 16-bit, RGBA/LA and CMYK images are converted to 8-bit RGB
  (transparent areas become black, the colour of empty sky).

Anything else raises :class:`ImageInputError`, whose message names the file.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile

from core.images.check import jpeg_ends_early
from core.images.folder import sniff_format

#: Largest accepted image, in pixels (width x height). SDSS cutouts are far smaller;
#: 40 megapixels still admits a large phone photo.
DEFAULT_MAX_PIXELS = 40_000_000

#: Largest accepted file, in bytes (a JPEG/PNG of DEFAULT_MAX_PIXELS fits well below this).
DEFAULT_MAX_BYTES = 60 * 1024 * 1024


class ImageInputError(ValueError):
    """An image that cannot be used; ``name`` is the file it came from."""

    def __init__(self, name: str, problem: str):
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


def _read_bytes(source: str | os.PathLike | bytes | BinaryIO, name: str, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImageInputError(name, f"cannot be read ({exc.strerror or exc})") from exc
        if size > max_bytes:
            raise ImageInputError(name, f"file is {size / 1e6:.1f} MB, more than the {max_bytes / 1e6:.0f} MB allowed")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageInputError(name, f"cannot be read ({exc.strerror or exc})") from exc
    else:  # binary file-like, e.g. a Streamlit UploadedFile
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read(max_bytes + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise ImageInputError(name, "is not a binary file")
        data = bytes(data)
    if len(data) > max_bytes:
        raise ImageInputError(name, f"file is larger than the {max_bytes / 1e6:.0f} MB allowed")
    if not data:
        raise ImageInputError(name, "is empty")
    return data


def _source_name(source: object, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return str(getattr(source, "name", None) or "uploaded image")


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode Pillow decodes for JPEG/PNG."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit or 32-bit grayscale: scale the full 16-bit range to 8 bits.
        arr = np.asarray(img, dtype=np.float64)
        scaled = np.clip(arr / 257.0, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([scaled] * 3, axis=-1), "RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, ...


def open_image(
    source: str | os.PathLike | bytes | BinaryIO,
    name: str | None = None,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Image.Image:
    """Open, check and fully decode one JPEG or PNG; return an 8-bit RGB image.

    ``source`` is a path, the file's bytes, or a binary file-like object;
    ``name`` is used in error messages (default: the file name).
    Raises :class:`ImageInputError` for anything that is not a usable image.
    """
    label = _source_name(source, name)
    data = _read_bytes(source, label, max_bytes)
    fmt = sniff_format(data[:8])
    if fmt is None:
        raise ImageInputError(label, "is not a JPEG or PNG image (its content says otherwise, whatever its name)")
    # Pillow's own bomb guard warns (or raises) on size; we check the header size ourselves
    # first, and turn any remaining warning into an error rather than a console message.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=[fmt])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(label, f"is too large to decode safely ({exc})") from exc
        except Exception as exc:  # Pillow raises several types for broken headers
            raise ImageInputError(label, f"is not a readable {fmt} image ({exc})") from exc
        width, height = img.size
        if width < 1 or height < 1:
            raise ImageInputError(label, f"has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageInputError(
                label,
                f"is {width}x{height} = {width * height:,} pixels, more than the {max_pixels:,} allowed "
                "(refused before decoding)",
            )
        if ImageFile.LOAD_TRUNCATED_IMAGES:
            raise ImageInputError(label, "cannot be checked: PIL.ImageFile.LOAD_TRUNCATED_IMAGES is switched on")
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(label, f"is too large to decode safely ({exc})") from exc
        except Exception as exc:
            raise ImageInputError(label, f"does not decode completely: truncated or corrupt {fmt} ({exc})") from exc
    if fmt == "JPEG" and jpeg_ends_early(data):
        raise ImageInputError(label, "does not decode completely: truncated JPEG (its image data ends early)")
    try:
        return _to_rgb(img)
    except Exception as exc:
        raise ImageInputError(label, f"has an unsupported colour mode {img.mode!r} ({exc})") from exc

