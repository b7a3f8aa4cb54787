"""The three files the catalogue step hands on, as bytes (one code path for page and CLI).

* :func:`clean_csv_bytes`: the cleaned 13-column table, RA/DEC in decimal
  degrees rounded to 1e-8 degree (0.036 mas), OBJID as digits, fractions as
  read (fractions of votes).
* :func:`image_list_files` / :func:`image_list_download`: input for the SDSS
  Image List Tool: a ``name ra dec`` header, then one galaxy per line (OBJID,
  RA and DEC in decimal degrees, separated by spaces), at most
  :data:`IMAGE_LIST_LIMIT` galaxies per file; more than that come zipped.
* :func:`training_csv_bytes`: the 10-column training form, ``OBJ_ID`` + the nine
  vote fractions.
* :func:`rejected_csv_bytes`: the rows validation rejected, with ROW and PROBLEMS, formula
  cells neutralised (:mod:`core.csv_safety`). The other files hold only validated numbers
  and digit OBJIDs, so no cell of theirs can start a formula.

:func:`core.atomic.write_bytes_atomic` writes a file via a temporary file and ``os.replace``
so a crash never leaves a half-written output.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from core.csv_safety import safe_frame
from core.schema import CLEAN_COLUMNS, POSITION_COLUMNS, TRAINING_COLUMNS, VOTE_COLUMNS

#: The SDSS Image List Tool accepts at most this many objects per list.
IMAGE_LIST_LIMIT = 1000

#: Decimal places for RA/DEC in degrees (1e-8 degree = 0.036 milliarcsecond).
COORD_DECIMALS = 8


class ExportError(ValueError):
    """The table lacks what an export needs; the message names the missing columns."""


def _require(table: pd.DataFrame, columns: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ExportError(f"{what} needs column(s) {', '.join(missing)}, which this catalogue does not have")


def _degrees_array(values: pd.Series) -> pa.Array:
    # Rounded to 1e-8 degree; Arrow then prints the shortest exact text, in fixed
    # notation for values of this size (never 1e-05), e.g. 0.00170833, -10.37380556.
    return pa.array(np.round(values.to_numpy(dtype=np.float64), COORD_DECIMALS))


def _csv_bytes(columns: dict[str, pa.Array | pd.Series]) -> bytes:
    # Arrow's writer is ~20x faster than DataFrame.to_csv on the full table. No quoting
    # is needed: every value here is a number or a string of digits.
    arrays = {k: (v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, from_pandas=True))
              for k, v in columns.items()}
    buffer = io.BytesIO()
    buffer.write((",".join(arrays) + "\n").encode("utf-8"))  # Arrow would quote the header names
    pacsv.write_csv(pa.table(arrays), buffer, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buffer.getvalue()


def _objid_array(table: pd.DataFrame) -> pa.Array:
    return pa.array(table["OBJID"].astype("str"), type=pa.string(), from_pandas=True)


def clean_csv_bytes(table: pd.DataFrame) -> bytes:
    """The cleaned 13-column table (CLEAN_COLUMNS), RA/DEC as decimal degrees."""
    _require(table, CLEAN_COLUMNS, "the cleaned 13-column table")
    columns: dict[str, pa.Array | pd.Series] = {"OBJID": _objid_array(table)}
    columns["RA"] = _degrees_array(table["RA"])
    columns["DEC"] = _degrees_array(table["DEC"])
    for name in CLEAN_COLUMNS[3:]:
        columns[name] = table[name]
    return _csv_bytes(columns)


def training_csv_bytes(table: pd.DataFrame) -> bytes:
    """The 10-column training form: ``OBJ_ID`` + the nine vote fractions (fractions of votes)."""
    _require(table, ("OBJID",) + VOTE_COLUMNS, "the training CSV")
    columns: dict[str, pa.Array | pd.Series] = {"OBJ_ID": _objid_array(table)}
    for name in VOTE_COLUMNS:
        columns[name] = table[name]
    assert tuple(columns) == TRAINING_COLUMNS
    return _csv_bytes(columns)


def rejected_csv_bytes(rejected: pd.DataFrame) -> bytes:
    """The rejected rows (original text, ROW, PROBLEMS) as CSV; cells a spreadsheet would run as a
    formula (``=HYPERLINK(...)``, ``@SUM``, ...) and such header names get a leading apostrophe."""
    return safe_frame(rejected).to_csv(index=False, lineterminator="\n").encode("utf-8")


def image_list_files(table: pd.DataFrame, limit: int = IMAGE_LIST_LIMIT) -> list[tuple[str, bytes]]:
    """SDSS Image List Tool input split into files of at most ``limit`` galaxies.

    Returns ``[(file name, bytes), ...]``: ``image_list.txt`` when one file is
    enough, else ``image_list_001.txt``, ``image_list_002.txt``, ...
    """
    _require(table, POSITION_COLUMNS, "the SDSS image list")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    text = pc.binary_join_element_wise(
        _objid_array(table),
        pc.cast(_degrees_array(table["RA"]), pa.string()),
        pc.cast(_degrees_array(table["DEC"]), pa.string()),
        " ",
    )
    lines = text.to_numpy(zero_copy_only=False)
    n_files = max(1, -(-len(lines) // limit))
    width = max(3, len(str(n_files)))
    files = []
    for i in range(n_files):
        chunk = lines[i * limit:(i + 1) * limit]
        name = "image_list.txt" if n_files == 1 else f"image_list_{i + 1:0{width}d}.txt"
        files.append((name, ("name ra dec\n" + "\n".join(chunk) + "\n").encode("utf-8")))
    return files


def image_list_download(table: pd.DataFrame, limit: int = IMAGE_LIST_LIMIT) -> tuple[str, bytes, str]:
    """One download: ``(file name, bytes, MIME type)``; a zip of the parts when more than ``limit`` rows."""
    files = image_list_files(table, limit)
    if len(files) == 1:
        name, data = files[0]
        return name, data, "text/plain"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return "image_list.zip", buffer.getvalue(), "application/zip"
