"""The framing parameter: one name (older spellings still read), one range check, a folder's declared crop."""

from __future__ import annotations

import argparse

import pytest
from PIL import Image

from core.images.crop import CROP_FLAG, add_crop_option, is_crop_fraction, stored_crop_fraction
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


@pytest.mark.parametrize("repeat", [False, True])
def test_the_option_has_one_name_and_still_reads_the_older_spelling(repeat, capsys):
    p = argparse.ArgumentParser(prog="gz")
    add_crop_option(p, "centre crop", repeat=repeat)
    want = [0.45] if repeat else 0.45
    assert p.parse_args([CROP_FLAG, "0.45"]).crop_fraction == want
    assert p.parse_args(["--crop", "0.45"]).crop_fraction == want  # commands recorded before the rename
    assert p.parse_args([]).crop_fraction is None
    if repeat:
        assert p.parse_args([CROP_FLAG, "1", "--crop", "0.5"]).crop_fraction == [1.0, 0.5]
    assert "--crop-fraction F" in p.format_help() and "--crop " not in p.format_help()
    for bad, why in (("1.5", "must be in (0, 1]"), ("nan", "must be in (0, 1]"), ("half", "not a number: 'half'")):
        with pytest.raises(SystemExit) as exc:
            p.parse_args([CROP_FLAG, bad])
        assert exc.value.code == 2 and why in capsys.readouterr().err


@pytest.mark.parametrize(("source", "default", "want"), [
    ({"crop_fraction": 0.45}, 1.0, 0.45),
    ({"crop_fraction": None}, 1.0, None),
    ({"crop": 0.6}, 1.0, 0.6),         # config.json written before the rename
    ({"crop": None}, 1.0, None),
    ({}, 1.0, 1.0),                    # written before framing existed: the whole image
    ({}, None, None),                  # a caller's own default (prediction: the run's)
])
def test_stored_crop_fraction(source, default, want):
    assert stored_crop_fraction(source, default) == want
