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
* **baseline_accuracy**: the accuracy of always giving the most common human top
  answer of these rows (the majority-class baseline); chance is 1/6.
* **rmse**: per column, over rows where that column is a *vote fraction*
  (class-derived rows excluded: a one-hot class is not a vote share); ``None``
  where no such label exists. ``rmse_class_derived`` gives the same against the
  one-hot class targets, labelled as such.
"""

from __future__ import annotations

import math

import numpy as np

from core.schema import (
    ACW_INDEX,
    ACW_RAW_INDEX,
    CLASS_NAMES,
    CW_INDEX,
    CW_RAW_INDEX,
    RAW_COLUMNS,
    RAW_INDEX,
    SHORT_LABELS,
    VOTE_COLUMNS,
)
from core.wording import count

_RAW = list(RAW_INDEX)


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def spin_rows(target: np.ndarray) -> np.ndarray:
    """Boolean mask of rows that count for spin accuracy (see module docstring)."""
    target = np.asarray(target, dtype=float)
    raw = target[:, _RAW]
    full = ~np.isnan(raw).any(axis=1)
    spin_known = ~np.isnan(target[:, CW_INDEX]) & ~np.isnan(target[:, ACW_INDEX])
    differs = spin_known & (np.nan_to_num(target[:, CW_INDEX]) != np.nan_to_num(target[:, ACW_INDEX]))
    top = np.where(full, np.argmax(np.nan_to_num(raw, nan=-1.0), axis=1), -1)
    spiral_top = full & np.isin(top, [CW_RAW_INDEX, ACW_RAW_INDEX])
    only_spin = ~full & spin_known
    return differs & (spiral_top | only_spin)


#: Top-answer accuracy of guessing one of the six answers at random.
CHANCE_ACCURACY = 1.0 / len(CLASS_NAMES)

#: Below this many galaxies a score means little: pages and reports warn beside it.
MIN_RELIABLE_N = 50


def _top_answers(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confusion 6x6 over rows with all six raw answers known, rows = human, cols = model; that row mask)."""
    full = ~np.isnan(target[:, _RAW]).any(axis=1)
    human = np.argmax(np.nan_to_num(target[full][:, _RAW], nan=-1.0), axis=1)
    model = np.argmax(pred[full][:, _RAW], axis=1)
    confusion = np.zeros((len(_RAW), len(_RAW)), dtype=int)
    np.add.at(confusion, (human, model), 1)
    return confusion, full


def _spin_accuracy(pred: np.ndarray, target: np.ndarray, spin: np.ndarray) -> float | None:
    if not spin.any():
        return None
    model_cw = pred[spin, CW_INDEX] > pred[spin, ACW_INDEX]
    return float(np.mean(model_cw == (target[spin, CW_INDEX] > target[spin, ACW_INDEX])))


def _rmse(pred: np.ndarray, target: np.ndarray, rows: np.ndarray, learned: np.ndarray) -> dict[str, float | None]:
    """RMSE per column over ``rows`` with a label; None where there is none or the run never learned it."""
    out: dict[str, float | None] = {}
    for j, col in enumerate(VOTE_COLUMNS):
        m = rows & ~np.isnan(target[:, j])
        ok = m.any() and learned[j]
        out[col] = _finite(float(np.sqrt(np.mean((pred[m, j] - target[m, j]) ** 2)))) if ok else None
    return out


def score(pred: np.ndarray, target: np.ndarray, class_derived: np.ndarray | None = None,
          learned: np.ndarray | None = None) -> dict:
    """Metrics of ``pred`` (N, 9) against ``target`` (N, 9, NaN = missing); see the module docstring.

    ``learned``: (9,) bool, the columns the run learned (default all); the others get no
    RMSE and are listed in ``not_learned``. Returns a JSON-ready dict: n, n_top_answer,
    n_spin, n_class_derived, accuracy, baseline_accuracy and baseline_answer (always answering
    the most common human top answer of these rows), chance_accuracy (1/6), macro_recall, per_class_recall
    {CLASS_NAME: recall or None}, support {CLASS_NAME: count}, confusion (6x6 list, rows =
    human, cols = model), spin_accuracy, rmse {column: value or None}, rmse_class_derived,
    not_learned [columns].
    """
    pred = np.asarray(pred, dtype=float)
    target = np.asarray(target, dtype=float)
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"pred and target must both be (N, 9); got {pred.shape} and {target.shape}")
    n = len(pred)
    cd = np.zeros(n, dtype=bool) if class_derived is None else np.asarray(class_derived, dtype=bool)
    learned = np.ones(len(VOTE_COLUMNS), dtype=bool) if learned is None else np.asarray(learned, dtype=bool)
    confusion, full = _top_answers(pred, target)
    support = confusion.sum(axis=1)
    recall = {name: (float(confusion[i, i] / support[i]) if support[i] else None)
              for i, name in enumerate(CLASS_NAMES)}
    present = [r for r in recall.values() if r is not None]
    spin = spin_rows(target)
    n_top = int(full.sum())
    return {
        "n": int(n),
        "n_top_answer": n_top,
        "n_spin": int(spin.sum()),
        "n_class_derived": int(cd.sum()),
        "accuracy": float(np.trace(confusion) / n_top) if n_top else None,
        "baseline_accuracy": float(support.max() / n_top) if n_top else None,
        "baseline_answer": SHORT_LABELS[RAW_COLUMNS[int(support.argmax())]] if n_top else None,
        "chance_accuracy": CHANCE_ACCURACY,
        "macro_recall": float(np.mean(present)) if present else None,
        "per_class_recall": recall,
        "support": {name: int(support[i]) for i, name in enumerate(CLASS_NAMES)},
        "confusion": confusion.tolist(),
        "spin_accuracy": _spin_accuracy(pred, target, spin),
        "rmse": _rmse(pred, target, ~cd, learned),
        "rmse_class_derived": _rmse(pred, target, cd, learned) if cd.any() else None,
        "not_learned": [c for c, k in zip(VOTE_COLUMNS, learned, strict=True) if not k],
    }


def score_warnings(scores: dict) -> list[str]:
    """Plain-words cautions to show beside a :func:`score` result: too few galaxies, below baseline or chance."""
    out = []
    n, acc, base = scores.get("n_top_answer", 0), scores.get("accuracy"), scores.get("baseline_accuracy")
    if acc is not None and n < MIN_RELIABLE_N:
        out.append(f"Only {count(n, 'galaxy', 'galaxies')} with a top answer: a figure from fewer than "
                   f"{MIN_RELIABLE_N} means little.")
    if acc is not None and acc < CHANCE_ACCURACY:
        out.append(f"Accuracy {acc:.1%} is below chance ({CHANCE_ACCURACY:.1%}, one answer in six at random).")
    elif acc is not None and base is not None and acc < base:
        out.append(f"Accuracy {acc:.1%} is below the majority-class baseline: always answering "
                   f"\"{scores.get('baseline_answer')}\" scores {base:.1%} on these galaxies.")
    spin_n = scores.get("n_spin", 0)
    if scores.get("spin_accuracy") is not None and spin_n < MIN_RELIABLE_N:
        out.append(f"Spin accuracy rests on only {count(spin_n, 'spiral', 'spirals')} with a spin vote.")
    return out
