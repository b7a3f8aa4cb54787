"""Hostile shapes are refused before parsing with a clear error: huge header fields, wide files, empty cells.

Peak memory of these inputs is measured in the issue notes (``/usr/bin/time -v``), not here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.__main__ import main
from core.catalog import limits
from core.catalog.limits import MAX_COLUMNS, MAX_LINE_BYTES, check_shape, scan
from core.catalog.reader import CatalogReadError, load_catalog
from core.exit_codes import ExitCode
from tests.support.paths import SAMPLE_CATALOG

ROW = "587727178986356823,1.0,2.0"


def _wide(path: Path, extra: int) -> Path:
    """``OBJID,RA,DEC`` plus ``extra`` more columns, and one row."""
    path.write_text("OBJID,RA,DEC," + ",".join(f"c{i}" for i in range(extra)) + "\n" + ROW + ",1" * extra + "\n")
    return path


def test_header_field_over_the_csv_limit_is_a_catalogue_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "huge.csv"
    path.write_text("OBJID,RA,DEC," + "x" * 200_000 + "\n" + ROW + ",1\n")
    with pytest.raises(CatalogReadError, match=r"huge\.csv: line 1 \(the header\) cannot be read: a column "
                                               r"name is longer than the 131,072 characters allowed"):
        load_catalog(path)
    assert main(["catalog", str(path)]) == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    assert "huge.csv: line 1 (the header)" in captured.err and "Traceback" not in captured.err + captured.out


def test_long_field_in_a_bad_row_is_listed_not_a_crash(tmp_path: Path):
    path = tmp_path / "row.csv"
    path.write_text(f"OBJID,RA,DEC\n{ROW}\n1,2,3,{'x' * 200_000}\n")
    result = load_catalog(path)
    assert (result.report.n_clean, result.report.n_rejected) == (1, 1)
    assert result.rejected.loc[0, "PROBLEMS"] == "4 fields instead of 3"


@pytest.mark.parametrize("extra", [300_000, 1_000_000])
def test_very_wide_files_are_refused_by_line_length(tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: int):
    path = _wide(tmp_path / "wide.csv", extra)
    with pytest.raises(CatalogReadError, match=rf"wide\.csv: line 1 is [0-9,]+ bytes long, more than the "
                                               rf"{MAX_LINE_BYTES:,}"):
        load_catalog(path)
    assert main(["catalog", str(path)]) == ExitCode.BAD_INPUT
    assert "line 1 is" in capsys.readouterr().err


def test_more_columns_than_the_limit_are_refused_naming_it(tmp_path: Path):
    with pytest.raises(CatalogReadError, match=rf"names {MAX_COLUMNS + 1:,} columns, more than the {MAX_COLUMNS:,}"):
        load_catalog(_wide(tmp_path / "w.csv", MAX_COLUMNS - 2))
    result = load_catalog(_wide(tmp_path / "ok.csv", MAX_COLUMNS - 3))  # exactly at the limit: read
    assert result.report.n_clean == 1


def test_millions_of_empty_cells_are_refused_before_parsing(tmp_path: Path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"OBJID,RA,DEC\n" + b",,\n" * 400_000)  # 1.2 MB that would cost about 90 MB to read
    with pytest.raises(CatalogReadError, match=r"400,001 lines and up to 1,200,003 fields in 1\.1 MB .* more than "
                                               r"the 71 MB allowed for a file this size \(6x its size \+ 64 MB\)"):
        load_catalog(path)


def test_scan_counts_lines_and_finds_the_first_long_line_across_blocks(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "_SCAN_BYTES", 7)  # lines straddle the scan blocks
    text = b"a,b\n" + b"cc,d\n" * 5 + b"x" * 30 + b"\nlast"
    shape = scan(text, limit=29)
    assert shape.long_line == (7, 30) and shape.commas == 6
    assert scan(text, limit=30) == limits.TextShape(lines=8, commas=6, long_line=None)
    assert scan(b"a\nb\n").lines == 2
    with pytest.raises(CatalogReadError, match=r"t\.csv: line 2 is 4 bytes long, more than the 3 a catalogue"):
        check_shape(text, "t.csv", limit=3)


def test_real_catalogues_pass_the_shape_check():
    data = SAMPLE_CATALOG.read_bytes()
    shape = check_shape(data, "sample")
    assert shape.lines == 696 and shape.long_line is None
    # Its rows (about 107 bytes, 16 fields) would pass at any size, not only thanks to the 64 MB slack.
    per_row = shape.estimated_peak() / shape.lines
    assert per_row < limits.PEAK_MULTIPLE * len(data) / shape.lines
