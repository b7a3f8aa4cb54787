"""EXIF orientation: every reader sees an image as the visitor's browser shows it.

The eight EXIF Orientation values are written out here from the EXIF 2.3 definition (what the
stored pixels' first row and column are on screen), independently of Pillow's own table:
``SHOWN[k](raw)`` is the picture a browser draws for stored pixels ``raw`` tagged ``k``, and
``STORED[k]`` is its inverse (the pixels a camera writes for an upright scene).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.images.importer import import_folder
from core.images.preprocess import prepare_file, prepare_image
from core.images.reading import display_source, open_image, orientation, read_upright, upright_jpeg_bytes
from core.inference.batch import predict_one
from core.inference.predict import crop_for_images, load_run
from core.schema import RAW_COLUMNS
from tests.support.paths import REPO_ROOT

SHOWN = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # turned 180 degrees
    4: lambda a: a[::-1, :],  # mirrored top-bottom
    5: lambda a: a.swapaxes(0, 1),  # mirrored about the main diagonal
    6: lambda a: np.rot90(a, -1),  # stored turned 90 anticlockwise: shown turned clockwise
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # mirrored about the other diagonal
    8: lambda a: np.rot90(a, 1),  # shown turned 90 anticlockwise
}
STORED = {1: SHOWN[1], 2: SHOWN[2], 3: SHOWN[3], 4: SHOWN[4], 5: SHOWN[5], 6: SHOWN[8], 7: SHOWN[7], 8: SHOWN[6]}
MIRRORED = (2, 4, 5, 7)


def _upright() -> np.ndarray:
    """A 24 x 40 (rows x columns) RGB picture with no symmetry: gradients plus a corner marker."""
    rows, cols = np.mgrid[0:24, 0:40]
    img = np.stack([rows * 10, cols * 6, 240 - rows * cols // 5], axis=-1).astype(np.uint8)
    img[:8, :8] = (255, 255, 0)
    return img


def _tagged(raw: np.ndarray, k: int, fmt: str, **save) -> bytes:
    """``raw`` encoded as ``fmt`` with EXIF Orientation ``k``."""
    img = Image.fromarray(np.ascontiguousarray(raw))
    exif = Image.Exif()
    exif[0x0112] = k
    buf = io.BytesIO()
    img.save(buf, fmt, exif=exif, **save)
    return buf.getvalue()


def _stored_pixels(data: bytes) -> np.ndarray:
    """The pixels as stored in the file, orientation not applied (what the code read before)."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def test_orientation_tables_are_inverse_and_mirrored_ones_are_mirror_images():
    up = _upright()
    for k in SHOWN:
        assert np.array_equal(SHOWN[k](STORED[k](up)), up)
    square = up[:24, :24]
    for k in MIRRORED:  # a mirror image cannot be turned back: its handedness differs
        assert not any(np.array_equal(np.rot90(SHOWN[k](square), t), square) for t in range(4))


@pytest.mark.parametrize("k", sorted(SHOWN))
def test_every_orientation_opens_as_the_upright_picture(k: int):
    up = _upright()
    png = _tagged(STORED[k](up), k, "PNG")  # lossless: the exact upright pixels must come back
    with Image.open(io.BytesIO(png)) as img:
        assert orientation(img) == k
    assert np.array_equal(np.asarray(open_image(png, "x.png")), up)

    jpeg = _tagged(STORED[k](up), k, "JPEG", quality=95, subsampling=0)
    shown = SHOWN[k](_stored_pixels(jpeg))  # what a browser draws for this file
    assert shown.shape == up.shape
    assert np.array_equal(np.asarray(open_image(jpeg, "x.jpg")), shown)
    assert np.abs(shown.astype(int) - up).mean() < 3  # and that is the upright picture (JPEG loss only)


