"""Sexagesimal text to decimal degrees, a whole column at a time.

GZ1 Table 2 writes positions as J2000 sexagesimal strings:

* RA  ``HH:MM:SS.ss`` in hours of right ascension (1 h = 15 degrees);
* DEC ``±DD:MM:SS.s`` in degrees; the ``+`` is optional.

The sign is read from the text, never from the degrees field, so ``-00:30:00``
is -0.5 degrees (a float ``-0`` would lose it). Fields may be separated by
``:`` or by spaces. Minutes and seconds must be below 60. Results agree with
``astropy.coordinates.SkyCoord(ra, dec, unit=(u.hourangle, u.deg))`` to far
below a milliarcsecond (see tests/test_catalog_coordinates.py).

The parsing is done by Arrow's regular-expression and cast kernels over the
whole column (no Python loop per row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.catalog.text_columns import as_string_array

#: sign, whole units (hours or degrees), minutes, seconds (with optional decimals)
SEXAGESIMAL_PATTERN = (
    r"^\s*(?P<sign>[+-]?)(?P<units>\d{1,3})[:\s]\s*(?P<minutes>\d{1,2})[:\s]\s*"
    r"(?P<seconds>\d{1,2}(?:\.\d*)?|\.\d+)\s*$"
)

#: Text that looks like a sexagesimal value at all (used to tell it from decimal degrees).
LOOKS_SEXAGESIMAL_PATTERN = r"^\s*[+-]?\d{1,3}[:\s]+\d"


@dataclass(frozen=True)
class SexagesimalColumn:
    """A parsed column.

    ``degrees``: float64 decimal degrees (NaN where not parsed);
    ``parsed``: the text has the right shape, minutes < 60 and seconds < 60;
    ``in_range``: parsed and inside the allowed range (RA in [0h, 24h), DEC in [-90, 90]).
    """

    degrees: np.ndarray
    parsed: np.ndarray
    in_range: np.ndarray


def _parse(values: Any, unit_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (signed value in degrees, parsed mask); unit_scale is degrees per whole unit."""
    arr = as_string_array(values)
    fields = pc.extract_regex(arr, SEXAGESIMAL_PATTERN)  # null where no match
    matched = pc.is_valid(fields).to_numpy(zero_copy_only=False)

    def field(index: int) -> np.ndarray:
        text = pc.fill_null(pc.struct_field(fields, [index]), "0")
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)

    negative = pc.fill_null(pc.equal(pc.struct_field(fields, [0]), "-"), False).to_numpy(zero_copy_only=False)
    units, minutes, seconds = field(1), field(2), field(3)
    parsed = matched & (minutes < 60) & (seconds < 60)
    magnitude = units + minutes / 60.0 + seconds / 3600.0
    value = np.where(negative, -magnitude, magnitude) * unit_scale
    value[~parsed] = np.nan
    return value, parsed


def parse_ra_hms(values: Any) -> SexagesimalColumn:
    """Parse right ascension ``HH:MM:SS.ss`` (hours) to degrees (hours x 15)."""
    degrees, parsed = _parse(values, 15.0)
    in_range = parsed & (degrees >= 0.0) & (degrees < 360.0)
    return SexagesimalColumn(degrees, parsed, in_range)


def parse_dec_dms(values: Any) -> SexagesimalColumn:
    """Parse declination ``±DD:MM:SS.s`` (degrees, ``+`` optional) to degrees."""
    degrees, parsed = _parse(values, 1.0)
    in_range = parsed & (degrees >= -90.0) & (degrees <= 90.0)
    return SexagesimalColumn(degrees, parsed, in_range)


def ra_hms_to_degrees(values: Any) -> np.ndarray:
    """RA text (hours) to float64 degrees; NaN where unparseable or outside [0h, 24h)."""
    col = parse_ra_hms(values)
    return np.where(col.in_range, col.degrees, np.nan)


def dec_dms_to_degrees(values: Any) -> np.ndarray:
    """DEC text (degrees) to float64 degrees; NaN where unparseable or outside [-90, 90]."""
    col = parse_dec_dms(values)
    return np.where(col.in_range, col.degrees, np.nan)


def fraction_sexagesimal(values: Any) -> float:
    """Share of non-empty values that look sexagesimal (0.0 for an empty column)."""
    arr = as_string_array(values)
    non_empty = pc.sum(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(pc.fill_null(arr, ""))), 0)).as_py() or 0
    if non_empty == 0:
        return 0.0
    looks = pc.sum(pc.fill_null(pc.match_substring_regex(arr, LOOKS_SEXAGESIMAL_PATTERN), False)).as_py() or 0
    return looks / non_empty
