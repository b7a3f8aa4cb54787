"""``python -m core predict``: the original single-image row format, 18-digit IDs, whole sets, resumption."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.__main__ import main
from core.exit_codes import ExitCode
from core.images.reading import open_image
from core.inference.predict import load_run
from core.inference.predictions_csv import PREDICTION_HEADER, read_predictions
from core.schema import ANSWER_CODES, RAW_COLUMNS, VOTE_COLUMNS
from tests.support.paths import REPO_ROOT
from tests.support.tiny_runs import FIXTURES, make_run

REPO = REPO_ROOT
OBJID = "587738947208085695"          # 18 digits: above 2**53, so a float would change it
IMAGE = FIXTURES / "gz1" / f"{OBJID}.jpg"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "models" / "tiny")


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_single_image_appends_one_row_with_header_once(run_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "predictions.csv"
    assert main(["predict", OBJID, str(IMAGE), "--model", str(run_dir), "--out", str(out)]) == 0
    assert main(["predict", "000042", str(IMAGE), "--model", str(run_dir), "--out", str(out)]) == 0
    rows = _rows(out)
    assert rows[0] == list(PREDICTION_HEADER) == ["ID", "IMAGE", *VOTE_COLUMNS, "TOP_ANSWER", "TOP_P",
                                                  *(f"{c}_SD" for c in VOTE_COLUMNS)]
    assert [r[:2] for r in rows[1:]] == [[OBJID, IMAGE.name], ["000042", IMAGE.name]]
    assert out.read_text().count("ID,IMAGE") == 1
    values = np.array([[float(x) for x in r[2:11]] for r in rows[1:]])
    assert [r[11] for r in rows[1:]] == [ANSWER_CODES[RAW_COLUMNS[int(np.argmax(values[0, :6]))]]] * 2
    assert [r[12] for r in rows[1:]] == ["", ""]  # the run has no calibration.json: no TOP_P
    expected = load_run(run_dir).predict([open_image(IMAGE)])[0]
    # Written as the shortest text that reads back to the same float32.
    assert np.array_equal(values.astype(np.float32), np.vstack([expected, expected]))
    assert abs(values[0, :6].sum() - 1) < 1e-5
    assert OBJID in capsys.readouterr().out


def test_eighteen_digit_id_round_trips_exactly(run_dir: Path, tmp_path: Path):
    out = tmp_path / "p.csv"
    big = "588848901537202306"
    assert main(["predict", big, str(IMAGE), "--model", str(run_dir), "--out", str(out)]) == 0
    assert _rows(out)[1][0] == big
    frame = read_predictions(out)
    assert frame["ID"].tolist() == [big]
    assert str(int(float(big))) != big  # what a float round trip (the original tool's bug) would have done


def test_real_command_line(run_dir: Path, tmp_path: Path):
    out = tmp_path / "cli.csv"
    proc = subprocess.run([sys.executable, "-m", "core", "predict", OBJID, str(IMAGE), "--model", str(run_dir),
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _rows(out)[1][0] == OBJID
    helptext = subprocess.run([sys.executable, "-m", "core", "predict", "--help"], cwd=REPO,
                              capture_output=True, text=True, timeout=120).stdout
    assert "--catalog" in helptext and "--tta" in helptext
    assert "exit codes:" in helptext and f"  {int(ExitCode.FAILED)}  " in helptext


def test_default_model_is_models_demo(tmp_path: Path, monkeypatch):
    models = Path(os.environ["GZ_MODELS_DIR"])
    make_run(models / "demo")
    monkeypatch.chdir(tmp_path)
    assert main(["predict", OBJID, str(IMAGE)]) == 0
    assert _rows(tmp_path / "predictions.csv")[1][0] == OBJID


def test_catalogue_set_streams_all_rows_and_resumes(run_dir: Path, tmp_path: Path):
    images = tmp_path / "images"
    shutil.copytree(FIXTURES / "gz1", images)
    out = tmp_path / "set.csv"
    args = ["predict", "--catalog", str(images / "labels.csv"), "--images", str(images), "--out", str(out),
            "--model", str(run_dir), "--no-progress"]
    assert main(args) == 0
    first = read_predictions(out)
    assert sorted(first["ID"]) == sorted(p.stem for p in images.glob("*.jpg"))
    # A rerun appends nothing: every ID is already there.
    assert main(args) == 0
    assert len(read_predictions(out)) == len(first)
    # A killed run leaves a cut last line: the fragment is dropped and that galaxy predicted again.
    text = out.read_text()
    lines = text.splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:15])
    assert main(args) == 0
    again = read_predictions(out)
    assert len(again) == len(first) and set(again["ID"]) == set(first["ID"])


def test_bad_image_in_a_set_is_listed_and_the_rest_written(run_dir: Path, tmp_path: Path, capsys):
    images = tmp_path / "images"
    shutil.copytree(FIXTURES / "spin", images)
    (images / "not_an_image.jpg").write_text("<html>error</html>")
    out = tmp_path / "folder.csv"
    code = main(["predict", "--images", str(images), "--out", str(out), "--model", str(run_dir), "--no-progress"])
    assert code == ExitCode.FAILED
    assert "not_an_image.jpg: is not a JPEG or PNG" in capsys.readouterr().err
    assert len(read_predictions(out)) == len(list(images.glob("ra*.jpg")))


def test_other_csv_at_out_is_left_untouched(run_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "catalogue.csv"
    out.write_text("OBJID,RA,DEC\n1,2,3\n")
    assert main(["predict", OBJID, str(IMAGE), "--model", str(run_dir), "--out", str(out)]) == ExitCode.BAD_INPUT
    assert out.read_text() == "OBJID,RA,DEC\n1,2,3\n"
    assert "not a predictions file" in capsys.readouterr().err


def test_clear_errors_for_bad_input(run_dir: Path, tmp_path: Path, capsys):
    assert main(["predict", OBJID, str(tmp_path / "missing.jpg"), "--model", str(run_dir),
                 "--out", str(tmp_path / "o.csv")]) == ExitCode.BAD_INPUT
    assert "missing.jpg: cannot be read" in capsys.readouterr().err
    assert main(["predict", OBJID, str(IMAGE), "--model", str(tmp_path / "nope")]) == ExitCode.BAD_INPUT
    assert "does not exist" in capsys.readouterr().err
    assert main(["predict", OBJID]) == ExitCode.BAD_INPUT
    assert "give both ID and IMAGE" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_evaluate_reports_baseline_and_leaves_unlearned_columns_out(tmp_path: Path, capsys):
    from core.schema import RAW_COLUMNS

    run = make_run(tmp_path / "models" / "nodeb", learned_columns=RAW_COLUMNS + ("P_CS",))
    args = ["evaluate", "--model", str(run), "--catalog", str(FIXTURES / "gz1" / "labels.csv"),
            "--images", str(FIXTURES / "gz1")]
    assert main(args + ["--json"]) == ExitCode.OK
    result = json.loads(capsys.readouterr().out)
    assert result["not_learned"] == ["P_EL_DEBIASED", "P_CS_DEBIASED"]
    assert result["rmse"]["P_EL_DEBIASED"] is None and result["chance_accuracy"] == pytest.approx(1 / 6)
    assert 0 < result["baseline_accuracy"] <= 1
    assert main(args) == ExitCode.OK
    table = capsys.readouterr().out
    assert f"n = {result['n_top_answer']}; always answering the most common answer:" in table
    assert "P_CS_DEBIASED" in table and "not learned" in table
    assert result["join"]["class_column"] == "CLASS_NAME" and "(one-hot from CLASS_NAME)" in table
    assert result["top_p"] is None and "TOP_P        n/a (no calibration" in table  # an uncalibrated run
    assert main(["evaluate", "--model", str(tmp_path / "nope"), "--catalog", args[4], "--images", args[6]]) \
        == ExitCode.BAD_INPUT
