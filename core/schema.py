"""Names of the Galaxy Zoo 1 Table 2 columns and what they mean.

GZ1 fractions are fractions of *votes*: ``P_EL`` is the share of people who
answered "elliptical". The six raw answers (EL, CW, ACW, EDGE, DK, MG) are
mutually exclusive, so they sum to 1; ``P_CS`` ("combined spiral") is
``P_CW + P_ACW + P_EDGE``. The two debiased columns (Bamford et al. 2009)
correct EL and CS for redshift bias and are not constrained to sum to 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

#: A galaxy's ID and sky position (decimal degrees): a bare ``OBJID,RA,DEC`` list, what a download needs.
POSITION_COLUMNS: tuple[str, ...] = ("OBJID", "RA", "DEC")

#: Columns of the published GZ1 Table 2 (Lintott et al. 2011), in order.
TABLE2_COLUMNS: tuple[str, ...] = (
    *POSITION_COLUMNS, "NVOTE",
    "P_EL", "P_CW", "P_ACW", "P_EDGE", "P_DK", "P_MG", "P_CS",
    "P_EL_DEBIASED", "P_CS_DEBIASED",
    "SPIRAL", "ELLIPTICAL", "UNCERTAIN",
)

#: The six mutually exclusive raw answers, in Table-2 order (they sum to 1).
RAW_COLUMNS: tuple[str, ...] = ("P_EL", "P_CW", "P_ACW", "P_EDGE", "P_DK", "P_MG")

#: The two redshift-debiased fractions (each in [0, 1], no sum constraint).
DEBIASED_COLUMNS: tuple[str, ...] = ("P_EL_DEBIASED", "P_CS_DEBIASED")

#: The nine vote-fraction columns a model predicts, in Table-2 order.
VOTE_COLUMNS: tuple[str, ...] = RAW_COLUMNS + ("P_CS",) + DEBIASED_COLUMNS

#: Columns of the cleaned 13-column table (decimal RA/DEC, no flags).
CLEAN_COLUMNS: tuple[str, ...] = TABLE2_COLUMNS[:13]

#: Columns of the 10-column training form.
TRAINING_COLUMNS: tuple[str, ...] = ("OBJ_ID",) + VOTE_COLUMNS

#: Flag columns of the published table (0/1).
FLAG_COLUMNS: tuple[str, ...] = ("SPIRAL", "ELLIPTICAL", "UNCERTAIN")

#: The six GZ1 answers as class names, aligned with RAW_COLUMNS.
CLASS_NAMES: tuple[str, ...] = (
    "ELLIPTICAL", "CLOCKWISE_SPIRAL", "ANTICLOCKWISE_SPIRAL", "EDGE_ON", "DONT_KNOW", "MERGER",
)

#: Short labels for charts, aligned with VOTE_COLUMNS.
SHORT_LABELS: dict[str, str] = {
    "P_EL": "elliptical",
    "P_CW": "clockwise spiral",
    "P_ACW": "anticlockwise spiral",
    "P_EDGE": "edge-on",
    "P_DK": "don't know",
    "P_MG": "merger",
    "P_CS": "combined spiral",
    "P_EL_DEBIASED": "elliptical (debiased)",
    "P_CS_DEBIASED": "combined spiral (debiased)",
}

#: One-line words for chart axes with many ticks (drawn at an angle), aligned with VOTE_COLUMNS.
AXIS_LABELS: dict[str, str] = {
    "P_EL": "elliptical", "P_CW": "CW spiral", "P_ACW": "ACW spiral", "P_EDGE": "edge-on",
    "P_DK": "don't know", "P_MG": "merger", "P_CS": "all spirals", "P_EL_DEBIASED": "elliptical (deb.)",
    "P_CS_DEBIASED": "spiral (deb.)",
}

#: Codes of the six raw answers for tight captions ("EL 0.81 CW 0.02 ..."), aligned with RAW_COLUMNS.
ANSWER_CODES: dict[str, str] = {col: col.removeprefix("P_") for col in RAW_COLUMNS}

#: CLASS_NAMES (as stored for votes and top answers) -> the words shown to people, and the axis words.
ANSWER_WORDS: dict[str, str] = {name: SHORT_LABELS[col] for name, col in zip(CLASS_NAMES, RAW_COLUMNS, strict=True)}
ANSWER_AXIS_LABELS: dict[str, str] = {name: AXIS_LABELS[col]
                                      for name, col in zip(CLASS_NAMES, RAW_COLUMNS, strict=True)}

#: Index groups into VOTE_COLUMNS (the model's output and every target array use that order).
RAW_INDEX: tuple[int, ...] = tuple(VOTE_COLUMNS.index(c) for c in RAW_COLUMNS)
CS_INDEX: int = VOTE_COLUMNS.index("P_CS")
CS_PART_COLUMNS: tuple[str, ...] = ("P_CW", "P_ACW", "P_EDGE")
CS_PART_INDEX: tuple[int, ...] = tuple(VOTE_COLUMNS.index(c) for c in CS_PART_COLUMNS)
CW_INDEX: int = VOTE_COLUMNS.index("P_CW")
ACW_INDEX: int = VOTE_COLUMNS.index("P_ACW")
#: The spin pair as positions among the six raw answers (for raw-only arrays and logits).
CW_RAW_INDEX: int = RAW_COLUMNS.index("P_CW")
ACW_RAW_INDEX: int = RAW_COLUMNS.index("P_ACW")
#: The raw answers summed to give P_CS (P_CS = P_CW + P_ACW + P_EDGE), as positions among the six.
CS_PART_RAW_INDEX: tuple[int, ...] = tuple(RAW_COLUMNS.index(c) for c in CS_PART_COLUMNS)
DEBIASED_INDEX: tuple[int, ...] = tuple(VOTE_COLUMNS.index(c) for c in DEBIASED_COLUMNS)
N_RAW = len(RAW_COLUMNS)

#: Names an SDSS DR7 objid column goes by (upper case, after an optional ``GZ1_`` prefix).
OBJID_ALIASES: tuple[str, ...] = ("OBJID", "OBJ_ID", "DR7OBJID")


def canonical_column(name: object) -> str:
    """Upper-case, stripped column name without a ``GZ1_`` prefix (``gz1_p_cw`` -> ``P_CW``)."""
    return str(name).strip().upper().removeprefix("GZ1_")


def find_objid_column(columns: Iterable[object], extra: Iterable[str] = ()) -> object | None:
    """The first column whose canonical name is an OBJID alias (or one of ``extra``), else None.

    Aliases are tried in ``OBJID_ALIASES`` order, so ``DR7OBJID`` loses to ``OBJID`` only
    when both are present and the caller prefers it explicitly.
    """
    wanted = tuple(OBJID_ALIASES) + tuple(extra)
    by_name = {}
    for col in columns:
        by_name.setdefault(canonical_column(col), col)
    return next((by_name[a] for a in wanted if a in by_name), None)


class LabelKind(StrEnum):
    """What a row's targets are; the value is the wording shown to people."""

    VOTES = "vote fractions"
    PARTIAL = "partial vote fractions"
    CLASS = "class-derived"
    NONE = "none"


class IdKind(StrEnum):
    """What a galaxy ID is: an SDSS DR7 objid, or the stem of an image file."""

    OBJID = "OBJID"
    IMAGE = "image ID"
    FILE_STEM = "file stem"


#: Tolerances used by validation (published fractions are rounded to 3 decimals).
RAW_SUM_TOLERANCE = 0.01
CS_SUM_TOLERANCE = 0.002

#: Text to show wherever Galaxy Zoo or SDSS data is displayed.
DATA_CREDIT = (
    "Data: Galaxy Zoo 1 (Lintott et al. 2008, MNRAS 389, 1179; Lintott et al. 2011, MNRAS 410, 166) "
    "and the Sloan Digital Sky Survey (SDSS, www.sdss.org)."
)
