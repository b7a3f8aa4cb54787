"""Read, validate and convert a Galaxy Zoo 1 catalogue (one code path for page, CLI and tests).

Accepted inputs (``.csv`` or gzip-compressed ``.csv.gz``, as a path, bytes or a
binary file-like object):

* ``table2``: the published GZ1 Table 2, 16 columns (OBJID, RA ``HH:MM:SS.ss``,
  DEC ``±DD:MM:SS.s`` with or without ``+``, NVOTE, nine fractions, three flags);
* ``table2-13``: the same without SPIRAL/ELLIPTICAL/UNCERTAIN;
* either of these with RA/DEC already in decimal degrees;
* ``zoospec``: SkyServer's lower-case ``zooSpec`` export (``dr7objid`` or
  ``objid``, ``ra``/``dec`` in degrees and/or ``rastring``/``decstring``, ``nvote``,
  ``p_el``, ...); ``dr7objid`` is the GZ1 OBJID, so it wins over ``objid`` (DR8).
  When both forms of position are present the strings (the GZ1 originals, 0.01 s
  precision) are converted and the largest disagreement with the export's rounded
  decimals is reported;
* ``training``: ``OBJ_ID`` + the nine fractions (no positions);
* ``objid-ra-dec``: a bare ``OBJID,RA,DEC`` list (decimal or sexagesimal).

Column names are matched case-insensitively. OBJID is read as text and kept as
a string of digits (never a float, which would round 18-digit ids). Vote
fractions are fractions of votes in [0, 1]; RA/DEC come out as float64 decimal
degrees (J2000). Bad rows are never dropped silently: they go to
``CatalogResult.rejected`` with their original text, row number and problems.
A file that cannot be read at all, or is larger than ``Settings.max_catalog_bytes``
(decompressed), raises :class:`CatalogReadError`. The steps live in ``source``
(bytes, size cap, gzip), ``layout`` (header), ``rows`` (CSV split) and
``column_checks`` (parsing and checks).
"""

from __future__ import annotations

import os
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa

from core.catalog.column_checks import (
    angular_distance_arcsec,
    check_coordinate,
    check_flags,
    check_fractions,
    check_nvote,
    check_objid,
    looks_sexagesimal,
)
from core.catalog.layout import Layout, detect_layout, parse_header
from core.catalog.result import FORM_LABELS, CatalogReadError, CatalogResult
from core.catalog.rows import BadLine, bad_lines_frame, read_rows, row_numbers
from core.catalog.source import read_source
from core.catalog.text_columns import to_float64
from core.catalog.validation import FIRST_ROWS, PROBLEM_CODES, Problem, RowChecks, ValidationReport
from core.config import get_settings
from core.schema import FLAG_COLUMNS, VOTE_COLUMNS

__all__ = ["CatalogReadError", "CatalogResult", "load_catalog", "load_sample", "select_rows"]


class _Positions:
    """RA/DEC in decimal degrees, where they came from, and the zooSpec cross-check."""

    def __init__(self, table: pa.Table, layout: Layout, checks: RowChecks) -> None:
        self.ra = self.dec = self.coordinates = None
        self.text_columns: dict[str, str] = {}
        self.decimal_check: tuple[np.ndarray, np.ndarray] | None = None
        ra_source, dec_source = layout.ra_text or layout.ra, layout.dec_text or layout.dec
        if not (ra_source and dec_source):
            return
        self.ra, ra_kind = check_coordinate(table[ra_source], "RA", checks)
        self.dec, dec_kind = check_coordinate(table[dec_source], "DEC", checks)
        self.coordinates = "sexagesimal" if "sexagesimal" in (ra_kind, dec_kind) else "decimal"
        for axis, source in (("RA", ra_source), ("DEC", dec_source)):
            if looks_sexagesimal(table[source]):
                self.text_columns[f"{axis}_STR"] = source
        if layout.ra_text and layout.dec_text and layout.ra and layout.dec:
            self.decimal_check = (to_float64(table[layout.ra])[0], to_float64(table[layout.dec])[0])

    def disagreement_arcsec(self, keep: np.ndarray) -> float | None:
        """Largest distance between the converted strings and the decimal columns over kept rows."""
        if self.decimal_check is None or self.ra is None:
            return None
        distance = angular_distance_arcsec(self.ra, self.dec, *self.decimal_check)[keep]
        distance = distance[np.isfinite(distance)]
        return float(distance.max()) if len(distance) else None


def _clean_table(table: pa.Table, layout: Layout, checks: RowChecks, positions: _Positions,
                 values: dict[str, np.ndarray]) -> pd.DataFrame:
    """The clean rows in canonical column order (OBJID, RA, DEC, RA_STR, DEC_STR, NVOTE, fractions, flags)."""
    keep = ~checks.bad
    all_good = bool(keep.all())
    keep_arrow = pa.array(keep)

    def kept(column: np.ndarray) -> np.ndarray:
        return column if all_good else column[keep]

    def kept_text(column: pa.Array | pa.ChunkedArray) -> pd.Series:
        return (column if all_good else column.filter(keep_arrow)).to_pandas().reset_index(drop=True)

    columns: dict[str, object] = {"OBJID": kept_text(values.pop("OBJID"))}
    if positions.ra is not None:
        columns["RA"], columns["DEC"] = kept(positions.ra), kept(positions.dec)
    for key, source in positions.text_columns.items():
        columns[key] = kept_text(table[source])
    for canon in ("NVOTE", *VOTE_COLUMNS, *FLAG_COLUMNS):
        if canon in values:
            columns[canon] = kept(values[canon])
    return pd.DataFrame(columns, copy=False)


