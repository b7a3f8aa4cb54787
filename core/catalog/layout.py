"""Which input form a catalogue is and where each canonical column comes from, from its header alone."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from core.catalog.limits import check_column_count, check_shape
from core.catalog.result import CatalogReadError
from core.schema import (
    CLEAN_COLUMNS,
    FLAG_COLUMNS,
    OBJID_ALIASES,
    POSITION_COLUMNS,
    TABLE2_COLUMNS,
    TRAINING_COLUMNS,
    VOTE_COLUMNS,
    find_objid_column,
)

#: zooSpec columns that are known but not carried into the clean table.
ZOOSPEC_IGNORED = ("SPECOBJID",)
#: Columns only a zooSpec export has (its "objid" is then the DR8 id, not the GZ1 one).
ZOOSPEC_MARKERS = ("DR7OBJID", "RASTRING", "DECSTRING", "SPECOBJID")
#: Columns each form must have (canonical names).
EXPECTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "table2": TABLE2_COLUMNS,
    "zoospec": TABLE2_COLUMNS,
    "table2-13": CLEAN_COLUMNS,
    "training": TRAINING_COLUMNS,
    "objid-ra-dec": POSITION_COLUMNS,
}
SNIFF_BYTES = 1 << 16


@dataclass
class Layout:
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


def first_non_utf8(data: bytes) -> str:
    """Where the first byte that is not UTF-8 is ("byte 0xe9 on line 3"), for error messages."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"byte 0x{data[exc.start]:02x} on line {line}"
    return "unknown position"


def parse_header(data: bytes, name: str) -> tuple[bytes, list[str]]:
    """Return (data without BOM, header names); raise CatalogReadError for non-CSV input.

    Lines and columns are held to :mod:`core.catalog.limits` before anything is split.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise CatalogReadError(f"{name}: the file is empty")
    if b"\x00" in data[:SNIFF_BYTES]:
        raise CatalogReadError(f"{name}: is a binary file, not CSV text")
    check_shape(data, name)
    end = data.find(b"\n")
    header_bytes = data if end < 0 else data[:end]
    try:
        header_line = header_bytes.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError as exc:
        raise CatalogReadError(f"{name}: is not UTF-8 text ({first_non_utf8(header_bytes)})") from exc
    check_column_count(header_line.count(",") + 1, name)  # an upper bound: quoted names may hold commas
    try:
        names = [n.strip() for n in next(csv.reader([header_line]), [])]
    except csv.Error as exc:
        problem = (f"a column name is longer than the {csv.field_size_limit():,} characters allowed"
                   if "field limit" in str(exc) else f"it is not valid CSV ({exc})")
        raise CatalogReadError(f"{name}: line 1 (the header) cannot be read: {problem}") from None
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
        if n.upper() in seen:
            raise CatalogReadError(f"{name}: column {n!r} appears more than once in the header")
        seen.add(n.upper())
    return data, names


def _objid_column(upper: dict[str, str], is_zoospec: bool, name: str) -> tuple[str, list[str]]:
    """The OBJID column's original name, and notes on the id columns passed over."""
    # In zooSpec, dr7objid is the GZ1 id and wins over objid (the DR8 id); elsewhere schema order holds.
    preferred = ["DR7OBJID"] if is_zoospec else []
    objid = find_objid_column([upper[k] for k in preferred if k in upper]) or find_objid_column(upper.values())
    if objid is None:
        found = ", ".join(list(upper.values())[:20]) + (", ..." if len(upper) > 20 else "")
        aliases = ", ".join(OBJID_ALIASES)
        raise CatalogReadError(f"{name}: no OBJID column (looked for {aliases}, any case); found columns: {found}")
    notes: list[str] = []
    others = [upper[k] for k in OBJID_ALIASES if k in upper and upper[k] != objid]
    if is_zoospec and objid.upper() == "OBJID":
        notes.append(f"OBJID taken from '{objid}': in zooSpec this is the SDSS DR8 id, not the GZ1 (DR7) id")
    for other in others:
        why = " (SDSS DR8 id)" if is_zoospec and other.upper() == "OBJID" else ""
        notes.append(f"OBJID taken from '{objid}'{' (the GZ1 id)' if is_zoospec else ''}; '{other}'{why} ignored")
    return objid, notes


def _form(upper: dict[str, str], is_zoospec: bool, has_positions: bool, fractions: dict, flags: dict) -> str:
    if is_zoospec:
        return "zoospec"
    if not has_positions and "OBJ_ID" in upper:
        return "training"
    if not fractions and not flags and "NVOTE" not in upper:
        return "objid-ra-dec"
    return "table2" if flags else "table2-13"


def detect_layout(names: list[str], name: str) -> Layout:
    """Map the header ``names`` to canonical columns and decide the input form."""
    upper = {n.upper(): n for n in names}
    fractions = {c: upper[c] for c in VOTE_COLUMNS if c in upper}
    flags = {c: upper[c] for c in FLAG_COLUMNS if c in upper}
    # Column names alone cannot tell a lower-cased Table 2 from a zooSpec export, so only
    # zooSpec's own columns mark it.
    is_zoospec = any(m in upper for m in ZOOSPEC_MARKERS)
    objid, notes = _objid_column(upper, is_zoospec, name)
    if is_zoospec:
        notes += [f"column '{upper[c]}' ignored" for c in ZOOSPEC_IGNORED if c in upper]
    ra, dec = upper.get("RA"), upper.get("DEC")
    ra_text, dec_text = upper.get("RASTRING"), upper.get("DECSTRING")
    has_positions = any(c is not None for c in (ra, dec, ra_text, dec_text))
    form = _form(upper, is_zoospec, has_positions, fractions, flags)

    present = set(upper) | {"OBJID", "OBJ_ID"}  # the id column was found above
    present |= {"RA"} if (ra or ra_text) else set()
    present |= {"DEC"} if (dec or dec_text) else set()
    missing = [c if form != "zoospec" else c.lower() for c in EXPECTED_COLUMNS[form] if c not in present]
    known = set(TABLE2_COLUMNS) | set(OBJID_ALIASES) | {"RASTRING", "DECSTRING"} | set(ZOOSPEC_IGNORED)
    used = {objid, ra, dec, ra_text, dec_text}
    unknown = [original for key, original in upper.items() if key not in known and original not in used]
    return Layout(
        form=form, objid=objid, ra=ra, dec=dec, ra_text=ra_text, dec_text=dec_text,
        nvote=upper.get("NVOTE"), fractions=fractions, flags=flags,
        missing=missing, unknown=unknown, notes=notes,
    )
