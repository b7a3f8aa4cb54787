"""The three outputs (clean 13-col CSV, SDSS Image List input, training CSV) and atomic writes."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.atomic import write_bytes_atomic
from core.catalog.exports import (
    IMAGE_LIST_LIMIT,
    ExportError,
    clean_csv_bytes,
    image_list_download,
    image_list_files,
    rejected_csv_bytes,
    training_csv_bytes,
)
from core.catalog.reader import load_catalog, load_sample
from core.schema import CLEAN_COLUMNS, TRAINING_COLUMNS, VOTE_COLUMNS
from tests.support.paths import FIXTURES, SAMPLE_CATALOG

CAT = FIXTURES / "catalog"


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return load_sample().table


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def _tiled(table: pd.DataFrame, n: int) -> pd.DataFrame:
    reps = -(-n // len(table))
    big = pd.concat([table] * reps, ignore_index=True).iloc[:n].copy()
    big["OBJID"] = [str(587000000000000000 + i) for i in range(n)]
    return big


def test_clean_csv_has_13_columns_decimal_positions_and_exact_values(sample: pd.DataFrame) -> None:
    data = clean_csv_bytes(sample)
    assert data.splitlines()[0].decode() == ",".join(CLEAN_COLUMNS)
    rows = _rows(data)
    raw = list(csv.DictReader(SAMPLE_CATALOG.open()))
    assert len(rows) == 695
    for out, original in zip(rows, raw, strict=False):
        assert out["OBJID"] == original["OBJID"]
        assert out["NVOTE"] == original["NVOTE"]
        for col in VOTE_COLUMNS:
            assert float(out[col]) == float(original[col])
        assert "e" not in out["RA"].lower() and "e" not in out["DEC"].lower()
    np.testing.assert_allclose([float(r["RA"]) for r in rows], sample["RA"], rtol=0, atol=0.5e-8)


def test_worked_example_in_clean_and_image_list_outputs() -> None:
    table = load_catalog(CAT / "objid_ra_dec.csv").table
    name, data = image_list_files(table)[0]
    assert name == "image_list.txt"
    lines = data.decode().splitlines()
    assert lines[0] == "name ra dec"
    assert lines[1] == "587727178986356823 0.00170833 -10.37380556"
    assert len(lines) == len(table) + 1


def test_image_list_splits_at_1000_and_zips(sample: pd.DataFrame) -> None:
    big = _tiled(sample, 2_500)
    files = image_list_files(big)
    assert [n for n, _ in files] == ["image_list_001.txt", "image_list_002.txt", "image_list_003.txt"]
    counts = [len(d.decode().splitlines()) - 1 for _, d in files]
    assert counts == [IMAGE_LIST_LIMIT, IMAGE_LIST_LIMIT, 500]
    assert all(d.decode().startswith("name ra dec\n") for _, d in files)
    name, payload, mime = image_list_download(big)
    assert name == "image_list.zip" and mime == "application/zip"
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert archive.namelist() == [n for n, _ in files]
        assert archive.read("image_list_002.txt") == files[1][1]
    listed = [line.split()[0] for _, d in files for line in d.decode().splitlines()[1:]]
    assert listed == list(big["OBJID"])
    # exactly 1000 stays a single plain file
    name, payload, mime = image_list_download(big.iloc[:1000])
    assert name == "image_list.txt" and mime == "text/plain"


def test_training_csv_is_obj_id_plus_nine_fractions(sample: pd.DataFrame) -> None:
    data = training_csv_bytes(sample)
    assert data.splitlines()[0].decode() == ",".join(TRAINING_COLUMNS)
    rows = _rows(data)
    assert [r["OBJ_ID"] for r in rows] == list(sample["OBJID"])
    np.testing.assert_array_equal([float(r["P_CS"]) for r in rows], sample["P_CS"])
    # and it reads back as the training form
    back = load_catalog(data, name="training.csv")
    assert back.form == "training" and back.report.ok


def test_exports_refuse_tables_without_the_columns_they_need() -> None:
    training = load_catalog(CAT / "training_10col.csv").table
    with pytest.raises(ExportError, match="RA, DEC"):
        clean_csv_bytes(training)
    with pytest.raises(ExportError, match="RA, DEC"):
        image_list_files(training)
    positions = load_catalog(CAT / "objid_ra_dec.csv").table
    with pytest.raises(ExportError, match="P_EL"):
        training_csv_bytes(positions)


def test_rejected_rows_csv_keeps_row_and_problems() -> None:
    result = load_catalog(CAT / "bad_rows.csv")
    rows = _rows(rejected_csv_bytes(result.rejected))
    assert len(rows) == 15
    assert rows[0]["ROW"] == "2" and rows[0]["OBJID"] == "5.87739E+17"
    assert all(r["PROBLEMS"] for r in rows)


def test_write_bytes_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "clean.csv"
    write_bytes_atomic(target, b"first")
    write_bytes_atomic(target, b"second version")
    assert target.read_bytes() == b"second version"
    assert [p.name for p in target.parent.iterdir()] == ["clean.csv"]


def test_rejected_rows_csv_neutralises_formula_cells_and_headers() -> None:
    text = ("OBJID,RA,DEC,=HYPERLINK(\"http://127.0.0.1/x\")\n"
            "\"=HYPERLINK(\"\"http://127.0.0.1/x\"\",\"\"click\"\")\",10:00:00.00,+01:00:00.0,1\n"
            "@SUM(1+1),10:00:00.00,+01:00:00.0,2\n"
            "587739156582301791,10:00:00.00,-01:00:00.0,3\n")
    result = load_catalog(text.encode(), name="evil.csv")
    assert result.report.n_rejected == 2 and result.report.n_clean == 1
    rows = list(csv.reader(io.StringIO(rejected_csv_bytes(result.rejected).decode())))
    assert rows[0][-1] == "'=HYPERLINK(\"http://127.0.0.1/x\")"
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "@", "+")) for cell in cells)
    assert "'=HYPERLINK(\"http://127.0.0.1/x\",\"click\")" in cells and "'@SUM(1+1)" in cells
    # The clean row keeps its negative declination as a number.
    assert result.table["DEC"].iloc[0] == -1.0
