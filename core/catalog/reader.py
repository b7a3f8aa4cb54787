"""Read, validate and convert a Galaxy Zoo 1 catalogue (one code path for page, CLI and tests).

Accepted inputs (``.csv`` or gzip-compressed ``.csv.gz``, as a path, bytes or a
binary file-like object):

* ``table2``: the published GZ1 Table 2, 16 columns (OBJID, RA ``HH:MM:SS.ss``,
  DEC ``±DD:MM:SS.s`` with or without ``+``, NVOTE, nine fractions, three flags);
* ``table2-13``: the same without SPIRAL/ELLIPTICAL/UNCERTAIN;
* either of these with RA/DEC already in decimal degrees;
* ``zoospec``: SkyServer's lower-case ``zooSpec`` export (``dr7objid`` or
  ``objid``, ``ra``/``dec`` in degrees and/or ``rastring``/``decstring``, ``nvote``,
  ``p_el``, ...); ``dr7objid`` is the GZ1 OBJID, so it wins over ``objid`` (DR8);
* ``training``: ``OBJ_ID`` + the nine fractions (no positions);
* ``objid-ra-dec``: a bare ``OBJID,RA,DEC`` list (decimal or sexagesimal).

Column names are matched case-insensitively. OBJID is read as text and kept as
a string of digits (never a float, which would round 18-digit ids). Vote
fractions are fractions of votes in [0, 1]; RA/DEC come out as float64 decimal
degrees (J2000). Bad rows are never dropped silently: they go to
``CatalogResult.rejected`` with their original text, row number and problems.
A file that cannot be read at all raises :class:`CatalogReadError`.
"""

from __future__ import annotations

import csv
import gzip
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from core.catalog.sexagesimal import fraction_sexagesimal, parse_dec_dms, parse_ra_hms
from core.catalog.text_columns import parse_objid, to_float64
from core.catalog.validation import FIRST_ROWS, PROBLEM_CODES, Problem, RowChecks, ValidationReport
from core.config import get_settings
from core.schema import (
    CLEAN_COLUMNS,
    CS_SUM_TOLERANCE,
    FLAG_COLUMNS,
    RAW_COLUMNS,
    RAW_SUM_TOLERANCE,
    TABLE2_COLUMNS,
    TRAINING_COLUMNS,
    VOTE_COLUMNS,
)

#: Detected input forms and how the report names them.
FORM_LABELS: dict[str, str] = {
    "table2": "GZ1 Table 2 (16 columns)",
    "table2-13": "GZ1 Table 2 without flags (13 columns)",
    "zoospec": "SkyServer zooSpec export",
    "training": "training form (OBJ_ID + nine fractions, no positions)",
    "objid-ra-dec": "OBJID, RA, DEC list",
}

#: zooSpec columns that are known but not carried into the clean table.
_ZOOSPEC_IGNORED = ("SPECOBJID",)
_ZOOSPEC_MARKERS = ("DR7OBJID", "RASTRING", "DECSTRING", "SPECOBJID")
_SNIFF_BYTES = 1 << 16
_SNIFF_ROWS = 20_000


class CatalogReadError(ValueError):
    """The file cannot be read as a catalogue at all; the message names the file."""


@dataclass
class CatalogResult:
    """A validated catalogue.

    ``table``: clean rows. ``OBJID`` str of digits; ``RA``/``DEC`` float64 decimal
    degrees (when positions exist); ``RA_STR``/``DEC_STR`` the original sexagesimal
    text (when the input had it); ``NVOTE`` int64; the vote fractions present,
    float64 in [0, 1]; flags present, int64 0/1.
    ``rejected``: bad rows, ``ROW`` (1-based data row number) and ``PROBLEMS``
    first, then the row's original text in the file's own column names. ``coordinates``: ``"sexagesimal"``,
    ``"decimal"`` or None (no positions).
    """

    table: pd.DataFrame
    rejected: pd.DataFrame
    report: ValidationReport
    form: str
    has_positions: bool
    name: str = "catalogue"
    coordinates: str | None = None

    @property
    def form_label(self) -> str:
        return self.report.form_label

    def missing_columns(self, wanted: tuple[str, ...]) -> list[str]:
        """Which of ``wanted`` (canonical names) the clean table lacks."""
        return [c for c in wanted if c not in self.table.columns]


