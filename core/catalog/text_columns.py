"""Vectorised parsing of CSV text columns (numbers, identifiers) into numpy arrays.

Every function takes a column of strings (a pyarrow array, a pandas Series of
strings, a numpy array or a list) and works on the whole column at once with
Arrow compute kernels: no per-row Python loop, so a 667,944-row table takes
milliseconds per column. Missing values (None) count as unparseable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: A plain decimal number as people write it in CSV files (no thousands separators, no hex).
NUMBER_PATTERN = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"

#: Largest value an SDSS objid can take (signed 64-bit integer).
INT64_MAX_TEXT = "9223372036854775807"


def as_string_array(values: Any) -> pa.Array:
    """Return ``values`` as one contiguous Arrow string array (no copy when already Arrow)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    elif not isinstance(values, pa.Array):
        values = pa.array(values, type=pa.string(), from_pandas=True)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    return values


def _bool_numpy(mask: pa.Array) -> np.ndarray:
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)


def to_float64(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Parse decimal text to float64.

    Returns ``(numbers, ok)``: ``numbers`` is NaN where ``ok`` is False, i.e. where
    the text is empty, missing or not a plain decimal number. Surrounding spaces
    are allowed. Text such as ``nan`` or ``inf`` parses but yields a non-finite
    number (``ok`` stays True); callers check ranges with ``np.isfinite``.
    """
    arr = as_string_array(values)
    try:
        # Fast path: a clean column casts in one kernel call.
        numbers = pc.cast(arr, pa.float64())
        if numbers.null_count == 0:
            return numbers.to_numpy(zero_copy_only=False), np.ones(len(arr), dtype=bool)
    except pa.ArrowInvalid:
        pass
    trimmed = pc.utf8_trim_whitespace(arr)
    ok = pc.fill_null(pc.match_substring_regex(trimmed, NUMBER_PATTERN), False)
    safe = pc.if_else(ok, trimmed, pa.scalar("nan"))
    numbers = pc.cast(safe, pa.float64()).to_numpy(zero_copy_only=False)
    return numbers, _bool_numpy(ok)


def parse_objid(values: Any) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Check SDSS object identifiers without ever going through a float.

    Returns ``(text, as_int64, ok)``: ``text`` is the identifier with surrounding
    spaces removed (an Arrow string array), ``as_int64`` its exact value (0 where
    not ok) for fast duplicate checks, and ``ok`` is True where the text is 1-19
    digits and fits a signed 64-bit integer. ``5.87727E+17`` (a spreadsheet's
    rounding of an objid) is not ok: its digits are lost.
    """
    text = pc.utf8_trim_whitespace(as_string_array(values))
    digits = pc.fill_null(pc.match_substring_regex(text, r"^\d{1,19}$"), False)
    length = pc.utf8_length(text)
    too_big = pc.and_(pc.equal(length, 19), pc.greater(text, pa.scalar(INT64_MAX_TEXT)))
    ok = pc.and_(digits, pc.invert(pc.fill_null(too_big, False)))
    safe = pc.if_else(ok, text, pa.scalar("0"))
    as_int = pc.cast(safe, pa.int64()).to_numpy(zero_copy_only=False)
    return text, as_int, _bool_numpy(ok)
