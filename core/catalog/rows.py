"""Split a catalogue's text into rows of string columns (Arrow), keeping lines with the wrong field count aside.

Every field is read as text; conversion and checks happen in :mod:`core.catalog.column_checks`, so a
bad value becomes a reported problem rather than a parse failure. Row numbers are 1-based data rows.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from core.catalog.layout import first_non_utf8
from core.catalog.result import CatalogReadError

#: Arrow parses in blocks of this many bytes (bounds its working memory per thread).
BLOCK_BYTES = 1 << 22


@dataclass
class BadLine:
    """A line whose field count differs from the header's."""

    row: int  # 1-based data-row number
    text: str
    expected: int
    actual: int


def _arrow_read(data: bytes, names: list[str], threads: bool, bad: list[BadLine]) -> pa.Table:
    def on_invalid(row: Any) -> str:
        number = row.number - 1 if row.number is not None else -1  # physical line -> data row
        bad.append(BadLine(number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    return pacsv.read_csv(
        pa.BufferReader(data),  # zero-copy view of the bytes
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=threads, block_size=BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def read_rows(data: bytes, names: list[str], name: str) -> tuple[pa.Table, list[BadLine]]:
    """All well-formed rows as a string table, and the lines with the wrong number of fields."""
    bad: list[BadLine] = []
    try:
        table = _arrow_read(data, names, True, bad)
        if bad:
            # Threaded parsing does not know line numbers; re-read the (rare) bad file serially.
            bad = []
            table = _arrow_read(data, names, False, bad)
    except pa.ArrowException as exc:  # ArrowInvalid and any other parse failure: a catalogue error
        if "utf8" in str(exc).lower():
            raise CatalogReadError(f"{name}: is not UTF-8 text ({first_non_utf8(data)})") from exc
        raise CatalogReadError(f"{name}: cannot be parsed as CSV (line structure not understood)") from exc
    if table.num_rows == 0 and not bad:
        raise CatalogReadError(f"{name}: has a header but no data rows")
    if table.num_rows == 0:
        raise CatalogReadError(
            f"{name}: no row has the {len(names)} comma-separated fields the header names "
            f"(first bad line: row {bad[0].row}); check the delimiter"
        )
    return table, bad


def row_numbers(n_good: int, bad: list[BadLine]) -> np.ndarray:
    """Data-row numbers (1-based) of the rows Arrow kept, skipping the bad lines."""
    total = n_good + len(bad)
    if not bad:
        return np.arange(1, total + 1, dtype=np.int64)
    skipped = np.array([b.row for b in bad], dtype=np.int64)
    return np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), skipped, assume_unique=True)


def bad_lines_frame(bad: list[BadLine], names: list[str]) -> pd.DataFrame:
    """The bad lines as rejected rows: ``ROW``, ``PROBLEMS``, then their fields under the header's names."""
    rows = []
    for b in bad:
        try:
            fields = next(csv.reader([b.text]), [])
        except csv.Error:  # e.g. a field over csv's 128 KiB limit: keep the text, split plainly
            fields = b.text.split(",")
        fields = (fields + [""] * len(names))[: len(names)]
        rows.append(dict(zip(names, fields, strict=False)) | {
            "ROW": b.row,
            "PROBLEMS": f"{b.actual} fields instead of {b.expected}",
        })
    return pd.DataFrame(rows, columns=["ROW", "PROBLEMS", *names])
