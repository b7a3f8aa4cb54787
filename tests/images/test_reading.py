"""Checked image opening: real images pass, broken and hostile ones get a clear error naming the file."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.images.reading import ImageInputError, open_image, sniff_format
from tests.support.tiny_runs import FIXTURES

REAL_JPEG = FIXTURES / "gz1" / "588848901526192251.jpg"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height 8-bit grey pixels (a decompression bomb's shape).

    Its IDAT holds only one compressed row, so decoding it would fail: an error that names the
    size proves the refusal came before any decoding.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def test_real_jpeg_opens_as_rgb_with_its_pixels():
    img = open_image(REAL_JPEG)
    assert img.mode == "RGB" and img.size == (423, 423)
    with Image.open(REAL_JPEG) as ref:
        assert np.array_equal(np.asarray(img), np.asarray(ref.convert("RGB")))


def test_content_decides_not_the_name(tmp_path: Path):
    png_named_jpg = tmp_path / "really_a_png.jpg"
    png_named_jpg.write_bytes(_encode(Image.open(REAL_JPEG), "PNG"))
    assert open_image(png_named_jpg).size == (423, 423)
    assert sniff_format(REAL_JPEG.read_bytes()[:8]) == "JPEG"


def test_text_file_named_jpg_is_refused_naming_the_file(tmp_path: Path):
    fake = tmp_path / "galaxy.jpg"
    fake.write_text("this is not an image\n")
    with pytest.raises(ImageInputError, match=r"^galaxy\.jpg: is not a JPEG or PNG") as exc:
        open_image(fake)
    assert exc.value.name == "galaxy.jpg"


def test_truncated_jpeg_is_refused(tmp_path: Path):
    cut = tmp_path / "cut.jpg"
    data = REAL_JPEG.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageInputError, match=r"cut\.jpg: does not decode completely"):
        open_image(cut)


def test_jpeg_cut_short_with_an_end_marker_appended_is_refused(tmp_path: Path):
    data = REAL_JPEG.read_bytes()
    scan = data.index(b"\xff\xda")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: scan + (len(data) - scan) // 2] + b"\xff\xd9")
    with pytest.raises(ImageInputError, match=r"cut\.jpg: does not decode completely: truncated JPEG"):
        open_image(cut)
    assert open_image(REAL_JPEG).size == Image.open(REAL_JPEG).size


@pytest.mark.parametrize("data, problem", [(b"", "is empty"), (b"GIF89a" + b"\x00" * 50, "is not a JPEG or PNG")])
def test_empty_and_other_formats_are_refused(data: bytes, problem: str):
    with pytest.raises(ImageInputError, match=problem):
        open_image(data, "upload.png")


def test_decompression_bomb_is_refused_before_decoding():
    # 100,000 x 100,000 pixels claimed by a 200-byte file: Pillow's own limit trips at open.
    with pytest.raises(ImageInputError, match=r"bomb\.png: is too large to decode safely"):
        open_image(bomb_png(100_000, 100_000), "bomb.png")
    # Below Pillow's limit but above ours: refused from the header, before decoding
    # (this IDAT is far too short, so decoding would have raised a different error).
    with pytest.raises(ImageInputError, match=r"big\.png: is 9000x5000 = 45,000,000 pixels.*refused before decoding"):
        open_image(bomb_png(9000, 5000), "big.png")


def test_max_pixels_is_configurable():
    with pytest.raises(ImageInputError, match="more than the 10,000 allowed"):
        open_image(REAL_JPEG, max_pixels=10_000)


def test_cmyk_jpeg_is_converted_to_rgb():
    rgb = Image.open(REAL_JPEG).convert("RGB")
    out = open_image(_encode(rgb.convert("CMYK"), "JPEG"), "cmyk.jpg")
    assert out.mode == "RGB" and out.size == rgb.size
    # JPEG is lossy; the converted colours stay close to the original.
    assert np.abs(np.asarray(out, float) - np.asarray(rgb, float)).mean() < 6


def test_grayscale_becomes_three_equal_channels():
    out = open_image(_encode(Image.open(REAL_JPEG).convert("L"), "PNG"), "grey.png")
    arr = np.asarray(out)
    assert out.mode == "RGB" and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2])


def test_sixteen_bit_grayscale_png_keeps_its_range():
    ramp = (np.arange(256 * 4, dtype=np.uint32).reshape(32, 32) * 64).astype(np.uint16)
    out = np.asarray(open_image(_encode(Image.fromarray(ramp), "PNG"), "deep.png"))
    # 0..65535 maps linearly onto 0..255 (not clipped at 255 as a plain mode conversion would do).
    assert out.dtype == np.uint8
    assert np.array_equal(out[..., 0], (ramp // 257).astype(np.uint8))


def test_rgba_png_transparent_areas_become_black_sky():
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., :3] = 200
    rgba[:10, :, 3] = 255  # top half opaque, bottom half fully transparent
    out = np.asarray(open_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"), "alpha.png"))
    assert (out[:10] == 200).all() and (out[10:] == 0).all()


def test_file_like_upload_is_read_from_the_start():
    buf = io.BytesIO(REAL_JPEG.read_bytes())
    buf.name = "upload.jpg"
    buf.read(10)  # a reader that was already touched
    assert open_image(buf).size == (423, 423)


def test_missing_file_names_the_file(tmp_path: Path):
    with pytest.raises(ImageInputError, match=r"nothere\.jpg: cannot be read"):
        open_image(tmp_path / "nothere.jpg")
