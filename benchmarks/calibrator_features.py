"""Which features TOP_P's calibrator should read, chosen on the calibration half alone.

Usage::

    python -m benchmarks.calibrator_features [--model models/gz1-heldout] [--shared ../shared/data]
        [--repeats 20] [--folds 5]

The held-out GZ1 galaxies of the run are split in two exactly as in
``benchmarks/uncertainty_eval.py`` (SHA-256("calibration:ID") < 0.5). This script reads only
the *calibration* half: each candidate feature set is fitted and scored by repeated
stratified k-fold cross-validation inside it (out-of-fold TOP_P pooled over the half, then
ECE, accuracy on the 80 % most certain and AUROC; mean and spread over the repeats). The
*test* half is never loaded here, so a choice made from this table leaves it untouched for
``uncertainty_eval``'s single final figure.

Both ways a run is calibrated for are scored: MC dropout x16 alone (``plain``) and TTA x8 +
MC dropout x16 (``tta``), the samples of ``core.inference.uncertainty``. Prints one table per
way, best first by accuracy on the 80 % most certain.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.uncertainty_eval import calibration_half, held_out_set
from core.config import REPO_ROOT
from core.exit_codes import ExitCode
from core.inference.calibration import TOP_ANSWER_FEATURES, feature_matrix, fit_logistic
from core.inference.confidence_scores import accuracy_at_coverage, auroc, expected_calibration_error
from core.inference.predict import load_run
from core.inference.uncertainty import MC_SAMPLES, Spread, head_masks, sample_prepared, spread
from core.training.checkpoint import CheckpointError

BASE = ("logit_p_top", "margin", "logit_agreement", "log_sd_top")
CANDIDATES: dict[str, tuple[str, ...]] = {
    "largest fraction, Platt-scaled": ("logit_p_top",),
    "shipped four": BASE,
    "shipped four + top answer": (*BASE, *TOP_ANSWER_FEATURES),
    "shipped four + second answer": (*BASE, "logit_p_second"),
    "shipped four + top and second answer": (*BASE, *TOP_ANSWER_FEATURES, "logit_p_second"),
    "largest fraction + top answer": ("logit_p_top", *TOP_ANSWER_FEATURES),
    "largest fraction + sd + top answer": ("logit_p_top", "log_sd_top", *TOP_ANSWER_FEATURES),
    "largest fraction + agreement + top answer": ("logit_p_top", "logit_agreement", *TOP_ANSWER_FEATURES),
}


def cross_validate_features(x: np.ndarray, correct: np.ndarray, repeats: int, folds: int) -> np.ndarray:
    """(repeats, 3) ECE, accuracy at 80 % and AUROC of out-of-fold TOP_P from features ``x`` (N, F).

    Each fold is fitted by the calibrator's own model (``fit_logistic``), on the other folds only.
    """
    from sklearn.model_selection import StratifiedKFold

    correct = np.asarray(correct, dtype=bool)
    scores = []
    for r in range(repeats):
        conf = np.zeros(len(correct))
        for fit, held in StratifiedKFold(folds, shuffle=True, random_state=r).split(x, correct):
            coef, intercept, mean, scale = fit_logistic(x[fit], correct[fit])
            conf[held] = 1.0 / (1.0 + np.exp(-(((x[held] - mean) / scale) @ coef + intercept)))
        scores.append((expected_calibration_error(conf, correct), accuracy_at_coverage(conf, correct),
                       auroc(conf, correct)))
    return np.array(scores)


def cross_validate(s: Spread, n_samples: int, correct: np.ndarray, names, repeats: int, folds: int):
    """:func:`cross_validate_features` on the named calibration features of a spread."""
    return cross_validate_features(feature_matrix(s, n_samples, names), correct, repeats, folds)


def parse_study_args(doc: str, argv=None) -> argparse.Namespace:
    """The options every calibration-half study takes: --model, --shared, --repeats, --folds."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO_ROOT / "models" / "gz1-heldout"))
    ap.add_argument("--shared", default=str(REPO_ROOT.parent / "shared" / "data"))
    ap.add_argument("--repeats", type=int, default=20, help="cross-validation repeats")
    ap.add_argument("--folds", type=int, default=5, help="folds per repeat")
    return ap.parse_args(argv)


def load_study_run(path: str):
    """The run at ``path`` (no members); an unreadable run exits BAD_INPUT with the file named."""
    try:
        return load_run(path, members=False)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(ExitCode.BAD_INPUT) from None


def main() -> int:
    args = parse_study_args(__doc__)
    run = load_study_run(args.model)
    labels, arrays, human = held_out_set(run, Path(args.shared))
    cal = calibration_half(labels.ids)
    arrays, human = arrays[cal], human[cal]  # the test half stops here
    dropout = float(run.recorded.model.get("dropout", 0.0))
    masks = [head_masks(run.model.raw_head.in_features, dropout, MC_SAMPLES)]
    print(f"model {run.run_dir.name}: calibration half only, {len(human)} galaxies; "
          f"{args.repeats} x {args.folds}-fold CV; mean ± SD over the repeats")
    for way, tta in (("plain: MC dropout", False), ("tta: TTA x8 + MC dropout", True)):
        result = sample_prepared([run.model], arrays, tta=tta, masks=masks)
        s = spread(result)
        n_samples = result.samples.shape[0]
        correct = s.top == human
        rows = []
        for name, names in CANDIDATES.items():
            sc = cross_validate(s, n_samples, correct, names, args.repeats, args.folds)
            rows.append((name, sc.mean(axis=0), sc.std(axis=0)))
        rows.sort(key=lambda r: -r[1][1])
        print(f"\n{way} x{MC_SAMPLES} ({n_samples} samples per galaxy), {int((~correct).sum())} wrong top answers")
        print(f"{'features':<40}{'ECE':>14}{'acc@80%':>16}{'AUROC':>16}")
        for name, mean, sd in rows:
            print(f"{name:<40}" + "".join(f"{m:>9.3f} ±{d:.3f}" for m, d in zip(mean, sd)))
    print(f"\none galaxy at 80 % coverage is {100 / (0.8 * len(human)):.2f} points of accuracy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
