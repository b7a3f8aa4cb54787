"""The validation report of a catalogue: what is wrong, how often, and where.

Row numbers count *data rows* from 1: row 1 is the first line after the header
(blank lines are not counted), so in a file without blank lines row ``n`` is
on line ``n + 1``. Each problem keeps the first :data:`FIRST_ROWS` offending
rows; every offending row is listed in ``CatalogResult.rejected``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from core.wording import count

#: How many offending row numbers a problem keeps for the report.
FIRST_ROWS = 10

#: Every problem the validator can report, in the order the report lists them.
PROBLEM_CODES: dict[str, str] = {
    "missing_columns": "expected columns are missing",
    "unknown_columns": "columns not part of any known GZ1 form (ignored)",
    "field_count": "row has the wrong number of fields",
    "objid_invalid": "OBJID missing or not a whole number (digits only, 64-bit)",
    "objid_duplicate": "OBJID repeats an earlier row (the first copy is kept)",
    "ra_unparseable": "RA missing or unparseable",
    "dec_unparseable": "DEC missing or unparseable",
    "ra_range": "RA outside [0h, 24h)",
    "dec_range": "DEC outside [-90, 90] degrees",
    "nvote_invalid": "NVOTE not a positive integer",
    "fraction_missing": "vote fraction missing or not a number",
    "fraction_range": "vote fraction outside [0, 1]",
    "raw_sum": "six raw fractions (EL, CW, ACW, EDGE, DK, MG) do not sum to 1 within 0.01",
    "cs_sum": "P_CS differs from P_CW + P_ACW + P_EDGE by more than 0.002",
    "flag_invalid": "SPIRAL/ELLIPTICAL/UNCERTAIN flag not 0 or 1",
}


class Problem(NamedTuple):
    """One kind of problem: ``(code, message, count, first_rows)``.

    ``count`` is the number of rows (or, for column problems, columns) affected;
    ``first_rows`` the first offending data-row numbers (empty for column problems).
    """

    code: str
    message: str
    count: int
    first_rows: tuple[int, ...]


@dataclass
class ValidationReport:
    """Counts and first offending rows per problem, for the UI, the CLI and files."""

    source: str
    form_label: str
    n_rows: int
    n_clean: int
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: zooSpec: largest distance (arcsec) between the converted strings and the decimal columns.
    position_disagreement_arcsec: float | None = None

    @property
    def n_rejected(self) -> int:
        return self.n_rows - self.n_clean

    @property
    def ok(self) -> bool:
        """True when nothing at all was found wrong."""
        return not self.problems

    def problem(self, code: str) -> Problem | None:
        return next((p for p in self.problems if p.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "form": self.form_label,
            "n_rows": self.n_rows,
            "n_clean": self.n_clean,
            "n_rejected": self.n_rejected,
            "problems": [
                {"code": p.code, "message": p.message, "count": p.count, "first_rows": list(p.first_rows)}
                for p in self.problems
            ],
            "notes": list(self.notes),
            "position_disagreement_arcsec": self.position_disagreement_arcsec,
        }

    def to_text(self) -> str:
        lines = [
            f"Catalogue: {self.source}",
            f"Form: {self.form_label}",
            f"Rows read: {self.n_rows:,}   clean: {self.n_clean:,}   rejected: {self.n_rejected:,}",
        ]
        lines += [f"Note: {note}" for note in self.notes]
        if not self.problems:
            lines.append("No problems found.")
            return "\n".join(lines)
        lines.append("Problems (row numbers count data rows from 1; row n is on line n+1 of the file):")
        for p in self.problems:
            if p.first_rows:
                more = ", ..." if p.count > len(p.first_rows) else ""
                where = f"{count(p.count, 'row')}, first: {', '.join(map(str, p.first_rows))}{more}"
            else:
                where = f"{count(p.count, 'column')}"
            lines.append(f"  - [{p.code}] {p.message}: {where}")
        return "\n".join(lines)


class RowChecks:
    """Collects per-row checks and turns them into problems and a PROBLEMS text per row.

    ``row_numbers`` are the data-row numbers of the rows being checked (1-based).
    """

    def __init__(self, row_numbers: np.ndarray):
        self.row_numbers = np.asarray(row_numbers, dtype=np.int64)
        self.bad = np.zeros(len(self.row_numbers), dtype=bool)
        self._checks: list[tuple[str, str, np.ndarray, Any]] = []
        self.column_problems: list[Problem] = []

    def add(self, code: str, bad: np.ndarray, row_label: str | np.ndarray, detail: str = "") -> None:
        """Record rows failing check ``code``.

        ``row_label`` is the text put in those rows' PROBLEMS: one string, or an
        array of strings aligned with ``np.flatnonzero(bad)``. ``detail`` is added
        to the report message (e.g. which columns).
        """
        bad = np.asarray(bad, dtype=bool)
        if not bad.any():
            return
        self.bad |= bad
        self._checks.append((code, detail, bad, row_label))

    def add_column_problem(self, code: str, columns: list[str]) -> None:
        if columns:
            message = f"{PROBLEM_CODES[code]}: {', '.join(columns)}"
            self.column_problems.append(Problem(code, message, len(columns), ()))

    def problems(self) -> list[Problem]:
        """Column problems first, then row problems merged by code, in PROBLEM_CODES order."""
        merged: dict[str, tuple[np.ndarray, list[str]]] = {}
        for code, detail, bad, _ in self._checks:
            if code in merged:
                mask, details = merged[code]
                merged[code] = (mask | bad, details + ([detail] if detail else []))
            else:
                merged[code] = (bad.copy(), [detail] if detail else [])
        rows = []
        for code, (mask, details) in merged.items():
            message = PROBLEM_CODES[code] + (f" ({'; '.join(details)})" if details else "")
            first = tuple(int(r) for r in self.row_numbers[mask][:FIRST_ROWS])
            rows.append(Problem(code, message, int(mask.sum()), first))
        order = list(PROBLEM_CODES)
        rows.sort(key=lambda p: order.index(p.code))
        return list(self.column_problems) + rows

    def problems_text(self) -> pd.Categorical:
        """The PROBLEMS text of each bad row (aligned with ``np.flatnonzero(self.bad)``).

        A categorical: rows with the same problems share one string, so a file of a
        million junk rows costs one small integer per row, not a million long texts.
        """
        bad_index = np.flatnonzero(self.bad)
        hits = [(label, mask[bad_index]) for _, _, mask, label in self._checks]
        per_row = np.zeros(len(bad_index), dtype=bool)
        for label, hit in hits:
            if not isinstance(label, str):
                per_row |= hit
        codes = np.empty(len(bad_index), dtype=np.int64)
        shared = np.flatnonzero(~per_row)
        signature = np.zeros((len(shared), max(1, -(-len(hits) // 63))), dtype=np.uint64)
        for i, (_, hit) in enumerate(hits):
            signature[:, i // 63] |= hit[shared].astype(np.uint64) << np.uint64(i % 63)
        unique, inverse = np.unique(signature, axis=0, return_inverse=True)
        categories = [self._join([label for i, (label, _) in enumerate(hits) if int(row[i // 63]) >> (i % 63) & 1])
                      for row in unique]
        codes[shared] = inverse.reshape(-1)
        own = np.flatnonzero(per_row)
        texts = np.full(len(own), "", dtype=object)
        for label, hit in hits:
            on = hit[own]
            texts[on] += (label if isinstance(label, str) else np.asarray(label, dtype=object)[hit.cumsum()[own][on] - 1]) + "; "
        own_codes, own_categories = pd.factorize(np.array([t[:-2] for t in texts], dtype=object))
        codes[own] = own_codes + len(categories)
        return pd.Categorical.from_codes(codes, categories=pd.Index(categories + list(own_categories), dtype=object))

    @staticmethod
    def _join(labels: list[str]) -> str:
        return "; ".join(labels)