@pytest.mark.parametrize("k", [1, 2, 6, 7])
def test_previews_training_preparation_and_thumbnails_are_upright(tmp_path: Path, k: int):
    up = _upright()
    path = tmp_path / "g.jpg"
    path.write_bytes(_tagged(STORED[k](up), k, "JPEG", quality=95))
    shown = SHOWN[k](_stored_pixels(path.read_bytes()))
    with read_upright(path) as preview:
        assert np.array_equal(np.asarray(preview.convert("RGB")), shown)
    # Training and folder prediction read files through prepare_file (and its disk cache).
    assert np.array_equal(prepare_file(path, 32), prepare_image(Image.fromarray(shown), 32))
    source = display_source(path)
    if k == 1:
        assert source == str(path)  # upright files are served as they are
    else:
        assert np.array_equal(np.asarray(source.convert("RGB")), shown)


def test_import_stores_upright_pixels_and_checks_the_upright_size(tmp_path: Path):
    up = _upright()
    src = tmp_path / "src"
    src.mkdir()
    turned = _tagged(STORED[6](up), 6, "JPEG", quality=95)
    plain = _tagged(up, 1, "JPEG", quality=95)
    (src / "6.jpg").write_bytes(turned)
    (src / "1.jpg").write_bytes(plain)
    report = import_folder(src, tmp_path / "dest", expected_size=(40, 24))  # (width, height) as shown
    assert sorted(report.imported) == ["1", "6"], report.rejected
    assert (tmp_path / "dest" / "1.jpg").read_bytes() == plain  # nothing to turn: byte for byte
    stored = (tmp_path / "dest" / "6.jpg").read_bytes()
    with Image.open(io.BytesIO(stored)) as img:
        assert orientation(img) == 1 and img.size == (40, 24)
    assert np.abs(_stored_pixels(stored).astype(int) - SHOWN[6](_stored_pixels(turned))).mean() < 2
    assert upright_jpeg_bytes(stored) is stored

    refused = import_folder(src, tmp_path / "other", expected_size=(24, 40))  # the stored, sideways size
    assert [name for name, _ in refused.rejected] == ["1.jpg", "6.jpg"]


def test_prediction_is_that_of_the_picture_shown_and_mirrored_tags_swap_the_spin(tmp_path: Path):
    """For all 8 k: predict(file tagged k) == predict(the pixels a browser shows for it).

    The file stores a clockwise spiral's pixels turned by STORED[k], so the browser shows the
    upright spiral. On the mirrored tags the stored pixels alone are an anticlockwise spiral:
    reading them raw (as before) gave the opposite spin; reading them upright keeps the spin shown.
    """
    run = load_run(REPO_ROOT / "models" / "demo")
    cw, acw = RAW_COLUMNS.index("P_CW"), RAW_COLUMNS.index("P_ACW")
    files = sorted((REPO_ROOT / "data" / "demo" / "spin").glob("*.jpg"))[:12]
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    p = run.predict(np.stack(images))
    q = run.predict([Image.fromarray(im[:, ::-1].copy()) for im in images])
    # A spiral the model calls clearly one way, and the other way once mirrored.
    margin = np.where(np.sign(p[:, cw] - p[:, acw]) != np.sign(q[:, cw] - q[:, acw]),
                      np.abs(p[:, cw] - p[:, acw]), 0)
    up = images[int(np.argmax(margin))]
    assert margin.max() > 0.2
    crop = crop_for_images(run, tmp_path)  # the crop predict_one uses for a file in tmp_path
    p_up = run.predict([Image.fromarray(up)], crop_fraction=crop)[0]
    spin_up = np.sign(p_up[cw] - p_up[acw])
    for k in SHOWN:
        path = tmp_path / f"k{k}.jpg"
        path.write_bytes(_tagged(STORED[k](up), k, "JPEG", quality=95))
        stored = _stored_pixels(path.read_bytes())
        got = predict_one(run, path)[:9]  # the nine fractions (then TOP_P and the SDs)
        shown = Image.fromarray(SHOWN[k](stored).copy())
        np.testing.assert_allclose(got, run.predict([shown], crop_fraction=crop)[0], atol=1e-5)
        if k in MIRRORED:
            raw = run.predict([Image.fromarray(stored)], crop_fraction=crop)[0]
            assert np.sign(got[cw] - got[acw]) == spin_up
            assert np.sign(raw[cw] - raw[acw]) == -spin_up
