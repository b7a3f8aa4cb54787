"""Which uncertainty to ship: ensemble vs MC dropout vs TTA, against the obvious baseline.

Usage::

    python -m benchmarks.uncertainty_eval [--model models/gz1-heldout]
        [--member models/gz1-heldout-seed1 --member models/gz1-heldout-seed2] [--shared ../shared/data]

Data: the run's own validation (held-out) GZ1 images, labels class-derived (the GZ1 6-way
class stands for the volunteers' top answer). The held-out galaxies are split in two by a
seeded hash, SHA-256("calibration:ID") < 0.5: calibrators are fitted on the first half
(the *calibration* half) and every figure below is measured on the other (the *test*
half), which nothing is fitted or chosen on (the calibrator's features are chosen inside the
calibration half by ``benchmarks/calibrator_features.py``). Members must share the run's split
(``--split-seed``), so none of them trained on a held-out galaxy.

Per way of predicting: accuracy and macro recall of the top answer, then for its confidence
(TOP_P after calibration; the baseline's is the largest raw fraction, as is): ECE over 10
bins, accuracy on the 80 % most certain, AUROC for right vs wrong, and model time per image
(1 thread, the images already framed). Prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

from core.config import REPO_ROOT
from core.images.preprocess import cached_arrays
from core.inference.calibration import DEFAULT_FEATURES, fit_calibrator
from core.inference.confidence_scores import accuracy_at_coverage, auroc, expected_calibration_error
from core.inference.held_out import held_out_mask
from core.inference.predict import crop_for_images, load_run
from core.inference.uncertainty import MC_SAMPLES, head_masks, sample_prepared, spread
from core.labels.join import load_labelled_set
from core.schema import RAW_INDEX
from core.scoring import score

TARGETS = {"ece": 0.05, "accuracy_at_80": 0.96, "auroc": 0.91}


def calibration_half(ids) -> np.ndarray:
    """True for the calibration half of the held-out galaxies (SHA-256("calibration:ID") < 0.5)."""
    return np.array([int.from_bytes(hashlib.sha256(f"calibration:{i}".encode()).digest()[:8], "big") < 2 ** 63
                     for i in ids], dtype=bool)


def held_out_set(run, shared: Path):
    gz1 = shared / "gz1_images_423px"
    join = load_labelled_set(gz1 / "labels.csv", gz1)
    labels, files = join.labels, join.files
    mask = held_out_mask(run.config, labels.ids)
    keep = np.flatnonzero(mask & ~np.isnan(labels.targets[:, list(RAW_INDEX)]).any(axis=1))
    labels = labels.subset(keep)
    files = [files[i] for i in keep]
    arrays = cached_arrays(files, run.image_size, crop_for_images(run, gz1))
    human = np.argmax(labels.targets[:, list(RAW_INDEX)], axis=1)
    return labels, arrays, human


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO_ROOT / "models" / "gz1-heldout"))
    ap.add_argument("--member", action="append", default=[], help="another run of the same split (repeat)")
    ap.add_argument("--shared", default=str(REPO_ROOT.parent / "shared" / "data"))
    ap.add_argument("--mc", type=int, default=MC_SAMPLES, help="head-dropout masks for MC dropout")
    args = ap.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.model, members=False)
    members = [load_run(m, members=False) for m in args.member]
    for m in members:
        if held_out_mask(m.config, ["x"]) is None or m.config.get("split_seed", m.config.get("seed")) != \
                run.config.get("split_seed", run.config.get("seed")):
            print(f"{m.run_dir}: not trained on the same split as {run.run_dir}", file=sys.stderr)
            return 2
    labels, arrays, human = held_out_set(run, Path(args.shared))
    cal = calibration_half(labels.ids)
    test = ~cal
    print(f"model {run.run_dir.name} (+{len(members)} members), {len(human)} held-out GZ1 galaxies with a class: "
          f"{int(cal.sum())} calibration, {int(test.sum())} test")
    dropout = float(run.recorded.model.get("dropout", 0.0))
    ways = [("single run (baseline: largest fraction as is)", [run], False, 0, None),
            ("single run, Platt-scaled largest fraction", [run], False, 0, ("logit_p_top",)),
            (f"single run + MC dropout x{args.mc}", [run], False, args.mc, "all"),
            ("single run + TTA x8", [run], True, 0, "all"),
            (f"single run + TTA x8 + MC dropout x{args.mc}", [run], True, args.mc, "all")]
    if members:
        k = 1 + len(members)
        ways += [(f"ensemble of {k}", [run, *members], False, 0, "all"),
                 (f"ensemble of {k} + MC dropout x{args.mc}", [run, *members], False, args.mc, "all"),
                 (f"ensemble of {k} + TTA x8", [run, *members], True, 0, "all")]
    rows = []
    for name, runs, tta, mc, features in ways:
        nets = [r.model for r in runs]
        masks = [head_masks(n.raw_head.in_features, dropout, mc) for n in nets] if mc else []
        t0 = time.perf_counter()
        result = sample_prepared(nets, arrays, tta=tta, masks=masks)
        ms = 1000 * (time.perf_counter() - t0) / len(arrays)
        s = spread(result)
        correct = s.top == human
        n_samples = result.samples.shape[0]
        if features is None:
            conf = s.p_top
        else:
            names = DEFAULT_FEATURES if features == "all" else features
            calibrator = fit_calibrator(s.take(cal), n_samples, correct[cal], names)
            conf = calibrator.top_p(s)
        sc = score(result.point[test], labels.targets[test], labels.class_derived[test])
        rows.append((name, sc["accuracy"], sc["macro_recall"], expected_calibration_error(conf[test], correct[test]),
                     accuracy_at_coverage(conf[test], correct[test]), auroc(conf[test], correct[test]), ms))
    print(f"\n{'way of predicting':<44}{'acc':>7}{'recall':>8}{'ECE':>7}{'acc@80%':>9}{'AUROC':>7}{'ms/img':>8}")
    for name, acc, rec, ece, a80, roc, ms in rows:
        print(f"{name:<44}{acc:>7.3f}{rec:>8.3f}{ece:>7.3f}{a80:>9.3f}{roc:>7.3f}{ms:>8.2f}")
    print(f"{'targets':<44}{'':>7}{'':>8}{'<=0.05':>7}{'>=0.96':>9}{'>=0.91':>7}")
    print(f"\ntest half: {int(test.sum())} galaxies; one galaxy is {100 / max(1, int(test.sum())):.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
