"""`python -m core catalog`: report, outputs, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.__main__ import main
from core.catalog.exports import clean_csv_bytes, training_csv_bytes
from core.catalog.reader import load_sample
from core.exit_codes import MEANINGS, ExitCode, epilog
from core.schema import CLEAN_COLUMNS, TRAINING_COLUMNS
from tests.support.paths import FIXTURES, REPO_ROOT, SAMPLE_CATALOG

CAT = FIXTURES / "catalog"


def test_writes_all_outputs_and_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, lists, training, report = tmp_path / "clean.csv", tmp_path / "lists", tmp_path / "t.csv", tmp_path / "r.txt"
    code = main(["catalog", str(SAMPLE_CATALOG), "--out", str(out), "--image-list", str(lists),
                 "--training-out", str(training), "--report", str(report)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Rows read: 695   clean: 695   rejected: 0" in printed and "No problems found." in printed
    sample = load_sample().table
    assert out.read_bytes() == clean_csv_bytes(sample)  # the same bytes as the page's download
    assert out.read_text().splitlines()[0] == ",".join(CLEAN_COLUMNS)
    assert training.read_bytes() == training_csv_bytes(sample)
    assert training.read_text().splitlines()[0] == ",".join(TRAINING_COLUMNS)
    assert sorted(p.name for p in lists.iterdir()) == ["image_list.txt"]
    assert report.read_text().strip() == load_sample().report.to_text().replace(
        load_sample().report.source, SAMPLE_CATALOG.name)


def test_bad_rows_report_json_and_rejected_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, rejected = tmp_path / "report.json", tmp_path / "rejected.csv"
    code = main(["catalog", str(CAT / "bad_rows.csv"), "--report", str(report), "--rejected", str(rejected)])
    printed = capsys.readouterr().out
    assert code == ExitCode.FAILED  # some rows rejected, as predict's "some images unusable"
    assert "[raw_sum]" in printed and "rejected: 15" in printed
    data = json.loads(report.read_text())
    assert data["n_clean"] == 2 and data["n_rejected"] == 15
    assert len(rejected.read_text().splitlines()) == 16


def test_image_list_dir_drops_parts_of_an_older_longer_list(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "image_list_002.txt").write_text("name ra dec\n1 2 3\n")
    (lists / "notes.txt").write_text("mine")
    assert main(["catalog", str(CAT / "table2_13col.csv"), "--image-list", str(lists), "--quiet"]) == 0
    assert sorted(p.name for p in lists.iterdir()) == ["image_list.txt", "notes.txt"]


def test_unreadable_input_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "clean.csv"
    code = main(["catalog", str(CAT / "semicolons.csv"), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    assert "cannot read catalogue" in captured.err and "semicolons.csv" in captured.err
    assert not out.exists()
    assert main(["catalog", str(tmp_path / "nope.csv")]) == 2


def test_output_the_input_cannot_make_exits_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["catalog", str(CAT / "training_10col.csv"), "--out", str(tmp_path / "clean.csv")])
    assert code == ExitCode.BAD_INPUT == 2  # one exit-code table for every command
    assert "needs column(s) RA, DEC" in capsys.readouterr().err
    assert not (tmp_path / "clean.csv").exists()


def test_help_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "core", "catalog", "--help"], cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0
    for flag in ("--out", "--image-list", "--training-out", "--report"):
        assert flag in done.stdout
    assert epilog() in done.stdout


def test_top_level_help_shows_the_exit_code_table_from_anywhere() -> None:
    done = subprocess.run([sys.executable, "-m", "core", "--help"], cwd="/", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert epilog() in done.stdout
    for code, meaning in MEANINGS.items():
        assert f"  {int(code)}  {meaning}" in done.stdout


def test_unwritable_output_exits_output_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["catalog", str(SAMPLE_CATALOG), "--out", str(blocker / "clean.csv"), "--quiet"])
    assert code == ExitCode.OUTPUT_FAILED
    assert "cannot write" in capsys.readouterr().err


def test_missing_input_names_the_path_given_and_help_says_what_each_exit_means(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "sub" / "nope.csv"
    assert main(["catalog", str(missing)]) == ExitCode.BAD_INPUT
    assert str(missing) in capsys.readouterr().err
    assert main(["catalog", str(CAT / "table2_13col.csv"), "--quiet"]) == ExitCode.OK  # every row clean
    with pytest.raises(SystemExit):
        main(["catalog", "--help"])
    text = capsys.readouterr().out
    assert "some rejected rows exits 1" in text and all(meaning[:30] in " ".join(text.split())
                                                         for meaning in MEANINGS.values())
