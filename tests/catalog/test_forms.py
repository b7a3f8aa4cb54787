"""Every accepted input form and source type of core.catalog.reader.load_catalog, on real GZ1 rows."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.catalog.exports import clean_csv_bytes
from core.catalog.reader import CatalogResult, load_catalog, load_sample, select_rows
from core.catalog.sexagesimal import dec_dms_to_degrees, ra_hms_to_degrees
from core.schema import FLAG_COLUMNS, TABLE2_COLUMNS, VOTE_COLUMNS
from tests.support.paths import FIXTURES, SAMPLE_CATALOG

CAT = FIXTURES / "catalog"


def _raw_rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_sample_table(result: CatalogResult, raw: list[dict[str, str]]) -> None:
    table = result.table
    assert result.report.ok and result.report.n_rows == len(raw) == result.report.n_clean
    assert list(table["OBJID"]) == [r["OBJID"] for r in raw]
    assert table["OBJID"].dtype == "str"
    assert table["RA"].dtype == np.float64 and table["DEC"].dtype == np.float64
    assert table["NVOTE"].dtype == np.int64
    assert list(table["NVOTE"]) == [int(r["NVOTE"]) for r in raw]
    for col in VOTE_COLUMNS:
        assert table[col].dtype == np.float64
        np.testing.assert_array_equal(table[col].to_numpy(), [float(r[col]) for r in raw])
    assert list(table["RA_STR"]) == [r["RA"] for r in raw]
    assert list(table["DEC_STR"]) == [r["DEC"] for r in raw]
    assert len(result.rejected) == 0


def test_builtin_sample_is_table2_with_exact_objids() -> None:
    result = load_sample()
    raw = _raw_rows(SAMPLE_CATALOG)
    assert result.form == "table2" and result.coordinates == "sexagesimal" and result.has_positions
    assert len(raw) == 695
    _assert_sample_table(result, raw)
    for col in FLAG_COLUMNS:
        assert list(result.table[col]) == [int(r[col]) for r in raw]
    # 18-digit ids survive exactly (a float64 keeps only ~16 digits).
    assert all(len(o) == 18 and o.isdigit() for o in result.table["OBJID"])
    assert "built-in sample" in result.report.source


@pytest.mark.parametrize("kind", ["str", "path", "bytes", "bytesio", "open_file"])
def test_every_source_type_gives_the_same_table(kind: str) -> None:
    data = SAMPLE_CATALOG.read_bytes()
    if kind == "str":
        result = load_catalog(str(SAMPLE_CATALOG))
    elif kind == "path":
        result = load_catalog(SAMPLE_CATALOG)
    elif kind == "bytes":
        result = load_catalog(data, name="upload.csv")
    elif kind == "bytesio":
        result = load_catalog(io.BytesIO(data), name="upload.csv")
    else:
        with open(SAMPLE_CATALOG, "rb") as handle:
            result = load_catalog(handle)
        assert result.name == SAMPLE_CATALOG.name
    pd.testing.assert_frame_equal(result.table, load_sample().table)


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path: Path) -> None:
    packed = gzip.compress(SAMPLE_CATALOG.read_bytes())
    odd_name = tmp_path / "catalogue.csv"  # gzip content behind a plain .csv name
    odd_name.write_bytes(packed)
    for source in (packed, odd_name):
        pd.testing.assert_frame_equal(load_catalog(source).table, load_sample().table)
    head = load_catalog(CAT / "table2_head.csv.gz")
    _assert_sample_table(head, _raw_rows(CAT / "table2_head.csv.gz"))


def test_13_column_form() -> None:
    result = load_catalog(CAT / "table2_13col.csv")
    assert result.form == "table2-13" and result.report.ok
    assert not any(c in result.table.columns for c in FLAG_COLUMNS)
    _assert_sample_table(result, _raw_rows(CAT / "table2_13col.csv"))


def test_dec_without_plus_sign_equals_with_plus() -> None:
    no_plus = load_catalog(CAT / "table2_no_plus.csv")
    raw = _raw_rows(CAT / "table2_no_plus.csv")
    assert no_plus.report.ok and not any(r["DEC"].startswith("+") for r in raw)
    sample = load_sample().table.set_index("OBJID")
    for objid, dec in zip(no_plus.table["OBJID"], no_plus.table["DEC"], strict=False):
        assert dec == sample.loc[objid, "DEC"]
    assert (no_plus.table["DEC"] < 0).sum() == 3  # the -00:MM:SS rows keep their sign


def test_decimal_degree_table() -> None:
    result = load_catalog(CAT / "table2_decimal.csv")
    raw = _raw_rows(CAT / "table2_decimal.csv")
    assert result.form == "table2" and result.coordinates == "decimal" and result.report.ok
    np.testing.assert_array_equal(result.table["RA"], [float(r["RA"]) for r in raw])
    np.testing.assert_array_equal(result.table["DEC"], [float(r["DEC"]) for r in raw])
    assert "RA_STR" not in result.table.columns
    # zooSpec's decimal positions are rounded; they agree with the Table-2 strings to < 1 arcsec.
    sample = load_sample().table.set_index("OBJID")
    ra_str = sample.loc[result.table["OBJID"], "RA"].to_numpy()
    assert np.abs(result.table["RA"].to_numpy() - ra_str).max() * 3600 < 1.0


def test_zoospec_export_maps_lower_case_names_and_uses_dr7objid() -> None:
    result = load_catalog(CAT / "zoospec_export.csv")
    raw = _raw_rows(CAT / "zoospec_export.csv")
    assert result.form == "zoospec" and result.report.ok
    assert list(result.table["OBJID"]) == [r["dr7objid"] for r in raw]  # not the DR8 objid
    assert list(result.table["RA_STR"]) == [r["rastring"] for r in raw]
    # Positions come from the GZ1 strings (0.01 s precision), not the export's 4-place decimals ...
    np.testing.assert_array_equal(result.table["RA"], ra_hms_to_degrees([r["rastring"] for r in raw]))
    np.testing.assert_array_equal(result.table["DEC"], dec_dms_to_degrees([r["decstring"] for r in raw]))
    # ... and the largest disagreement with those decimals is measured and reported (rounding: <= 0.36").
    assert 0.0 < result.position_disagreement_arcsec <= 0.36
    decimal_ra = np.array([float(r["ra"]) for r in raw])
    assert np.abs(result.table["RA"].to_numpy() - decimal_ra).max() <= 0.5e-4 + 1e-12
    assert any(f"{result.position_disagreement_arcsec:.2f}″" in note for note in result.report.notes)
    assert result.report.to_dict()["position_disagreement_arcsec"] == result.position_disagreement_arcsec
    assert set(TABLE2_COLUMNS) <= set(result.table.columns)
    np.testing.assert_array_equal(result.table["P_EL"], [float(r["p_el"]) for r in raw])
    assert any("DR8" in note for note in result.report.notes)


def test_zoospec_without_dr7objid_warns_that_objid_is_dr8() -> None:
    text = (CAT / "zoospec_export.csv").read_text().splitlines()
    header = text[0].split(",")
    drop = header.index("dr7objid")
    lines = [",".join(v for i, v in enumerate(line.split(",")) if i != drop) for line in text]
    result = load_catalog("\n".join(lines).encode(), name="dr8.csv")
    assert result.form == "zoospec"
    assert result.table["OBJID"].iloc[0] == "1237664877807206484"
    assert any("DR8" in note for note in result.report.notes)


def test_training_form_has_no_positions() -> None:
    result = load_catalog(CAT / "training_10col.csv")
    raw = _raw_rows(CAT / "training_10col.csv")
    assert result.form == "training" and not result.has_positions and result.coordinates is None
    assert result.report.ok
    assert list(result.table.columns) == ["OBJID", *VOTE_COLUMNS]
    assert list(result.table["OBJID"]) == [r["OBJ_ID"] for r in raw]


def test_bare_objid_ra_dec_list_sexagesimal_and_decimal() -> None:
    sexa = load_catalog(CAT / "objid_ra_dec.csv")
    assert sexa.form == "objid-ra-dec" and sexa.coordinates == "sexagesimal" and sexa.report.ok
    assert list(sexa.table.columns) == ["OBJID", "RA", "DEC", "RA_STR", "DEC_STR"]
    dec = load_catalog(CAT / "objid_ra_dec_decimal.csv")  # lower-case objid,ra,dec
    assert dec.form == "objid-ra-dec" and dec.coordinates == "decimal" and dec.report.ok
    assert dec.table["OBJID"].iloc[0] == "587739156582301791"


def test_header_case_spaces_crlf_bom_and_quotes_are_accepted() -> None:
    lines = SAMPLE_CATALOG.read_text().splitlines()
    header = ",".join(f" {h.lower()} " for h in lines[0].split(","))
    body = [",".join(f'"{v}"' for v in line.split(",")) for line in lines[1:]]
    data = b"\xef\xbb\xbf" + "\r\n".join([header, *body]).encode() + b"\r\n"
    result = load_catalog(data, name="excel.csv")
    assert result.form == "table2"
    pd.testing.assert_frame_equal(result.table, load_sample().table)


def test_cleaned_export_reads_back_as_decimal_13_column_form() -> None:
    sample = load_sample().table
    again = load_catalog(clean_csv_bytes(sample), name="clean.csv")
    assert again.form == "table2-13" and again.coordinates == "decimal" and again.report.ok
    assert list(again.table["OBJID"]) == list(sample["OBJID"])
    assert np.abs(again.table["RA"].to_numpy() - sample["RA"].to_numpy()).max() <= 0.5e-8
    assert np.abs(again.table["DEC"].to_numpy() - sample["DEC"].to_numpy()).max() <= 0.5e-8


def test_select_rows_by_objid() -> None:
    table = load_sample().table
    wanted = [table["OBJID"].iloc[5], table["OBJID"].iloc[2]]
    picked = select_rows(table, wanted)
    assert list(picked["OBJID"]) == [table["OBJID"].iloc[2], table["OBJID"].iloc[5]]  # table order
    assert select_rows(table, None) is table
    assert len(select_rows(table, [])) == 0


def test_zoospec_disagreement_reports_the_worst_row() -> None:
    lines = (CAT / "zoospec_export.csv").read_text().splitlines()
    header = lines[0].split(",")
    fields = lines[3].split(",")
    dec_col = header.index("dec")
    fields[dec_col] = f"{float(fields[dec_col]) + 10 / 3600:.6f}"  # 10 arcsec off in declination
    lines[3] = ",".join(fields)
    result = load_catalog("\n".join(lines).encode(), name="tampered.csv")
    assert result.report.ok  # a disagreement is reported, the row is not rejected
    assert 9.6 < result.position_disagreement_arcsec < 10.4
