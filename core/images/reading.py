"""Checked opening of images that come from users: uploads, the CLI, image folders.

Every image a model sees at prediction time passes through :func:`open_image`:

* the format is decided by the first bytes (JPEG or PNG), not by the file name;
* the pixel count is read from the header and refused above ``max_pixels``
  *before* any pixel is decoded, so a decompression bomb costs nothing;
* the image must decode completely (a truncated JPEG is refused, not padded grey, even when
  an end marker was appended after the cut);
* grayscale, palette, 16-bit, RGBA/LA and CMYK images are converted to 8-bit RGB
  (transparent areas become black, the colour of empty sky);
* the EXIF Orientation tag is applied (:func:`upright`), so the pixels are those a browser shows.

Every other place that reads an image file (training's preprocessing, previews, the
gallery and Classify thumbnails) goes through :func:`upright`, :func:`read_upright` or
:func:`display_source`, so a model is trained on, and predicts, what the visitor sees.

Anything else raises :class:`ImageInputError`, whose message names the file.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps

from core.images.check import jpeg_ends_early
from core.images.folder import sniff_format

#: Largest accepted image, in pixels (width x height). SDSS cutouts are far smaller;
#: 40 megapixels still admits a large phone photo.
DEFAULT_MAX_PIXELS = 40_000_000

#: Largest accepted file, in bytes (a JPEG/PNG of DEFAULT_MAX_PIXELS fits well below this).
DEFAULT_MAX_BYTES = 60 * 1024 * 1024

#: The EXIF Orientation tag: 1 is upright; 2-8 say how the stored pixels are turned or mirrored
#: relative to what a browser shows (2, 4, 5 and 7 are mirror images, so a spiral's spin reverses).
ORIENTATION_TAG = 0x0112


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


def orientation(img: Image.Image) -> int:
    """The image's EXIF orientation, 1-8 (1, upright, when absent or not a valid value)."""
    try:
        value = int(img.getexif().get(ORIENTATION_TAG, 1))
    except (TypeError, ValueError, OSError, SyntaxError):
        return 1
    return value if 1 <= value <= 8 else 1


def upright(img: Image.Image) -> Image.Image:
    """``img`` as a browser shows it: its EXIF orientation applied and the tag reset.

    Returns ``img`` itself when it is already upright (orientation 1 or no tag), a new
    image otherwise. The one place where orientation is applied.
    """
    if orientation(img) == 1:
        return img
    return ImageOps.exif_transpose(img)


def read_upright(path: str | os.PathLike) -> Image.Image:
    """Decode an image file completely, upright (:func:`upright`); no checks beyond Pillow's.

    For previews of files already checked on the way in; user input goes through :func:`open_image`.
    """
    with Image.open(path) as img:
        img.load()
        turned = upright(img)
        return turned if turned is not img else img.copy()


def upright_jpeg_bytes(data: bytes, quality: int = 95) -> bytes:
    """JPEG bytes whose stored pixels are upright: ``data`` itself when its EXIF orientation is 1.

    Otherwise the image is turned (:func:`upright`) and re-encoded at ``quality`` with full-
    resolution colour (4:4:4) and its ICC profile, without EXIF. Bytes Pillow cannot read are
    returned unchanged, for the caller's checks to refuse.
    """
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
            if orientation(img) == 1:
                return data
            img.load()
            turned = upright(img)
            buf = io.BytesIO()
            icc = img.info.get("icc_profile")
            turned.save(buf, "JPEG", quality=quality, subsampling=0, **({"icc_profile": icc} if icc else {}))
            return buf.getvalue()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return data


def display_source(path: str | os.PathLike) -> str | Image.Image:
    """What to hand ``st.image`` for an image file so it is drawn upright whatever its size.

    The path itself for an upright file (its bytes are served as they are), the upright
    decoded image for one with an EXIF orientation (Streamlit drops EXIF when it resizes,
    so the tag alone would be lost on thumbnails). An unreadable file gives the path back.
    """
    try:
        with Image.open(path) as img:
            if orientation(img) == 1:
                return str(path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return str(path)
    try:
        return read_upright(path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return str(path)


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
    The EXIF orientation is applied (:func:`upright`).
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
        return _to_rgb(upright(img))
    except Exception as exc:
        raise ImageInputError(label, f"has an unsupported colour mode {img.mode!r} ({exc})") from exc