def _rejected(table: pa.Table, names: list[str], rows: np.ndarray, checks: RowChecks,
              bad_lines: list[BadLine]) -> pd.DataFrame:
    """Rejected rows: ``ROW``, ``PROBLEMS``, then the original text, ordered by row number."""
    bad_index = np.flatnonzero(checks.bad)
    if len(bad_index):
        # A file of junk rejects every row: reuse its table instead of copying it.
        rejected = (table if len(bad_index) == table.num_rows else table.filter(pa.array(checks.bad))).to_pandas()
        rejected["ROW"] = rows[bad_index]
        rejected["PROBLEMS"] = checks.problems_text()
    else:
        rejected = pd.DataFrame({n: pd.array([], dtype="str") for n in names})
        rejected["ROW"] = np.array([], dtype=np.int64)
        rejected["PROBLEMS"] = pd.array([], dtype="str")
    rejected = rejected.loc[:, ["ROW", "PROBLEMS", *names]]
    if bad_lines:
        rejected = pd.concat([rejected, bad_lines_frame(bad_lines, names)], ignore_index=True)
        rejected = rejected.sort_values("ROW", kind="stable").reset_index(drop=True)
    return rejected


def _problems(checks: RowChecks, bad_lines: list[BadLine]) -> list[Problem]:
    problems = checks.problems()
    if bad_lines:
        first = tuple(sorted(b.row for b in bad_lines)[:FIRST_ROWS])
        problems.append(Problem("field_count", PROBLEM_CODES["field_count"], len(bad_lines), first))
        order = list(PROBLEM_CODES)
        problems.sort(key=lambda p: order.index(p.code))
    return problems


def _build(table: pa.Table, bad_lines: list[BadLine], layout: Layout, names: list[str], name: str) -> CatalogResult:
    rows = row_numbers(table.num_rows, bad_lines)
    checks = RowChecks(rows)
    checks.add_column_problem("missing_columns", layout.missing)
    checks.add_column_problem("unknown_columns", layout.unknown)
    values: dict[str, object] = {"OBJID": check_objid(table[layout.objid], checks)}
    positions = _Positions(table, layout, checks)
    if layout.nvote:
        values["NVOTE"] = check_nvote(table[layout.nvote], checks)
    values |= check_fractions({c: table[o] for c, o in layout.fractions.items()}, checks)
    values |= check_flags({c: table[o] for c, o in layout.flags.items()}, checks)

    keep = ~checks.bad
    clean = _clean_table(table, layout, checks, positions, values)
    notes = list(layout.notes)
    disagreement = positions.disagreement_arcsec(keep)
    if disagreement is not None:
        notes.append(f"RA/DEC converted from '{layout.ra_text}'/'{layout.dec_text}' (the GZ1 strings); the "
                     f"export's decimal '{layout.ra}'/'{layout.dec}' agree within {disagreement:.2f}″ "
                     "(largest distance; the decimals are rounded to 4 places, 0.36″)")
    form_label = FORM_LABELS[layout.form]
    if positions.coordinates:
        form_label += f", {'sexagesimal' if positions.coordinates == 'sexagesimal' else 'decimal-degree'} RA/DEC"
    report = ValidationReport(
        source=name, form_label=form_label, n_rows=table.num_rows + len(bad_lines), n_clean=int(keep.sum()),
        problems=_problems(checks, bad_lines), notes=notes, position_disagreement_arcsec=disagreement,
    )
    return CatalogResult(
        table=clean, rejected=_rejected(table, names, rows, checks, bad_lines), report=report, form=layout.form,
        has_positions=positions.ra is not None, name=name, coordinates=positions.coordinates,
        position_disagreement_arcsec=disagreement,
    )


def load_catalog(source: str | os.PathLike | bytes | IO[bytes], name: str | None = None,
                 max_bytes: int | None = None) -> CatalogResult:
    """Read, validate and convert a catalogue (see the module docstring for the forms).

    ``name`` is how messages and the report refer to the source (default: the
    file name, or "uploaded file" for bytes). ``max_bytes`` caps the file and its
    decompressed text (default ``Settings.max_catalog_bytes``). Raises
    :class:`CatalogReadError` when the input is not a readable comma-separated catalogue.
    """
    limit = get_settings().max_catalog_bytes if max_bytes is None else max_bytes
    data, display = read_source(source, name, limit)
    data, names = parse_header(data, display)
    layout = detect_layout(names, display)
    table, bad_lines = read_rows(data, names, display)
    del data  # the Arrow table holds its own copy of the text; free the raw bytes before checking
    return _build(table, bad_lines, layout, names, display)


def load_sample() -> CatalogResult:
    """The built-in 695-row GZ1 Table 2 sample (``settings.sample_catalog``)."""
    path = get_settings().sample_catalog
    return load_catalog(path, name=f"built-in sample ({path.name})")


def select_rows(table: pd.DataFrame, objids: list[str] | pd.Index | None) -> pd.DataFrame:
    """Rows of ``table`` whose OBJID is in ``objids`` (all rows when ``objids`` is None)."""
    if objids is None:
        return table
    return table[table["OBJID"].isin(pd.Index(objids, dtype="str"))].reset_index(drop=True)
