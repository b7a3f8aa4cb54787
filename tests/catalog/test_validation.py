"""Every validation rule, unreadable files, and the report (real GZ1 rows, one change each)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from core.catalog.reader import CatalogReadError, load_catalog
from core.catalog.validation import FIRST_ROWS, PROBLEM_CODES
from tests.support.paths import FIXTURES, SAMPLE_CATALOG

CAT = FIXTURES / "catalog"

#: bad_rows.csv: data row -> the one problem planted in it (rows 1 and 16 are clean).
PLANTED = {
    2: "objid_invalid", 3: "objid_duplicate", 4: "ra_unparseable", 5: "dec_unparseable",
    6: "ra_range", 7: "dec_range", 8: "nvote_invalid", 9: "nvote_invalid", 10: "fraction_missing",
    11: "fraction_range", 12: "raw_sum", 13: "cs_sum", 14: "flag_invalid", 15: "field_count",
    17: "fraction_missing",
}


def _sample_lines() -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(SAMPLE_CATALOG.open()))
    return rows[0], rows[1:]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def _with(header: list[str], row: list[str], **changes: str) -> list[str]:
    row = list(row)
    for column, value in changes.items():
        row[header.index(column)] = value
    return row


@pytest.fixture(scope="module")
def bad():
    return load_catalog(CAT / "bad_rows.csv")


def test_each_planted_problem_is_reported_at_its_row(bad) -> None:
    report = bad.report
    assert report.n_rows == 17 and report.n_clean == 2 and report.n_rejected == 15
    expected: dict[str, list[int]] = {}
    for row, code in PLANTED.items():
        expected.setdefault(code, []).append(row)
    got = {p.code: list(p.first_rows) for p in report.problems}
    assert got == expected
    for p in report.problems:
        assert p.count == len(expected[p.code])
        assert p.message.startswith(PROBLEM_CODES[p.code])


def test_problem_details_name_the_columns(bad) -> None:
    assert "P_CW: 1" in bad.report.problem("fraction_missing").message
    assert "P_DK: 1" in bad.report.problem("fraction_missing").message
    assert "P_EL_DEBIASED" in bad.report.problem("fraction_range").message
    assert "SPIRAL" in bad.report.problem("flag_invalid").message


def test_rejected_rows_keep_original_text_row_and_problems(bad) -> None:
    rejected = bad.rejected.set_index("ROW")
    assert sorted(rejected.index) == sorted(PLANTED)
    assert rejected.loc[2, "OBJID"] == "5.87739E+17"  # the original text, not a number
    assert rejected.loc[4, "RA"] == "10:61:48.34"
    assert rejected.loc[10, "P_DK"] == ""
    assert rejected.loc[12, "PROBLEMS"] == "raw fractions sum to 1.051"
    assert rejected.loc[15, "PROBLEMS"] == "15 fields instead of 16"
    assert "duplicate OBJID" in rejected.loc[3, "PROBLEMS"]
    # The first copy of the duplicated OBJID is kept among the clean rows.
    assert list(bad.table["OBJID"]) == ["587739156582301791", "587736477595009286"]


def test_report_text_and_dict(bad) -> None:
    text = bad.report.to_text()
    for code in set(PLANTED.values()):
        assert f"[{code}]" in text
    assert "Rows read: 17   clean: 2   rejected: 15" in text
    as_dict = json.loads(json.dumps(bad.report.to_dict()))
    assert as_dict["n_rejected"] == 15
    assert {p["code"] for p in as_dict["problems"]} == set(PLANTED.values())
    assert load_catalog(SAMPLE_CATALOG).report.to_text().endswith("No problems found.")


def test_missing_and_unknown_columns() -> None:
    result = load_catalog(CAT / "odd_columns.csv")
    report = result.report
    assert report.problem("missing_columns").message.endswith("P_MG")
    assert report.problem("unknown_columns").message.endswith("COMMENT")
    assert report.problem("missing_columns").first_rows == ()
    assert report.n_clean == 6  # column problems do not reject rows
    assert "P_MG" not in result.table.columns and "COMMENT" not in result.table.columns
    assert report.problem("raw_sum") is None  # cannot be checked without P_MG


def test_sum_tolerances_are_inclusive_at_the_published_limits() -> None:
    header, rows = _sample_lines()
    def value(row: list[str], column: str) -> float:
        return float(row[header.index(column)])

    base = next(
        r for r in rows
        if value(r, "P_MG") == 0.0 and value(r, "P_DK") == 0.0 and value(r, "P_CS") < 0.9
        and round(value(r, "P_CW") + value(r, "P_ACW") + value(r, "P_EDGE"), 3) == value(r, "P_CS")
    )
    cases = [
        _with(header, base, P_MG="0.009"),   # raw sum 1.009: within 0.01
        _with(header, base, P_MG="0.011"),   # raw sum 1.011: rejected
        _with(header, base, P_CS=f"{float(base[header.index('P_CS')]) + 0.002:.3f}"),   # |diff| = 0.002: ok
        _with(header, base, P_CS=f"{float(base[header.index('P_CS')]) + 0.003:.3f}"),   # 0.003: rejected
    ]
    for i, row in enumerate(cases):
        row[0] = str(int(row[0]) + i + 1)
    report = load_catalog(_csv(header, cases)).report
    assert report.problem("raw_sum").first_rows == (2,)
    assert report.problem("cs_sum").first_rows == (4,)
    assert report.n_clean == 2


def test_coordinate_and_nvote_edge_values() -> None:
    header, rows = _sample_lines()
    cases = [
        _with(header, rows[0], RA="23:59:59.99", DEC="-90:00:00.0"),  # ok: last RA, south pole
        _with(header, rows[1], RA="00:00:00.00", DEC="+90:00:00.0"),  # ok
        _with(header, rows[2], NVOTE="18.0"),                         # ok: a whole number
        _with(header, rows[3], RA="-00:00:01.00"),                    # ra_range (negative)
        _with(header, rows[4], DEC="-90:00:00.1"),                    # dec_range
        _with(header, rows[5], RA="12:30:60.00"),                     # ra_unparseable (60 s)
        _with(header, rows[6], RA="12.5"),                            # ra_unparseable (decimal in a sexagesimal column)
        _with(header, rows[7], NVOTE="-3"),                           # nvote_invalid
        _with(header, rows[8], NVOTE=""),                             # nvote_invalid
        _with(header, rows[9], OBJID=""),                             # objid_invalid
        _with(header, rows[10], OBJID="99999999999999999999"),        # objid_invalid (> 64 bit)
        _with(header, rows[11], P_EL="nan"),                          # fraction_missing
        _with(header, rows[12], P_EL="-0.1", P_DK=""),                # fraction_range + fraction_missing
    ]
    result = load_catalog(_csv(header, cases))
    codes = {p.code: p.first_rows for p in result.report.problems}
    assert codes == {
        "ra_range": (4,), "dec_range": (5,), "ra_unparseable": (6, 7), "nvote_invalid": (8, 9),
        "objid_invalid": (10, 11), "fraction_missing": (12, 13), "fraction_range": (13,),
    }
    assert result.report.n_clean == 3
    assert list(result.table["NVOTE"])[2] == 18
    assert result.table["DEC"].iloc[0] == -90.0
    rejected = result.rejected.set_index("ROW")
    assert rejected.loc[13, "PROBLEMS"] == "P_EL outside [0, 1]; P_DK missing or not a number"


def test_decimal_coordinates_out_of_range() -> None:
    data = b"OBJID,RA,DEC\n1,360.0,0\n2,359.9999,90.0\n3,10,-90.5\n4,abc,1\n5,-0.001,0\n"
    result = load_catalog(data)
    codes = {p.code: p.first_rows for p in result.report.problems}
    assert codes == {"ra_range": (1, 5), "dec_range": (3,), "ra_unparseable": (4,)}
    assert list(result.table["OBJID"]) == ["2"]


def test_first_rows_are_capped_but_counts_are_complete() -> None:
    header, rows = _sample_lines()
    broken = [_with(header, r, NVOTE="0") for r in rows[:25]] + rows[25:40]
    problem = load_catalog(_csv(header, broken)).report.problem("nvote_invalid")
    assert problem.count == 25
    assert problem.first_rows == tuple(range(1, FIRST_ROWS + 1))


def test_row_numbers_skip_blank_lines_and_count_bad_lines() -> None:
    header, rows = _sample_lines()
    text = ",".join(header) + "\n" + ",".join(rows[0]) + "\n\n" + ",".join(rows[1][:5]) + "\n" + ",".join(
        _with(header, rows[2], NVOTE="0")) + "\n"
    result = load_catalog(text.encode())
    assert result.report.problem("field_count").first_rows == (2,)
    assert result.report.problem("nvote_invalid").first_rows == (3,)
    assert sorted(result.rejected["ROW"]) == [2, 3]


@pytest.mark.parametrize(
    ("fixture", "words"),
    [
        ("empty.csv", "empty"),
        ("binary.csv", "binary"),
        ("semicolons.csv", "semicolons"),
        ("tabs.csv", "tabs"),
        ("latin1.csv", "not UTF-8"),
        ("header_only.csv", "no data rows"),
        ("not_a_catalog.csv", "no OBJID column"),
        ("broken.csv.gz", "cannot be decompressed"),
    ],
)
def test_unreadable_files_raise_one_clear_error_naming_the_file(fixture: str, words: str) -> None:
    with pytest.raises(CatalogReadError) as info:
        load_catalog(CAT / fixture)
    assert fixture in str(info.value) and words in str(info.value)


def test_other_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(CatalogReadError, match="cannot open"):
        load_catalog(tmp_path / "missing.csv")
    with pytest.raises(CatalogReadError, match="zip archive"):
        load_catalog(b"PK\x03\x04rest-of-a-zip", name="table.zip")
    header, rows = _sample_lines()
    semicolon_rows = ",".join(header) + "\n" + "\n".join(";".join(r) for r in rows[:3]) + "\n"
    with pytest.raises(CatalogReadError, match="check the delimiter"):
        load_catalog(semicolon_rows.encode(), name="mixed.csv")
    with pytest.raises(CatalogReadError, match="appears more than once"):
        load_catalog(b"OBJID,RA,ra\n1,2,3\n", name="dup.csv")
    with pytest.raises(TypeError):
        load_catalog(12345)  # type: ignore[arg-type]


def test_validation_never_loses_a_row(bad) -> None:
    kept = set(bad.table["OBJID"])
    assert len(bad.table) + len(bad.rejected) == bad.report.n_rows
    assert np.all(bad.rejected["PROBLEMS"].str.len() > 0)
    assert kept.isdisjoint(set(bad.rejected["OBJID"]) - {"587739156582301791"})
