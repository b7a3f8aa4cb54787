"""Parse and check each column of a catalogue, recording every bad row in a :class:`RowChecks`.

Each ``check_*`` takes Arrow string columns and returns numpy values for the clean table
(fractions of votes as float64, RA/DEC as float64 decimal degrees J2000, NVOTE and flags
as int64); rows that fail are flagged in ``checks`` and later moved to the rejected rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from core.catalog.sexagesimal import fraction_sexagesimal, parse_dec_dms, parse_ra_hms
from core.catalog.text_columns import parse_objid, to_float64
from core.catalog.validation import RowChecks
from core.schema import CS_PART_COLUMNS, CS_SUM_TOLERANCE, RAW_COLUMNS, RAW_SUM_TOLERANCE

#: Rows looked at to decide whether a coordinate column is sexagesimal.
SNIFF_ROWS = 20_000
_ARCSEC_PER_DEGREE = 3600.0


def check_objid(text: pa.ChunkedArray, checks: RowChecks) -> pa.Array:
    """OBJIDs as canonical digit strings; flags non-integers and repeats (the first copy is kept)."""
    objid_text, objid_int, ok = parse_objid(text)
    checks.add("objid_invalid", ~ok, "OBJID not a whole number")
    duplicate = ok & pd.Series(np.where(ok, objid_int, -1)).duplicated(keep="first").to_numpy()
    checks.add("objid_duplicate", duplicate, "duplicate OBJID")
    return objid_text


def _format_sums(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.3f", values).astype(object)


def check_fractions(columns: dict[str, pa.ChunkedArray], checks: RowChecks) -> dict[str, np.ndarray]:
    """Vote fractions by canonical name; flags missing, out-of-[0, 1] and inconsistent sums."""
    values: dict[str, np.ndarray] = {}
    for canon, text in columns.items():
        numbers, parsed = to_float64(text)
        finite = parsed & np.isfinite(numbers)
        values[canon] = numbers
        missing = ~parsed | np.isnan(numbers)
        checks.add("fraction_missing", missing, f"{canon} missing or not a number", f"{canon}: {int(missing.sum()):,}")
        out = ~missing & ~(finite & (numbers >= 0.0) & (numbers <= 1.0))
        checks.add("fraction_range", out, f"{canon} outside [0, 1]", f"{canon}: {int(out.sum()):,}")
    if all(c in values for c in RAW_COLUMNS):
        total = values[RAW_COLUMNS[0]].copy()
        for c in RAW_COLUMNS[1:]:
            total += values[c]
        bad = np.isfinite(total) & (np.abs(total - 1.0) > RAW_SUM_TOLERANCE + 1e-9)
        checks.add("raw_sum", bad, "raw fractions sum to " + _format_sums(total[bad]))
    if all(c in values for c in ("P_CS", *CS_PART_COLUMNS)):
        combined = sum(values[c] for c in CS_PART_COLUMNS)
        diff = values["P_CS"] - combined
        bad = np.isfinite(diff) & (np.abs(diff) > CS_SUM_TOLERANCE + 1e-9)
        parts = "+".join(c.removeprefix("P_") for c in CS_PART_COLUMNS)
        checks.add("cs_sum", bad, "P_CS " + _format_sums(values["P_CS"][bad]) + f" but {parts} = "
                   + _format_sums(combined[bad]))
    return values


def looks_sexagesimal(text: pa.ChunkedArray) -> bool:
    """Decide from the first rows whether a coordinate column is sexagesimal (rows that
    disagree are then reported as unparseable, not silently reinterpreted)."""
    return fraction_sexagesimal(text.slice(0, SNIFF_ROWS)) >= 0.5


def check_coordinate(text: pa.ChunkedArray, axis: str, checks: RowChecks) -> tuple[np.ndarray, str]:
    """Parse one coordinate column (``axis`` "RA" or "DEC"); returns (degrees, 'sexagesimal' | 'decimal')."""
    if looks_sexagesimal(text):
        parsed = parse_ra_hms(text) if axis == "RA" else parse_dec_dms(text)
        degrees, ok, in_range = parsed.degrees, parsed.parsed, parsed.in_range
        kind = "sexagesimal"
        shape = "HH:MM:SS.ss" if axis == "RA" else "±DD:MM:SS.s"
        checks.add(f"{axis.lower()}_unparseable", ~ok, f"{axis} not sexagesimal {shape}", f"expected {shape}")
    else:
        degrees, ok = to_float64(text)
        ok = ok & ~np.isnan(degrees)
        kind = "decimal"
        if axis == "RA":
            in_range = ok & (degrees >= 0.0) & (degrees < 360.0)
        else:
            in_range = ok & (degrees >= -90.0) & (degrees <= 90.0)
        checks.add(f"{axis.lower()}_unparseable", ~ok, f"{axis} not a number", "expected decimal degrees")
    checks.add(f"{axis.lower()}_range", ok & ~in_range,
               "RA outside [0h, 24h)" if axis == "RA" else "DEC outside [-90, 90]")
    return degrees, kind


def check_nvote(text: pa.ChunkedArray, checks: RowChecks) -> np.ndarray:
    """NVOTE as int64 (0 where invalid); flags values that are not positive integers."""
    numbers, parsed = to_float64(text)
    good = parsed & np.isfinite(numbers) & (numbers >= 1) & (numbers == np.floor(numbers))
    checks.add("nvote_invalid", ~good, "NVOTE not a positive integer")
    return np.where(good, numbers, 0).astype(np.int64)


def check_flags(columns: dict[str, pa.ChunkedArray], checks: RowChecks) -> dict[str, np.ndarray]:
    """SPIRAL/ELLIPTICAL/UNCERTAIN as int64 0/1; flags anything else."""
    flags: dict[str, np.ndarray] = {}
    for canon, text in columns.items():
        numbers, parsed = to_float64(text)
        good = parsed & ((numbers == 0) | (numbers == 1))
        checks.add("flag_invalid", ~good, f"{canon} not 0 or 1", canon)
        flags[canon] = np.where(good, numbers, 0).astype(np.int64)
    return flags


def angular_distance_arcsec(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    """Great-circle distance in arcseconds between positions in decimal degrees (haversine)."""
    r1, d1, r2, d2 = (np.radians(a) for a in (ra1, dec1, ra2, dec2))
    h = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))) * _ARCSEC_PER_DEGREE
