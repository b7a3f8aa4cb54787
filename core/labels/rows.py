"""Row-level checks of a label table: class names to one-hot targets, and which rows are usable.

Helpers of :func:`core.labels.targets.labels_from_frame`. Each problem is recorded as
(1-based data row, ID, reason) so nothing is dropped silently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import CLASS_NAMES, CS_INDEX, CS_PART_INDEX, RAW_INDEX, RAW_SUM_TOLERANCE, VOTE_COLUMNS, LabelKind

_RAW_IDX = list(RAW_INDEX)
#: How far the six raw fractions of a label row may sum from 1 (looser than the catalogue check,
#: since label files are often rounded by hand).
LABEL_SUM_TOLERANCE = 2 * RAW_SUM_TOLERANCE


def one_hot_targets(class_index: np.ndarray) -> np.ndarray:
    """(N, 9) targets for classes 0..5 (CLASS_NAMES order): one-hot raw, P_CS derived, debiased NaN."""
    t = np.full((len(class_index), len(VOTE_COLUMNS)), np.nan)
    t[:, _RAW_IDX] = 0.0
    t[np.arange(len(class_index)), np.asarray(_RAW_IDX)[class_index]] = 1.0
    t[:, CS_INDEX] = t[:, list(CS_PART_INDEX)].sum(axis=1)
    return t


def numeric_column(df: pd.DataFrame, col: str) -> pd.Series:
    """Column ``col`` as floats; blanks and non-numbers become NaN."""
    return pd.to_numeric(df[col].astype(str).str.strip().replace("", np.nan), errors="coerce")


def class_targets(df: pd.DataFrame, canon: dict[str, str], ids: pd.Series, targets: np.ndarray,
                  problems: list) -> tuple[np.ndarray, str]:
    """Fill one-hot targets (in place) for rows without all six votes; (class_derived mask, class column name).

    Uses ``CLASS_NAME`` (a name) or ``CLASS`` (0..5); unknown classes are recorded in ``problems``.
    """
    if "CLASS_NAME" in canon:
        col_name = canon["CLASS_NAME"]
        lookup = {c: i for i, c in enumerate(CLASS_NAMES)}
        names = df[col_name].astype(str).str.strip().str.upper()
        cls = names.map(lambda s: lookup.get(s, -1)).to_numpy(dtype=int)
    else:
        col_name = canon["CLASS"]
        num = numeric_column(df, col_name)
        cls = np.where(num.isin(range(6)), num.fillna(-1), -1).astype(int)
    use_class = np.isnan(targets[:, _RAW_IDX]).any(axis=1)
    for i in np.flatnonzero(use_class & (cls < 0)):
        problems.append((i + 1, ids.iloc[i], f"{col_name} {df[col_name].iloc[i]!r} is not one of "
                                             f"{', '.join(CLASS_NAMES)}"))
    ok = use_class & (cls >= 0)
    targets[ok] = one_hot_targets(cls[ok])
    return ok, col_name


def class_form(column: str) -> str:
    """The labels form of a table whose labels come from class column ``column``."""
    return f"{LabelKind.CLASS} labels (one-hot from {column})"


def usable_rows(ids: pd.Series, id_kind: str, targets: np.ndarray, problems: list) -> np.ndarray:
    """Boolean mask of rows with an ID and a valid label; the others are recorded in ``problems``."""
    keep = np.ones(len(ids), dtype=bool)
    for i in range(len(ids)):
        row_id, vals = ids.iloc[i], targets[i]
        if not row_id:
            problems.append((i + 1, "", f"empty {id_kind}"))
            keep[i] = False
        elif np.isnan(vals).all():
            keep[i] = False
            if not any(r == i + 1 for r, _, _ in problems):
                problems.append((i + 1, row_id, "no label (no class and no vote fraction)"))
        elif out_of_range := [VOTE_COLUMNS[j] for j in np.flatnonzero(~np.isnan(vals) & ((vals < 0) | (vals > 1)))]:
            problems.append((i + 1, row_id, f"fraction outside [0, 1] in {', '.join(out_of_range)}"))
            keep[i] = False
        elif not np.isnan(raw := vals[_RAW_IDX]).any() and abs(raw.sum() - 1) > LABEL_SUM_TOLERANCE:
            problems.append((i + 1, row_id, f"the six raw fractions sum to {raw.sum():.3f}, not 1"))
            keep[i] = False
    return keep
