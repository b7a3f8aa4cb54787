"""core.csv_safety: formula cells neutralised, numbers and plain text untouched."""

from __future__ import annotations

import pandas as pd

from core.csv_safety import safe_cell, safe_frame


def test_safe_cell_prefixes_formulas_only() -> None:
    for formula in ("=HYPERLINK(\"http://x\",\"y\")", "@SUM(A1)", "+cmd", "-2+3", "\tx", "\rx"):
        assert safe_cell(formula) == "'" + formula
    for kept in ("-0.5", "+1e3", "587739156582301791", "elliptical", 0.5, -3, None):
        assert safe_cell(kept) == kept


def test_safe_frame_neutralises_text_columns_and_headers_not_numbers() -> None:
    frame = pd.DataFrame({
        "=cmd|'/c calc'!A0": ["=1+1", "ok", "-0.25"],
        "NUM": [-1.0, 2.0, 3.0],
        "OBJ": pd.array(["@x", "12", None], dtype="str"),
    })
    out = safe_frame(frame)
    assert list(out.columns) == ["'=cmd|'/c calc'!A0", "NUM", "OBJ"]
    assert list(out.iloc[:, 0]) == ["'=1+1", "ok", "-0.25"]
    assert out["NUM"].tolist() == [-1.0, 2.0, 3.0]
    assert out["OBJ"].iloc[0] == "'@x" and out["OBJ"].iloc[1] == "12" and pd.isna(out["OBJ"].iloc[2])
    assert frame.iloc[0, 0] == "=1+1"  # the input is not modified
