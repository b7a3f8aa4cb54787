"""What reading a catalogue gives back (:class:`CatalogResult`) and how it fails (:class:`CatalogReadError`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.catalog.validation import ValidationReport

#: Detected input forms and how the report names them (plain words, shown on the page).
FORM_LABELS: dict[str, str] = {
    "table2": "GZ1 Table 2 (16 columns)",
    "table2-13": "GZ1 Table 2 without the three flag columns (13 columns)",
    "zoospec": "SkyServer zooSpec export",
    "training": "training form (OBJ_ID + nine fractions, no positions)",
    "objid-ra-dec": "OBJID, RA, DEC list",
}


class CatalogReadError(ValueError):
    """The file cannot be read as a catalogue at all; the message names the file, never its contents."""


@dataclass
class CatalogResult:
    """A validated catalogue.

    ``table``: clean rows. ``OBJID`` str of digits; ``RA``/``DEC`` float64 decimal
    degrees (when positions exist); ``RA_STR``/``DEC_STR`` the original sexagesimal
    text (when the input had it); ``NVOTE`` int64; the vote fractions present,
    float64 in [0, 1]; flags present, int64 0/1.
    ``rejected``: bad rows, ``ROW`` (1-based data row number) and ``PROBLEMS``
    first, then the row's original text in the file's own column names. ``coordinates``:
    ``"sexagesimal"``, ``"decimal"`` or None (no positions). ``position_disagreement_arcsec``:
    for inputs with both sexagesimal strings and decimal columns (zooSpec), the largest angular
    distance between the two over the clean rows, else None.
    """

    table: pd.DataFrame
    rejected: pd.DataFrame
    report: ValidationReport
    form: str
    has_positions: bool
    name: str = "catalogue"
    coordinates: str | None = None
    position_disagreement_arcsec: float | None = None

    @property
    def form_label(self) -> str:
        return self.report.form_label

    def missing_columns(self, wanted: tuple[str, ...]) -> list[str]:
        """Which of ``wanted`` (canonical names) the clean table lacks."""
        return [c for c in wanted if c not in self.table.columns]
