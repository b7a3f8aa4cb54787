"""Training targets with masks, from any labelled table.

A label table gives, per galaxy, some of the nine vote fractions. The target
array is (N, 9) in ``VOTE_COLUMNS`` order with NaN where a value is unknown;
the mask is ``~isnan(target)``. Three kinds of rows:

* **vote fractions**: all six raw answers known (GZ1 Table 2 and its other
  forms, the 10-column training form). P_CS, if absent, is P_CW + P_ACW + P_EDGE.
* **partial vote fractions**: only some answers known, e.g. only P_CW, P_ACW
  and NVOTE as in the spin-labelled cutouts. Unknown columns stay NaN.
* **class-derived**: a ``CLASS_NAME`` (ELLIPTICAL, CLOCKWISE_SPIRAL,
  ANTICLOCKWISE_SPIRAL, EDGE_ON, DONT_KNOW, MERGER) or ``CLASS`` (0..5) column
  becomes a one-hot target over the six raw answers (and P_CS derived from
  it); the debiased columns stay unknown. These rows are flagged
  ``class_derived`` and must be shown as such: a one-hot class is not a vote
  fraction. Where such a table also carries all six fractions for a row
  (``GZ1_P_*`` columns), the real votes are used for that row instead.

Identifiers: ``OBJID`` (also ``OBJ_ID``/``objid``) is the SDSS DR7 objid as a
string of digits. A table without an OBJID but with a ``FILE`` column (the
spin-labelled cutouts, named ``ra..._dec....jpg``) is keyed by the file stem,
called an *image ID*, never an OBJID. Column names are matched without regard
to case, and a ``GZ1_`` prefix on vote columns is accepted.

Catalogue forms (Table 2, 13-column, zooSpec, training form) are read by
``core.catalog.reader.load_catalog`` when that module is available; class tables and
file-keyed (spin) tables, which it does not cover, are read here.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from core.catalog.reader import load_catalog
from core.labels.rows import class_form, class_targets, numeric_column, one_hot_targets, usable_rows
from core.schema import (
    CS_INDEX,
    CS_PART_INDEX,
    RAW_INDEX,
    VOTE_COLUMNS,
    IdKind,
    LabelKind,
    canonical_column,
    find_objid_column,
)

_RAW_IDX = list(RAW_INDEX)
_CS_PARTS = list(CS_PART_INDEX)


class LabelError(ValueError):
    """A label table that cannot be used at all; the message names the file and column."""


@dataclass
class LabelTable:
    """Labels of one table, one row per galaxy (IDs unique).

    ``targets`` (N, 9) float64, NaN = unknown; ``class_derived`` (N,) bool;
    ``nvote`` (N,) float64, NaN = unknown; ``files`` (N,) file names from a
    FILE column or None; ``dropped`` lists rows that could not be used
    (``ROW`` 1-based data row, ``ID``, ``PROBLEM``); ``class_column``: the table's
    column the class-derived labels come from (None without one).
    """

    ids: np.ndarray
    id_kind: IdKind
    targets: np.ndarray
    class_derived: np.ndarray
    nvote: np.ndarray
    files: np.ndarray
    source: str
    form: str
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["ROW", "ID", "PROBLEM"]))
    class_column: str | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def masks(self) -> np.ndarray:
        return ~np.isnan(self.targets)

    def label_kinds(self) -> np.ndarray:
        full = ~np.isnan(self.targets[:, _RAW_IDX]).any(axis=1)
        return np.where(self.class_derived, LabelKind.CLASS.value,
                        np.where(full, LabelKind.VOTES.value, LabelKind.PARTIAL.value))

    def counts(self) -> dict[LabelKind, int]:
        kinds, n = np.unique(self.label_kinds(), return_counts=True)
        return {LabelKind(str(k)): int(c) for k, c in zip(kinds, n, strict=True)}

    def subset(self, index: np.ndarray) -> LabelTable:
        return LabelTable(self.ids[index], self.id_kind, self.targets[index], self.class_derived[index],
                          self.nvote[index], self.files[index], self.source, self.form, self.dropped,
                          self.class_column)

    def to_frame(self) -> pd.DataFrame:
        """One row per galaxy: ID, ID_KIND, LABEL_KIND, NVOTE and the nine columns (NaN = unknown)."""
        df = pd.DataFrame({"ID": self.ids, "ID_KIND": self.id_kind, "LABEL_KIND": self.label_kinds(),
                           "NVOTE": self.nvote})
        for j, col in enumerate(VOTE_COLUMNS):
            df[col] = self.targets[:, j]
        return df


def _read_csv(source: str | Path | bytes | BinaryIO, name: str | None = None) -> tuple[pd.DataFrame, str]:
    if name is None:
        name = str(source) if isinstance(source, (str, Path)) else getattr(source, "name", "uploaded labels")
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        df = pd.read_csv(source, dtype=str, keep_default_na=False, compression="infer")
    except FileNotFoundError as exc:
        raise LabelError(f"{name}: file not found") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise LabelError(f"{name}: cannot read as CSV ({' '.join(str(exc).split())})") from exc
    return df, name


def labels_from_frame(df: pd.DataFrame, source: str = "table") -> LabelTable:
    """Targets from a DataFrame of any supported form (see module docstring)."""
    raw_cols = list(df.columns)
    canon: dict[str, str] = {}
    for col in raw_cols:
        canon.setdefault(canonical_column(col), col)
    objid_col = find_objid_column(raw_cols)
    n = len(df)
    problems: list[tuple[int, str, str]] = []

    if objid_col is not None:
        ids = df[objid_col].astype(str).str.strip()
        ids = ids.str.replace(r"\.0$", "", regex=True)
        id_kind = IdKind.OBJID
    elif "FILE" in canon:
        ids = df[canon["FILE"]].astype(str).str.strip().map(lambda f: Path(f).stem if f else "")
        id_kind = IdKind.IMAGE
    else:
        # The header is file content: count it, never quote it (a server path could be any file).
        raise LabelError(f"{source}: no identifier column: need OBJID (or OBJ_ID) or FILE; none of its "
                         f"{len(raw_cols)} columns is one")
    files = (df[canon["FILE"]].astype(str).str.strip().to_numpy(dtype=object)
             if "FILE" in canon else np.full(n, None, dtype=object))

    targets = np.full((n, len(VOTE_COLUMNS)), np.nan)
    for j, col in enumerate(VOTE_COLUMNS):
        if col in canon:
            targets[:, j] = numeric_column(df, canon[col]).to_numpy(dtype=float)
    nvote = numeric_column(df, canon["NVOTE"]).to_numpy(dtype=float) if "NVOTE" in canon else np.full(n, np.nan)

    has_class = "CLASS_NAME" in canon or "CLASS" in canon
    class_derived = np.zeros(n, dtype=bool)
    form, class_column = str(LabelKind.VOTES), None
    if has_class:
        class_derived, class_column = class_targets(df, canon, ids, targets, problems)
        form = class_form(class_column)
    # P_CS of vote rows: derive where its three parts are known.
    parts_known = ~np.isnan(targets[:, _CS_PARTS]).any(axis=1)
    fill_cs = np.isnan(targets[:, CS_INDEX]) & parts_known
    targets[fill_cs, CS_INDEX] = targets[fill_cs][:, _CS_PARTS].sum(axis=1)

    keep = usable_rows(ids, id_kind, targets, problems)
    for i in np.flatnonzero(keep):
        if not np.isnan(nvote[i]) and nvote[i] <= 0:
            nvote[i] = np.nan
    id_arr = ids.to_numpy(dtype=object)
    dup = pd.Series(id_arr).duplicated().to_numpy() & keep
    for i in np.flatnonzero(dup):
        problems.append((i + 1, id_arr[i], f"duplicate {id_kind}; first row kept"))
    keep &= ~dup

    dropped = pd.DataFrame(problems, columns=["ROW", "ID", "PROBLEM"]).sort_values("ROW", kind="stable")
    table = LabelTable(ids=np.asarray([str(x) for x in id_arr[keep]], dtype=object), id_kind=id_kind,
                       targets=targets[keep], class_derived=class_derived[keep], nvote=nvote[keep],
                       files=files[keep], source=source, form=form, dropped=dropped.reset_index(drop=True),
                       class_column=class_column)
    if len(table) == 0:
        first = (f"row {dropped.iloc[0].ROW}: {_without_values(dropped.iloc[0].PROBLEM)}" if len(dropped)
                 else "the table is empty")
        raise LabelError(f"{source}: no usable labelled rows ({len(dropped)} rows dropped; first problem: {first})")
    if not has_class and not any(c in canon for c in VOTE_COLUMNS):
        raise LabelError(f"{source}: no label columns: need CLASS_NAME or some of {', '.join(VOTE_COLUMNS)}")
    if not has_class:
        counts = table.counts()
        form = str(LabelKind.VOTES) if LabelKind.PARTIAL not in counts else (
            str(LabelKind.PARTIAL) if LabelKind.VOTES not in counts else f"{LabelKind.VOTES} (some partial)")
        table.form = form
    return table


def _without_values(problem: str) -> str:
    """A row problem with quoted cell values replaced: an error message never quotes file contents."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "(a value)", str(problem))


