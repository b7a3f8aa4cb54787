"""``gz train``: a usage error exits 2 and leaves the models folder as it was (no run folder, no active run),
with or without ``--nproc``; ``--help`` says how to resume; usage lines name the command as invoked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import invoked_name, main
from core.config import get_settings
from core.exit_codes import ExitCode
from tests.support.paths import REPO_ROOT

LABELS = REPO_ROOT / "data" / "demo" / "gz1" / "labels.csv"


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("extra", [[], ["--nproc", "2"]])
@pytest.mark.parametrize("bad", ["images", "catalog"])
def test_usage_error_exits_2_and_creates_nothing(bad, extra, tmp_path, capsys):
    models = get_settings().models_dir
    models.mkdir(parents=True)
    (models / "active_training.json").write_text('{"run_dir": "/somewhere/earlier-run"}')
    before = _tree(models)
    missing = str(tmp_path / "nope")
    catalog, images = (str(LABELS), missing) if bad == "images" else (missing, str(LABELS.parent))
    code = main(["train", "--catalog", catalog, "--images", images, "--model", "small", "--epochs", "1", *extra])
    assert code == ExitCode.BAD_INPUT
    assert f"--{bad} {missing}" in capsys.readouterr().err
    assert _tree(models) == before  # no run-<time>/ folder, the current run unchanged
    assert (models / "active_training.json").read_text() == '{"run_dir": "/somewhere/earlier-run"}'


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    out = tmp_path / "a-file"
    out.write_text("x")
    assert main(["train", "--catalog", str(LABELS), "--images", str(LABELS.parent), "--out", str(out)]) == 2
    assert "not a folder" in capsys.readouterr().err and not get_settings().models_dir.exists()


def test_help_mentions_resume_and_usage_names_the_invoked_command(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "resume:" in text and "same --out" in text and "exits 2 before anything is created" in text
    assert invoked_name("/usr/local/bin/gz") == "gz"
    assert invoked_name("/repo/core/__main__.py") == "python -m core"


def test_gz_console_script_usage_says_gz(tmp_path):
    gz = Path(sys.executable).with_name("gz")
    if not gz.exists():
        pytest.skip("the gz console script is not installed in this environment")
    done = subprocess.run([str(gz), "train"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
                          env={**os.environ})
    assert done.returncode == ExitCode.BAD_INPUT
    assert done.stderr.startswith("usage: gz train") and "python -m core" not in done.stderr


def test_a_finished_run_with_a_split_calibrates_its_top_p(tmp_path, capsys):
    out = tmp_path / "runs" / "calibrated"
    assert main(["train", "--catalog", str(LABELS), "--images", str(LABELS.parent), "--model", "small", "--width", "8",
                 "--size", "32", "--epochs", "1", "--val-fraction", "0.5", "--threads", "2", "--out", str(out),
                 "--no-progress"]) == ExitCode.OK
    said = capsys.readouterr()
    assert "calibrated TOP_P on" in said.out, said.err
    from core.inference.calibration import load_calibration

    cal = load_calibration(out)
    assert set(cal.calibrators) == {"plain", "tta"} and cal.source["galaxies"] == "its validation split"
    assert cal.calibrators["plain"].fitted["n"] >= 50
