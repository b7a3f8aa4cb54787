"""Grad-CAM saliency maps: original-image shape, non-negative, sum 1, learned columns only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.exit_codes import ExitCode
from core.explain.answers import UnlearnedColumnError, answer_index
from core.explain.geometry import ModelBox, model_box, to_original
from core.explain.saliency import explain_image, normalised
from core.inference.predict import load_run

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "demo"
GZ1 = REPO / "tests" / "fixtures" / "predict" / "gz1"


@pytest.fixture(scope="module")
def run():
    return load_run(DEMO_MODEL)


def _image() -> Path:
    return sorted(GZ1.glob("*.jpg"))[0]


def test_map_has_the_original_shape_is_non_negative_and_sums_to_one(run):
    img = Image.open(_image()).convert("RGB")
    # A non-square cut of the image, so height and width cannot be swapped unnoticed.
    w, h = img.size
    img = img.crop((0, 10, w - 7, h - 30))
    result = explain_image(run, img, "P_EL")
    assert result.values.shape == (img.size[1], img.size[0])
    assert result.values.dtype == np.float32
    assert (result.values >= 0).all()
    assert result.values.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= result.fraction <= 1.0 and result.column == "P_EL"
    # The mass lies where the model looked: inside its frame box.
    box = result.box
    ys, xs = np.nonzero(result.values)
    assert xs.min() >= np.floor(box.left) - 1 and xs.max() <= np.ceil(box.right)
    assert ys.min() >= np.floor(box.top) - 1 and ys.max() <= np.ceil(box.bottom)


def test_maps_differ_between_answers(run):
    img = Image.open(_image()).convert("RGB")
    a = explain_image(run, img, "P_EL").cam
    b = explain_image(run, img, "P_EDGE").cam
    assert not np.allclose(a / max(a.sum(), 1e-12), b / max(b.sum(), 1e-12))


def test_declared_crop_box_maps_back_inside_the_crop():
    img = Image.new("RGB", (100, 80))
    box = model_box(img, 0.5)
    assert (box.left, box.top, box.right, box.bottom) == (30, 20, 70, 60)
    values = to_original(np.ones((4, 4)), box, 100, 80)
    assert values.shape == (80, 100)
    assert values[20:60, 30:70].min() == 1.0
    assert values.sum() == pytest.approx(40 * 40)


def test_to_original_keeps_left_right_and_up_down():
    cam = np.zeros((2, 2))
    cam[0, 1] = 1.0  # top right cell
    out = to_original(cam, ModelBox(0, 0, 10, 10), 10, 10)
    assert out[:5, 5:].sum() > 10 * out[5:, :5].sum()


def test_all_zero_cam_becomes_a_uniform_map_and_says_so():
    values, uniform = normalised(np.zeros((6, 5)))
    assert uniform and values.shape == (6, 5) and values.sum() == pytest.approx(1.0)
    values, uniform = normalised(np.array([[0.0, 3.0], [-1.0, 1.0]]))
    assert not uniform and values.tolist() == [[0.0, 0.75], [0.0, 0.25]]


def test_unlearned_and_unknown_columns_are_refused(run):
    assert not run.learned[7]  # the demo model had no debiased labels
    with pytest.raises(UnlearnedColumnError, match="P_EL_DEBIASED.*never learned.*learned columns: P_EL, P_CW"):
        answer_index("p_el_debiased", run.learned)
    with pytest.raises(UnlearnedColumnError, match="'P_SPIRAL' is not a vote column"):
        answer_index("P_SPIRAL", run.learned)
    assert answer_index("gz1_p_cw", run.learned) == 1


def test_cli_writes_map_and_overlay(tmp_path, capsys):
    out, png = tmp_path / "map.npy", tmp_path / "overlay.png"
    code = main(["explain", str(_image()), "--model", str(DEMO_MODEL), "--answer", "P_EL",
                 "--out", str(out), "--png", str(png)])
    assert code == ExitCode.OK
    values = np.load(out, allow_pickle=False)
    with Image.open(_image()) as img, Image.open(png) as over:
        assert values.shape == (img.size[1], img.size[0]) and over.size == img.size
    assert values.sum(dtype=np.float64) == pytest.approx(1.0, abs=1e-5)
    assert "P_EL=" in capsys.readouterr().out


def test_cli_refuses_an_unlearned_column(tmp_path, capsys):
    out = tmp_path / "map.npy"
    code = main(["explain", str(_image()), "--model", str(DEMO_MODEL), "--answer", "P_CS_DEBIASED",
                 "--out", str(out)])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "P_CS_DEBIASED" in err and "learned columns: P_EL" in err
    assert not out.exists()
