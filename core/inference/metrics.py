"""Scores of predicted vote fractions against human labels (vote fractions or class-derived).

All arrays are (N, 9) in ``VOTE_COLUMNS`` order; a target is NaN where that
label is missing. Definitions:

* **accuracy**: over rows whose six raw answers are all known, the share where
  the model's top raw answer (argmax of P_EL..P_MG) equals the human top answer
  (argmax of the vote fractions, or the class for class-derived rows).
* **per_class_recall** / **macro_recall**: recall of each of the six answers
  (CLASS_NAMES) as human top answer; macro = mean over answers that occur.
* **spin_accuracy**: clockwise vs anticlockwise on spirals with a spin vote:
  rows whose human top answer is CW or ACW, plus rows where only P_CW/P_ACW
  are known (the spin-labelled sets hold spirals only) and P_CW != P_ACW. The
  model is right when its P_CW > P_ACW matches the human P_CW > P_ACW.
  ``None`` when there are no such rows.
* **rmse**: per column, over rows where that column is a *vote fraction*
  (class-derived rows excluded: a one-hot class is not a vote share); ``None``
  where no such label exists. ``rmse_class_derived`` gives the same against the
  one-hot class targets, labelled as such.
"""

from __future__ import annotations

import math

import numpy as np

from core.schema import CLASS_NAMES, RAW_COLUMNS, VOTE_COLUMNS

_CW = VOTE_COLUMNS.index("P_CW")
_ACW = VOTE_COLUMNS.index("P_ACW")
_N_RAW = len(RAW_COLUMNS)


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def spin_rows(target: np.ndarray) -> np.ndarray:
    """Boolean mask of rows that count for spin accuracy (see module docstring)."""
    target = np.asarray(target, dtype=float)
    raw = target[:, :_N_RAW]
    full = ~np.isnan(raw).any(axis=1)
    spin_known = ~np.isnan(target[:, _CW]) & ~np.isnan(target[:, _ACW])
    differs = spin_known & (np.nan_to_num(target[:, _CW]) != np.nan_to_num(target[:, _ACW]))
    top = np.where(full, np.argmax(np.nan_to_num(raw, nan=-1.0), axis=1), -1)
    spiral_top = full & np.isin(top, [_CW, _ACW])
    only_spin = ~full & spin_known
    return differs & (spiral_top | only_spin)


def score(pred: np.ndarray, target: np.ndarray, class_derived: np.ndarray | None = None) -> dict:
    """Metrics of ``pred`` (N, 9) against ``target`` (N, 9, NaN = missing); see the module docstring.

    Returns a JSON-ready dict: n, n_top_answer, n_spin, n_class_derived, accuracy,
    macro_recall, per_class_recall {CLASS_NAME: recall or None}, support
    {CLASS_NAME: count}, confusion (6x6 list, rows = human, cols = model),
    spin_accuracy, rmse {column: value or None}, rmse_class_derived.
    """
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"pred and target must both be (N, 9); got {pred.shape} and {target.shape}")
    n = len(pred)
    cd = np.zeros(n, dtype=bool) if class_derived is None else np.asarray(class_derived, dtype=bool)

    full = ~np.isnan(target[:, :_N_RAW]).any(axis=1)
    human = np.argmax(np.nan_to_num(target[full, :_N_RAW], nan=-1.0), axis=1)
    model = np.argmax(pred[full, :_N_RAW], axis=1)
    confusion = np.zeros((_N_RAW, _N_RAW), dtype=int)
    np.add.at(confusion, (human, model), 1)
    support = confusion.sum(axis=1)
    recall = {name: (float(confusion[i, i] / support[i]) if support[i] else None)
              for i, name in enumerate(CLASS_NAMES)}
    present = [r for r in recall.values() if r is not None]

    spin = spin_rows(target)
    spin_acc = None
    if spin.any():
        spin_acc = float(np.mean((pred[spin, _CW] > pred[spin, _ACW]) == (target[spin, _CW] > target[spin, _ACW])))

    def _rmse(rows: np.ndarray) -> dict[str, float | None]:
        out = {}
        for j, col in enumerate(VOTE_COLUMNS):
            m = rows & ~np.isnan(target[:, j])
            out[col] = _finite(float(np.sqrt(np.mean((pred[m, j] - target[m, j]) ** 2)))) if m.any() else None
        return out

    return {
        "n": int(n),
        "n_top_answer": int(full.sum()),
        "n_spin": int(spin.sum()),
        "n_class_derived": int(cd.sum()),
        "accuracy": float(np.mean(human == model)) if full.any() else None,
        "macro_recall": float(np.mean(present)) if present else None,
        "per_class_recall": recall,
        "support": {name: int(support[i]) for i, name in enumerate(CLASS_NAMES)},
        "confusion": confusion.tolist(),
        "spin_accuracy": spin_acc,
        "rmse": _rmse(~cd),
        "rmse_class_derived": _rmse(cd) if cd.any() else None,
    }
