"""Checks that decide whether a cutout is kept."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from core.images.check import (
    InvalidImage,
    check_file,
    check_jpeg_bytes,
    check_response,
    is_valid_file,
    jpeg_ends_early,
)
from tests.support.paths import CUTOUT_FIXTURES

FIXTURE = sorted((CUTOUT_FIXTURES / "images").glob("*.jpg"))[0]


def _jpeg(size=(120, 120), color=None) -> bytes:
    img = Image.open(FIXTURE).convert("RGB").resize(size) if color is None else Image.new("RGB", size, color)
    buf = io.BytesIO()
    img.save(buf, format="JPEG")
    return buf.getvalue()


def test_real_cutout_passes_with_its_size():
    info = check_jpeg_bytes(FIXTURE.read_bytes(), (120, 120))
    assert (info.width, info.height) == (120, 120) and info.std > 10


@pytest.mark.parametrize("data, reason, retryable", [
    (b"", "empty", True),
    (b"<!DOCTYPE html><html><body>Server too busy</body></html>", "an HTML page instead of a JPEG", True),
    (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "not a JPEG", True),
])
def test_non_images_are_named(data, reason, retryable):
    with pytest.raises(InvalidImage, match=reason) as err:
        check_jpeg_bytes(data)
    assert err.value.retryable is retryable


def test_truncated_jpeg_is_refused_and_retryable():
    data = FIXTURE.read_bytes()
    with pytest.raises(InvalidImage, match="truncated") as err:
        check_jpeg_bytes(data[: len(data) // 2])
    assert err.value.retryable


@pytest.mark.parametrize("kept", [0.2, 0.5, 0.9, 0.97])
def test_jpeg_cut_short_then_closed_with_an_end_marker_is_refused(kept):
    data = FIXTURE.read_bytes()
    scan = data.index(b"\xff\xda")  # start of the entropy-coded data
    cut = data[: scan + int((len(data) - scan) * kept)] + b"\xff\xd9"
    with Image.open(io.BytesIO(cut)) as img:
        img.load()  # Pillow decodes it without complaint: the missing blocks come out grey
    with pytest.raises(InvalidImage, match="image data ends early") as err:
        check_jpeg_bytes(cut, (120, 120))
    assert err.value.retryable
    assert jpeg_ends_early(cut) and not jpeg_ends_early(data)


def test_no_real_cutout_looks_cut_short():
    files = sorted((CUTOUT_FIXTURES / "images").glob("*.jpg"))
    assert len(files) == 40
    for path in files:
        check_jpeg_bytes(path.read_bytes())
        assert not jpeg_ends_early(path.read_bytes()), path.name


def test_corrupt_middle_does_not_decode():
    data = bytearray(FIXTURE.read_bytes())
    data[20:400] = b"\x00" * 380  # wipes the quantisation/Huffman tables
    with pytest.raises(InvalidImage, match="decode|magic"):
        check_jpeg_bytes(bytes(data))


def test_wrong_size_is_refused_but_any_size_accepted_without_expectation():
    data = _jpeg((100, 80))
    with pytest.raises(InvalidImage, match="wrong size 100x80, requested 120x120") as err:
        check_jpeg_bytes(data, (120, 120))
    assert err.value.retryable  # a content fault: retried like a 5xx, up to the retry limit
    assert check_jpeg_bytes(data).width == 100


def test_blank_image_is_refused():
    with pytest.raises(InvalidImage, match="blank"):
        check_jpeg_bytes(_jpeg(color=(0, 0, 0)))
    with pytest.raises(InvalidImage, match="blank"):
        check_jpeg_bytes(_jpeg(color=(255, 255, 255)))


@pytest.mark.parametrize("status, ctype, body, reason, retryable", [
    (500, "text/html", b"<html></html>", "server answered HTTP 500", True),
    (503, "text/html", b"", "HTTP 503", True),
    (429, "text/plain", b"", "HTTP 429", True),
    (404, "text/html", b"", "HTTP 404", False),
    (400, "text/plain", b"", "HTTP 400", False),
    (200, "text/html; charset=utf-8", b"<html>busy</html>", "HTML page instead of a JPEG", True),
    (200, "application/octet-stream", b"xx", "application/octet-stream instead of a JPEG", True),
])
def test_http_answers(status, ctype, body, reason, retryable):
    with pytest.raises(InvalidImage, match=reason) as err:
        check_response(status, ctype, body, (120, 120))
    assert err.value.retryable is retryable


def test_good_http_answer():
    assert check_response(200, "image/jpeg", FIXTURE.read_bytes(), (120, 120)).width == 120


def test_files_on_disk(tmp_path):
    good, bad = tmp_path / "1.jpg", tmp_path / "2.jpg"
    good.write_bytes(FIXTURE.read_bytes())
    bad.write_bytes(FIXTURE.read_bytes()[:500])
    assert check_file(good).height == 120
    assert is_valid_file(good) and not is_valid_file(bad) and not is_valid_file(tmp_path / "missing.jpg")
    with pytest.raises(InvalidImage, match="cannot read"):
        check_file(tmp_path / "missing.jpg")
