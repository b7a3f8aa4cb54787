"""One range check of the framing parameter, and a folder's declared crop read through read_imageset."""

from __future__ import annotations

import pytest
from PIL import Image

from core.images.crop import is_crop_fraction
from core.images.imageset import IMAGESET_NAME, read_imageset
from core.images.preprocess import centre_crop, folder_crop_fraction


@pytest.mark.parametrize(("value", "ok"), [
    (1, True), (1.0, True), (0.45, True), (1e-6, True),
    (0, False), (0.0, False), (-0.5, False), (1.01, False), (float("nan"), False), (float("inf"), False),
    (True, False), (None, False), ("0.45", False),
])
def test_is_crop_fraction(value, ok):
    assert is_crop_fraction(value) is ok


@pytest.mark.parametrize(("text", "crop"), [
    ('{"crop_fraction": 0.45, "description": "GZ1"}', 0.45),
    ('{"crop_fraction": "0.6"}', 0.6),  # written by hand as text: still read
    ('{"crop_fraction": 1.5}', None),
    ('{"description": "no crop"}', None),
    ('[0.45]', None),
    ('{"crop_fraction": 0.4', None),
])
def test_folder_crop_fraction(tmp_path, text, crop):
    (tmp_path / IMAGESET_NAME).write_text(text, encoding="utf-8")
    assert folder_crop_fraction(tmp_path) == crop
    assert isinstance(read_imageset(tmp_path), dict)


def test_centre_crop_refuses_a_crop_out_of_range():
    with pytest.raises(ValueError, match=r"crop_fraction must be in \(0, 1\], got 1.5"):
        centre_crop(Image.new("RGB", (32, 32)), 16, 1.5)
