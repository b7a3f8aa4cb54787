"""CSV cells that a spreadsheet would run as a formula are neutralised before they are written.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel and LibreOffice (OWASP "CSV injection"). Such text cells get a leading apostrophe.
Numbers are left alone: ``-0.5`` in a numeric column is a number, not a formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: object) -> object:
    """``value`` unchanged unless it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def safe_row(values: Iterable[object]) -> list[object]:
    return [safe_cell(v) for v in values]


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text columns (and column names) are neutralised; numeric columns untouched.

    Vectorised (pandas string methods), so a million-row rejected table takes well under a second.
    """
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        text = values.str
        formula = text.startswith(FORMULA_START, na=False) & ~text.strip().str.match(_NUMBER.pattern, na=False)
        if formula.any():
            out[col] = values.astype(object)
            out.loc[formula, col] = "'" + values[formula].astype(str)
    out.columns = [safe_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out