def _needs_own_reader(columns: list[str]) -> bool:
    canon = {canonical_column(c) for c in columns}
    prefixed = any(str(c).strip().upper().startswith("GZ1_") for c in columns)
    no_objid = find_objid_column(columns) is None
    return bool({"CLASS_NAME", "CLASS"} & canon) or prefixed or no_objid


def read_labels(source: str | Path | bytes | BinaryIO, name: str | None = None) -> LabelTable:
    """Labels from a CSV file of any supported form (path, bytes or binary file-like).

    Catalogue forms go through ``core.catalog.reader.load_catalog`` (rows it rejects
    are listed in ``dropped``); class tables, file-keyed spin tables and
    anything it does not read are handled by :func:`labels_from_frame`.
    """
    if isinstance(source, (str, Path)):
        data = Path(source).read_bytes() if Path(source).exists() else None
        if data is None:
            raise LabelError(f"{source}: file not found")
        label = name or str(source)
    elif isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "uploaded labels"
    else:
        data, label = source.read(), name or getattr(source, "name", "uploaded labels")
    df, _ = _read_csv(data, label)
    if not _needs_own_reader(list(df.columns)):
        table = _via_catalog(data, label)
        if table is not None:
            return table
    return labels_from_frame(df, label)


def _via_catalog(data: bytes, label: str) -> LabelTable | None:
    """Read a catalogue form with :func:`core.catalog.reader.load_catalog`; None if it cannot read it."""
    try:
        result = load_catalog(io.BytesIO(data), name=label)
    except ValueError:
        return None
    table = result.table
    cols = [c for c in ("OBJID", "NVOTE", *VOTE_COLUMNS) if c in table.columns]
    if "OBJID" not in cols or not any(c in cols for c in VOTE_COLUMNS):
        return None
    out = labels_from_frame(table[cols].astype(str).replace({"nan": "", "<NA>": ""}), label)
    out.form = f"vote fractions from a {getattr(result, 'form_label', 'GZ1 catalogue')}"
    rejected = getattr(result, "rejected", None)
    if rejected is not None and len(rejected):
        extra = pd.DataFrame({
            "ROW": rejected["ROW"] if "ROW" in rejected else np.arange(1, len(rejected) + 1),
            "ID": rejected["OBJID"].astype(str) if "OBJID" in rejected else "",
            "PROBLEM": rejected["PROBLEMS"].astype(str) if "PROBLEMS" in rejected else "rejected by catalogue check",
        })
        out.dropped = pd.concat([extra, out.dropped], ignore_index=True)
    return out


__all__ = ["LabelTable", "LabelError", "read_labels", "labels_from_frame", "one_hot_targets"]
