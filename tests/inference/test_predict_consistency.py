"""One inference path: the page, the CLI and ``evaluate`` give the same numbers; TTA handles mirror images."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from streamlit.testing.v1 import AppTest

from core.__main__ import main
from core.images.preprocess import prepare_image
from core.images.reading import open_image
from core.inference.batch import predict_one
from core.inference.compare import evaluate_run
from core.inference.galaxy_sets import set_from_catalog_file
from core.inference.predict import evaluate_labelled_set, load_run
from core.inference.predictions_csv import read_predictions
from core.schema import VOTE_COLUMNS
from tests.support.paths import page_file
from tests.support.tiny_runs import FIXTURES, make_run

PAGE = Path(page_file("predict"))
CW, ACW = VOTE_COLUMNS.index("P_CW"), VOTE_COLUMNS.index("P_ACW")


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path):
    """models/demo (untrained, seeded) and a one-folder demo set: the 7 GZ1 fixture images."""
    import os

    run = make_run(Path(os.environ["GZ_MODELS_DIR"]) / "demo", width=16, image_size=48)
    demo = tmp_path / "demo"
    shutil.copytree(FIXTURES / "gz1", demo / "gz1")
    monkeypatch.setenv("GZ_DEMO_DIR", str(demo))
    return run, demo / "gz1"




def test_page_cli_and_evaluate_agree(demo_env, tmp_path: Path):
    run_dir, images = demo_env
    # Page: the galaxy table and the set metrics.
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(df.value for df in at.dataframe if "model P_EL" in df.value.columns)
    page = table.set_index("ID")[[f"model {c}" for c in VOTE_COLUMNS]]
    # CLI over the same catalogue and folder.
    out = tmp_path / "cli.csv"
    assert main(["predict", "--catalog", str(images / "labels.csv"), "--images", str(images), "--out", str(out),
                 "--no-progress"]) == 0
    cli = read_predictions(out).set_index("ID")[list(VOTE_COLUMNS)]
    assert sorted(cli.index) == sorted(page.index)
    cli_values = cli.loc[page.index].to_numpy()
    assert np.array_equal(cli_values.astype(np.float32), page.to_numpy().astype(np.float32))
    # ``python -m core evaluate``'s path (prepared-image cache + predict_outputs_prepared): the same scores.
    model = load_run(run_dir)
    evaluated = evaluate_labelled_set(model, images / "labels.csv", images)
    ours = evaluate_run(model, set_from_catalog_file(images / "labels.csv", images)).scores
    for key in ("n", "accuracy", "macro_recall", "spin_accuracy", "rmse", "confusion"):
        assert evaluated[key] == ours[key], key
    shown = {m.label: m.value for m in at.metric}
    assert shown["Top-answer accuracy"] == f"{evaluated['accuracy']:.1%}"


def test_uploaded_image_equals_cli_single_image(demo_env, tmp_path: Path):
    _, images = demo_env
    image = images / "588295840175292498.jpg"
    at = AppTest.from_file(str(PAGE), default_timeout=120).run()
    at.file_uploader(key="predict_upload").upload(image.name, image.read_bytes(), "image/jpeg")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bars = next(json.loads(el.proto.spec) for el in at.get("plotly_chart")
                if "predict_upload_bars" in el.proto.id)
    page_values = np.array(bars["data"][0]["y"], dtype=float)
    out = tmp_path / "one.csv"
    assert main(["predict", "588295840175292498", str(image), "--out", str(out)]) == 0
    cli_values = read_predictions(out)[list(VOTE_COLUMNS)].to_numpy()[0]
    assert np.array_equal(page_values.astype(np.float32), cli_values.astype(np.float32))
    # A single image and the same image inside a batch differ only by float32 summation order.
    table = next(df.value for df in at.dataframe if "model P_EL" in df.value.columns).set_index("ID")
    batched = table.loc["588295840175292498", [f"model {c}" for c in VOTE_COLUMNS]].to_numpy(dtype=float)
    np.testing.assert_allclose(page_values, batched, atol=1e-6)


def test_tta_swaps_spin_for_a_mirrored_galaxy(tmp_path: Path):
    model = load_run(make_run(tmp_path / "run", seed=7, width=16, image_size=48))
    # Make the untrained net's spin answer depend strongly on the image: P_CW and P_ACW get
    # opposite random read-outs of the features (the other answers stay equal).
    with torch.no_grad():
        w = model.model.raw_head.weight
        cw_row = w[CW].clone() * 20
        w.zero_()
        w[CW], w[ACW] = cw_row, -cw_row
        model.model.raw_head.bias.zero_()
    spiral = FIXTURES / "gz1" / "588295840175292498.jpg"  # a clockwise spiral (class-derived label)
    # Start from the model-sized image, so that preprocessing is the identity and the mirror exact.
    base = Image.fromarray(prepare_image(open_image(spiral), model.image_size, 1.0))
    original, mirrored = io.BytesIO(), io.BytesIO()
    base.save(original, "PNG")
    ImageOps.mirror(base).save(mirrored, "PNG")

    p = predict_one(model, original.getvalue(), "galaxy.png", tta=True)
    q = predict_one(model, mirrored.getvalue(), "mirror.png", tta=True)
    swapped = p.copy()
    sd = len(VOTE_COLUMNS) + 1  # outputs: nine fractions, TOP_P, nine SDs
    swapped[[CW, ACW, sd + CW, sd + ACW]] = p[[ACW, CW, sd + ACW, sd + CW]]  # the spread swaps with the spin
    np.testing.assert_allclose(q, swapped, atol=1e-6, equal_nan=True)
    assert abs(p[CW] - p[ACW]) > 1e-4  # the check has teeth: spin is not a tie here
    # Without TTA the raw network is not mirror-consistent; TTA is what makes it so.
    p0 = predict_one(model, original.getvalue(), "galaxy.png")
    q0 = predict_one(model, mirrored.getvalue(), "mirror.png")
    assert abs(q0[ACW] - p0[CW]) > 10 * abs(q[ACW] - p[CW])
    # P_CS stays CW + ACW + EDGE and the six raw answers still sum to 1 after averaging.
    assert abs(q[:6].sum() - 1) < 1e-5
    assert abs(q[VOTE_COLUMNS.index("P_CS")] - q[[CW, ACW, VOTE_COLUMNS.index("P_EDGE")]].sum()) < 1e-5