@dataclass
class _Layout:
    """Where each canonical column comes from in the file (original header names)."""

    form: str
    objid: str
    ra: str | None = None
    dec: str | None = None
    ra_text: str | None = None
    dec_text: str | None = None
    nvote: str | None = None
    fractions: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- reading


def _read_source(source: Any, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        display = name or path.name
        try:
            return path.read_bytes(), display
        except OSError as exc:
            raise CatalogReadError(f"cannot open catalogue file {str(path)!r}: {exc.strerror or exc}") from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "uploaded file"
    if hasattr(source, "read"):
        display = name or Path(str(getattr(source, "name", "uploaded file"))).name
        if hasattr(source, "getvalue"):
            data = source.getvalue()
        else:
            data = source.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        return bytes(data), display
    raise TypeError(f"load_catalog expects a path, bytes or a binary file object, got {type(source).__name__}")


def _decompress(data: bytes, name: str) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise CatalogReadError(f"{name}: looks gzip-compressed but cannot be decompressed ({exc})") from exc
    if data[:4] == b"PK\x03\x04":
        raise CatalogReadError(f"{name}: is a zip archive; upload the .csv itself or a .csv.gz file")
    return data


def _first_non_utf8(data: bytes) -> str:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"byte 0x{data[exc.start]:02x} on line {line}"
    return "unknown position"


def _parse_header(data: bytes, name: str) -> tuple[bytes, list[str]]:
    """Return (data without BOM, header names); raise CatalogReadError for non-CSV input."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data[:_SNIFF_BYTES].strip() and not data.strip():
        raise CatalogReadError(f"{name}: the file is empty")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise CatalogReadError(f"{name}: is a binary file, not CSV text")
    end = data.find(b"\n")
    header_bytes = data if end < 0 else data[:end]
    try:
        header_line = header_bytes.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise CatalogReadError(f"{name}: is not UTF-8 text ({_first_non_utf8(data)})") from exc
    names = [n.strip() for n in next(csv.reader([header_line]), [])]
    if len(names) <= 1:
        for delimiter, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if delimiter in header_line:
                raise CatalogReadError(
                    f"{name}: columns are separated by {word}; a comma-separated (.csv) file is expected"
                )
    if not any(names):
        raise CatalogReadError(f"{name}: the first line is not a header row of column names")
    seen: set[str] = set()
    for n in names:
        key = n.upper()
        if key in seen:
            raise CatalogReadError(f"{name}: column {n!r} appears more than once in the header")
        seen.add(key)
    return data, names


def _detect_layout(names: list[str], name: str) -> _Layout:
    upper = {n.upper(): n for n in names}
    known_canonical = set(TABLE2_COLUMNS) | {"OBJ_ID", "RASTRING", "DECSTRING", "DR7OBJID"} | set(_ZOOSPEC_IGNORED)
    fractions = {c: upper[c] for c in VOTE_COLUMNS if c in upper}
    flags = {c: upper[c] for c in FLAG_COLUMNS if c in upper}
    # Column names alone cannot tell a lower-cased Table 2 from a zooSpec export, so only
    # zooSpec's own columns mark it (its "objid" is then the DR8 id, not the GZ1 one).
    is_zoospec = any(m in upper for m in _ZOOSPEC_MARKERS)
    notes: list[str] = []

    if is_zoospec:
        form = "zoospec"
        objid = upper.get("DR7OBJID") or upper.get("OBJID")
        if "DR7OBJID" not in upper:
            notes.append(f"OBJID taken from '{objid}': in zooSpec this is the SDSS DR8 id, not the GZ1 (DR7) id")
        if "DR7OBJID" in upper and "OBJID" in upper:
            notes.append(f"OBJID taken from '{upper['DR7OBJID']}' (the GZ1 id); '{upper['OBJID']}' (SDSS DR8 id) ignored")
        for col in _ZOOSPEC_IGNORED:
            if col in upper:
                notes.append(f"column '{upper[col]}' ignored")
    elif "OBJID" in upper:
        objid = upper["OBJID"]
        form = ""
        if "OBJ_ID" in upper:
            notes.append(f"OBJID taken from '{objid}'; '{upper['OBJ_ID']}' ignored")
    elif "OBJ_ID" in upper:
        objid = upper["OBJ_ID"]
        form = ""
    else:
        found = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        raise CatalogReadError(
            f"{name}: no OBJID column (also looked for OBJ_ID, objid, dr7objid); found columns: {found}"
        )

    ra = upper.get("RA")
    dec = upper.get("DEC")
    ra_text = upper.get("RASTRING")
    dec_text = upper.get("DECSTRING")
    has_any_position = any(c is not None for c in (ra, dec, ra_text, dec_text))
    if not form:
        if not has_any_position and "OBJ_ID" in upper:
            form = "training"
        elif not fractions and not flags and "NVOTE" not in upper:
            form = "objid-ra-dec"
        elif flags:
            form = "table2"
        else:
            form = "table2-13"

    expected = {
        "table2": TABLE2_COLUMNS,
        "zoospec": TABLE2_COLUMNS,
        "table2-13": CLEAN_COLUMNS,
        "training": TRAINING_COLUMNS,
        "objid-ra-dec": ("OBJID", "RA", "DEC"),
    }[form]
    present = set(upper) | {"OBJID", "OBJ_ID"}  # the id column was found above
    present |= {"RA"} if (ra or ra_text) else set()
    present |= {"DEC"} if (dec or dec_text) else set()
    missing = [c if form != "zoospec" else c.lower() for c in expected if c not in present]
    used_upper = {k for k, v in upper.items() if v in {objid, ra, dec, ra_text, dec_text}}
    unknown = [upper[k] for k in upper if k not in known_canonical and k not in used_upper]
    return _Layout(
        form=form, objid=objid, ra=ra, dec=dec, ra_text=ra_text, dec_text=dec_text,
        nvote=upper.get("NVOTE"), fractions=fractions, flags=flags,
        missing=missing, unknown=unknown, notes=notes,
    )


@dataclass
class _BadLine:
    row: int  # 1-based data-row number
    text: str
    expected: int
    actual: int


def _arrow_read(data: bytes, names: list[str], threads: bool, bad: list[_BadLine]) -> pa.Table:
    def on_invalid(row: Any) -> str:
        number = row.number - 1 if row.number is not None else -1  # physical line -> data row
        bad.append(_BadLine(number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    return pacsv.read_csv(
        pa.BufferReader(data),  # zero-copy view of the bytes
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=threads, block_size=1 << 22),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _read_rows(data: bytes, names: list[str], name: str) -> tuple[pa.Table, list[_BadLine]]:
    bad: list[_BadLine] = []
    try:
        table = _arrow_read(data, names, True, bad)
        if bad:
            # Threaded parsing does not know line numbers; re-read the (rare) bad file serially.
            bad = []
            table = _arrow_read(data, names, False, bad)
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            raise CatalogReadError(f"{name}: is not UTF-8 text ({_first_non_utf8(data)})") from exc
        raise CatalogReadError(f"{name}: cannot be parsed as CSV ({exc})") from exc
    if table.num_rows == 0 and not bad:
        raise CatalogReadError(f"{name}: has a header but no data rows")
    if table.num_rows == 0:
        raise CatalogReadError(
            f"{name}: no row has the {len(names)} comma-separated fields the header names "
            f"(first bad line: {bad[0].text[:80]!r}); check the delimiter"
        )
    return table, bad


# --------------------------------------------------------------------------- validating


def _row_numbers(n_good: int, bad: list[_BadLine]) -> np.ndarray:
    """Data-row numbers (1-based) of the rows Arrow kept, skipping the bad lines."""
    total = n_good + len(bad)
    if not bad:
        return np.arange(1, total + 1, dtype=np.int64)
    skipped = np.array([b.row for b in bad], dtype=np.int64)
    return np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), skipped, assume_unique=True)


def _format_sums(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.3f", values).astype(object)


def _check_fractions(table: pa.Table, layout: _Layout, checks: RowChecks) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    for canon, original in layout.fractions.items():
        numbers, parsed = to_float64(table[original])
        finite = parsed & np.isfinite(numbers)
        values[canon] = numbers
        missing = ~parsed | np.isnan(numbers)
        checks.add("fraction_missing", missing, f"{canon} missing or not a number",
                   f"{canon}: {int(missing.sum()):,}")
        out = ~missing & ~(finite & (numbers >= 0.0) & (numbers <= 1.0))
        checks.add("fraction_range", out, f"{canon} outside [0, 1]", f"{canon}: {int(out.sum()):,}")
    if all(c in values for c in RAW_COLUMNS):
        total = values[RAW_COLUMNS[0]].copy()
        for c in RAW_COLUMNS[1:]:
            total += values[c]
        bad = np.isfinite(total) & (np.abs(total - 1.0) > RAW_SUM_TOLERANCE + 1e-9)
        checks.add("raw_sum", bad, "raw fractions sum to " + _format_sums(total[bad]))
    if all(c in values for c in ("P_CS", "P_CW", "P_ACW", "P_EDGE")):
        combined = values["P_CW"] + values["P_ACW"] + values["P_EDGE"]
        diff = values["P_CS"] - combined
        bad = np.isfinite(diff) & (np.abs(diff) > CS_SUM_TOLERANCE + 1e-9)
        checks.add("cs_sum", bad, "P_CS " + _format_sums(values["P_CS"][bad]) + " but CW+ACW+EDGE = "
                   + _format_sums(combined[bad]))
    return values


def _looks_sexagesimal(text: pa.ChunkedArray) -> bool:
    """Decide from the first rows whether a coordinate column is sexagesimal (rows that
    disagree are then reported as unparseable, not silently reinterpreted)."""
    return fraction_sexagesimal(text.slice(0, _SNIFF_ROWS)) >= 0.5


def _check_coordinate(
    text: pa.ChunkedArray, axis: str, checks: RowChecks
) -> tuple[np.ndarray, str]:
    """Parse one coordinate column; returns (degrees, 'sexagesimal' | 'decimal')."""
    if _looks_sexagesimal(text):
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


def _bad_lines_frame(bad: list[_BadLine], names: list[str]) -> pd.DataFrame:
    rows = []
    for b in bad:
        fields = next(csv.reader([b.text]), [])
        fields = (fields + [""] * len(names))[: len(names)]
        rows.append(dict(zip(names, fields, strict=False)) | {
            "ROW": b.row,
            "PROBLEMS": f"{b.actual} fields instead of {b.expected}",
        })
    return pd.DataFrame(rows, columns=["ROW", "PROBLEMS", *names])


def _build(table: pa.Table, bad_lines: list[_BadLine], layout: _Layout, names: list[str], name: str) -> CatalogResult:
    rows = _row_numbers(table.num_rows, bad_lines)
    checks = RowChecks(rows)
    checks.add_column_problem("missing_columns", layout.missing)
    checks.add_column_problem("unknown_columns", layout.unknown)

    objid_text, objid_int, objid_ok = parse_objid(table[layout.objid])
    checks.add("objid_invalid", ~objid_ok, "OBJID not a whole number")
    duplicate = objid_ok & pd.Series(np.where(objid_ok, objid_int, -1)).duplicated(keep="first").to_numpy()
    checks.add("objid_duplicate", duplicate, "duplicate OBJID")

    ra_deg = dec_deg = None
    coordinates: str | None = None
    ra_source = layout.ra or layout.ra_text
    dec_source = layout.dec or layout.dec_text
    if ra_source and dec_source:
        ra_deg, ra_kind = _check_coordinate(table[ra_source], "RA", checks)
        dec_deg, dec_kind = _check_coordinate(table[dec_source], "DEC", checks)
        coordinates = "sexagesimal" if "sexagesimal" in (ra_kind, dec_kind) else "decimal"
    keep_text = {}
    if ra_source and dec_source:
        for axis, source, text_source in (("RA", layout.ra, layout.ra_text), ("DEC", layout.dec, layout.dec_text)):
            candidate = text_source or source
            if candidate is not None and _looks_sexagesimal(table[candidate]):
                keep_text[f"{axis}_STR"] = candidate

    nvote = None
    if layout.nvote:
        numbers, parsed = to_float64(table[layout.nvote])
        good = parsed & np.isfinite(numbers) & (numbers >= 1) & (numbers == np.floor(numbers))
        checks.add("nvote_invalid", ~good, "NVOTE not a positive integer")
        nvote = np.where(good, numbers, 0).astype(np.int64)

    fractions = _check_fractions(table, layout, checks)

    flags: dict[str, np.ndarray] = {}
    for canon, original in layout.flags.items():
        numbers, parsed = to_float64(table[original])
        good = parsed & ((numbers == 0) | (numbers == 1))
        checks.add("flag_invalid", ~good, f"{canon} not 0 or 1", canon)
        flags[canon] = np.where(good, numbers, 0).astype(np.int64)

    # ---- assemble
    keep = ~checks.bad
    all_good = bool(keep.all())
    keep_arrow = pa.array(keep)

    def kept(values: np.ndarray) -> np.ndarray:
        return values if all_good else values[keep]

    def kept_text(values: pa.Array | pa.ChunkedArray) -> pd.Series:
        return (values if all_good else values.filter(keep_arrow)).to_pandas()

    columns: dict[str, Any] = {"OBJID": kept_text(objid_text)}
    if ra_deg is not None and dec_deg is not None:
        columns["RA"] = kept(ra_deg)
        columns["DEC"] = kept(dec_deg)
    for key, source in keep_text.items():
        columns[key] = kept_text(table[source])
    if nvote is not None:
        columns["NVOTE"] = kept(nvote)
    for canon in VOTE_COLUMNS:
        if canon in fractions:
            columns[canon] = kept(fractions[canon])
    for canon in FLAG_COLUMNS:
        if canon in flags:
            columns[canon] = kept(flags[canon])
    clean = pd.DataFrame(
        {k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v) for k, v in columns.items()}, copy=False
    )

    bad_index = np.flatnonzero(checks.bad)
    if len(bad_index):
        rejected = table.take(pa.array(bad_index)).to_pandas()
        rejected["ROW"] = rows[bad_index]
        rejected["PROBLEMS"] = pd.array(checks.problems_text(), dtype="str")
    else:
        rejected = pd.DataFrame({n: pd.array([], dtype="str") for n in names})
        rejected["ROW"] = np.array([], dtype=np.int64)
        rejected["PROBLEMS"] = pd.array([], dtype="str")
    problems = checks.problems()
    rejected = rejected.loc[:, ["ROW", "PROBLEMS", *names]]
    if bad_lines:
        extra = _bad_lines_frame(bad_lines, names)
        rejected = pd.concat([rejected, extra], ignore_index=True).sort_values("ROW", kind="stable")
        rejected = rejected.reset_index(drop=True)
        problems.append(Problem(
            "field_count", PROBLEM_CODES["field_count"], len(bad_lines),
            tuple(sorted(b.row for b in bad_lines)[:FIRST_ROWS]),
        ))
        order = list(PROBLEM_CODES)
        problems.sort(key=lambda p: order.index(p.code))

    form_label = FORM_LABELS[layout.form]
    if coordinates:
        form_label += ", sexagesimal RA/DEC" if coordinates == "sexagesimal" else ", decimal-degree RA/DEC"
    n_rows = table.num_rows + len(bad_lines)
    report = ValidationReport(
        source=name, form_label=form_label, n_rows=n_rows, n_clean=int(keep.sum()),
        problems=problems, notes=list(layout.notes),
    )
    return CatalogResult(
        table=clean, rejected=rejected, report=report, form=layout.form,
        has_positions=ra_deg is not None and dec_deg is not None, name=name,
        coordinates=coordinates,
    )


# --------------------------------------------------------------------------- public API


def load_catalog(source: str | os.PathLike | bytes | IO[bytes], name: str | None = None) -> CatalogResult:
    """Read, validate and convert a catalogue (see the module docstring for the forms).

    ``name`` is how messages and the report refer to the source (default: the
    file name, or "uploaded file" for bytes). Raises :class:`CatalogReadError`
    when the input is not a readable comma-separated catalogue.
    """
    data, display = _read_source(source, name)
    data = _decompress(data, display)
    data, names = _parse_header(data, display)
    layout = _detect_layout(names, display)
    table, bad_lines = _read_rows(data, names, display)
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
