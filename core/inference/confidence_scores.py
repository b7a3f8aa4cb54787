"""Scores of a confidence: is it calibrated, and does it rank right answers above wrong ones?

``confidence`` (N,) is a claimed probability that an answer is right; ``correct`` (N,)
bool says whether it was (here: the model's top answer equals the volunteers' top
answer, or the class for class-derived labels). Definitions:

* **ECE** (expected calibration error): galaxies in ``bins`` equal-width confidence bins
  over [0, 1] (the last bin closed); sum over bins of (share of galaxies in the bin) x
  |mean confidence - accuracy| in the bin.
* **accuracy at coverage c**: accuracy over the ceil(c x N) most confident galaxies.
* **AUROC**: the area under the ROC curve of ``confidence`` for telling right answers from
  wrong ones (scikit-learn's ``roc_auc_score``); 0.5 is a coin, 1 a perfect ranking.
"""

from __future__ import annotations

import math

import numpy as np

from core.schema import RAW_INDEX

#: Bins of the reliability diagram and of the ECE.
ECE_BINS = 10
#: The coverage the accuracy-on-the-most-certain figure is quoted at.
QUOTED_COVERAGE = 0.8


def _arrays(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=float).ravel()
    ok = np.asarray(correct, dtype=bool).ravel()
    if conf.shape != ok.shape:
        raise ValueError(f"confidence and correct must have the same length, got {conf.shape} and {ok.shape}")
    if np.isnan(conf).any() or (conf < 0).any() or (conf > 1).any():
        raise ValueError("confidence must be probabilities in [0, 1] (no NaN)")
    return conf, ok


def reliability_bins(confidence, correct, bins: int = ECE_BINS) -> list[dict]:
    """Per bin of equal width: ``lo``, ``hi``, ``n``, ``confidence`` (mean) and ``accuracy`` (None when empty)."""
    conf, ok = _arrays(confidence, correct)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        out.append({"lo": b / bins, "hi": (b + 1) / bins, "n": int(m.sum()),
                    "confidence": float(conf[m].mean()) if m.any() else None,
                    "accuracy": float(ok[m].mean()) if m.any() else None})
    return out


def expected_calibration_error(confidence, correct, bins: int = ECE_BINS) -> float:
    """ECE over ``bins`` equal-width bins (see the module docstring); NaN for no galaxies."""
    conf, ok = _arrays(confidence, correct)
    if not len(conf):
        return math.nan
    return float(sum(b["n"] * abs(b["confidence"] - b["accuracy"])
                     for b in reliability_bins(conf, ok, bins) if b["n"]) / len(conf))


def coverage_curve(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, accuracy): accuracy over the k most confident galaxies, k = 1..N, coverage = k / N.

    Ties in confidence are broken by position (a stable sort), so the curve is reproducible.
    """
    conf, ok = _arrays(confidence, correct)
    order = np.argsort(-conf, kind="stable")
    k = np.arange(1, len(conf) + 1)
    return k / max(1, len(conf)), np.cumsum(ok[order]) / k


def accuracy_at_coverage(confidence, correct, coverage: float = QUOTED_COVERAGE) -> float:
    """Accuracy over the ceil(coverage x N) most confident galaxies; NaN for no galaxies."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    conf, ok = _arrays(confidence, correct)
    if not len(conf):
        return math.nan
    k = max(1, math.ceil(coverage * len(conf) - 1e-9))
    return float(ok[np.argsort(-conf, kind="stable")[:k]].mean())


def auroc(confidence, correct) -> float | None:
    """AUROC of ``confidence`` for right vs wrong answers; None when all are right or all wrong."""
    from sklearn.metrics import roc_auc_score

    conf, ok = _arrays(confidence, correct)
    if ok.all() or not ok.any():
        return None
    return float(roc_auc_score(ok, conf))


def confidence_report(confidence, correct) -> dict:
    """JSON-ready: n, accuracy, ece, accuracy_at_80 (``QUOTED_COVERAGE``), auroc, bins (reliability)."""
    conf, ok = _arrays(confidence, correct)
    return {"n": int(len(conf)), "accuracy": float(ok.mean()) if len(ok) else None,
            "ece": expected_calibration_error(conf, ok), "accuracy_at_80": accuracy_at_coverage(conf, ok),
            "auroc": auroc(conf, ok), "bins": reliability_bins(conf, ok)}


def top_answer_outcomes(top_p, fractions, targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, confidence, correct) for galaxies with a TOP_P and all six human raw answers known.

    ``rows``: (N,) bool mask of those galaxies; ``confidence``: their TOP_P; ``correct``: the
    model's top raw answer (argmax of ``fractions``) equals the human one (argmax of ``targets``,
    the class for class-derived labels).
    """
    raw = list(RAW_INDEX)
    top_p = np.asarray(top_p, dtype=float)
    fractions, targets = np.asarray(fractions, dtype=float), np.asarray(targets, dtype=float)
    rows = np.isfinite(top_p) & ~np.isnan(targets[:, raw]).any(axis=1) & ~np.isnan(fractions[:, raw]).any(axis=1)
    correct = np.argmax(fractions[rows][:, raw], axis=1) == np.argmax(targets[rows][:, raw], axis=1)
    return rows, top_p[rows], correct
