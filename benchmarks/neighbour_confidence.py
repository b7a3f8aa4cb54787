"""Do a galaxy's nearest *training* galaxies tell TOP_P when the model is wrong? Calibration half only.

Usage::

    python -m benchmarks.neighbour_confidence [--model models/gz1-heldout] [--shared ../shared/data]
        [--repeats 20] [--folds 5]

A trial for issue 20's accuracy on the 80 % most certain. Each held-out GZ1 galaxy of the
calibration half (SHA-256("calibration:ID") < 0.5, as in ``benchmarks/uncertainty_eval.py``;
the test half is never loaded) is embedded by the run (``core.explain.features``, mean over
the four 90-degree rotations) and matched to its k nearest GZ1 galaxies of the run's own
*training* part by cosine distance (``core.explain.neighbours``). Their labels are class-derived
(the GZ1 6-way class standing for the volunteers' top answer); nothing here reads a held-out label
except to score.

Three uses of the neighbours are scored against the shipped calibrator (largest fraction + top
answer), with TTA x8 + MC dropout x16 samples:

* as an extra calibrator feature: the share of the k neighbours whose class is the model's
  ``TOP_ANSWER`` (smoothed, logit), or the trust score of Jiang et al. 2018 (log of the distance
  to the nearest neighbour of another class over that to the nearest of the predicted class);
* blended into the fractions (``(1 - w) x model + w x neighbour class shares``), recalibrated;
* as the answer itself (the neighbours' majority class), with its share as the confidence.

Each is fitted and scored by the same repeated stratified k-fold cross-validation as
``benchmarks/calibrator_features.py`` (``cross_validate_features``: the calibrator's own model).
Prints accuracy, then ECE, accuracy on the 80 % most certain and AUROC (mean ± SD over repeats).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from benchmarks.calibrator_features import cross_validate_features, load_study_run, parse_study_args
from benchmarks.uncertainty_eval import calibration_half
from core.exit_codes import ExitCode
from core.explain.features import embed_prepared
from core.explain.neighbours import NeighbourIndex
from core.images.preprocess import cached_arrays
from core.inference.calibration import DEFAULT_FEATURES, feature_matrix
from core.inference.held_out import held_out_mask
from core.inference.predict import crop_for_images
from core.inference.uncertainty import MC_SAMPLES, Spread, head_masks, sample_prepared, spread
from core.labels.join import load_labelled_set
from core.schema import RAW_INDEX

N_ANSWERS = len(RAW_INDEX)


def class_shares(neighbour_labels: np.ndarray, k: int) -> np.ndarray:
    """(N, 6) share of each answer among the first ``k`` neighbours' labels (N, >= k ints)."""
    first = neighbour_labels[:, :k]
    return np.stack([(first == c).mean(axis=1) for c in range(N_ANSWERS)], axis=1)


def agreement_logit(neighbour_labels: np.ndarray, top: np.ndarray, k: int) -> np.ndarray:
    """Logit of the smoothed share, (agreeing + 0.5) / (k + 1), of the first ``k`` neighbours labelled ``top``."""
    agree = (neighbour_labels[:, :k] == np.asarray(top)[:, None]).sum(axis=1)
    p = (agree + 0.5) / (k + 1)
    return np.log(p / (1 - p))


def trust_score(neighbour_labels: np.ndarray, distances: np.ndarray, top: np.ndarray) -> np.ndarray:
    """log((d_other + 1e-4) / (d_same + 1e-4)): nearest distance to another class over that to ``top``'s class.

    Among the neighbours given (infinite when none of that kind is among them, clipped to 2, the
    largest cosine distance).
    """
    same = neighbour_labels == np.asarray(top)[:, None]
    d_same = np.minimum(np.where(same, distances, np.inf).min(axis=1), 2.0)
    d_other = np.minimum(np.where(~same, distances, np.inf).min(axis=1), 2.0)
    return np.log((d_other + 1e-4) / (d_same + 1e-4))


def spread_of(fractions: np.ndarray, like: Spread) -> Spread:
    """A Spread whose top answer, largest fraction and margin are read from ``fractions`` (N, 6)."""
    top = np.argmax(fractions, axis=1)
    ordered = np.sort(fractions, axis=1)
    return Spread(like.sd, top, fractions[np.arange(len(top)), top], ordered[:, -1] - ordered[:, -2],
                  like.agreement)


def main() -> int:
    args = parse_study_args(__doc__)
    run = load_study_run(args.model)
    gz1 = Path(args.shared) / "gz1_images_423px"
    join = load_labelled_set(gz1 / "labels.csv", gz1)
    raw = join.labels.targets[:, list(RAW_INDEX)]
    has_class = ~np.isnan(raw).any(axis=1)
    held = held_out_mask(run.config, join.labels.ids)
    if held is None:
        print(f"error: {run.run_dir}: holds nothing out; give a run trained with a validation split", file=sys.stderr)
        return ExitCode.BAD_INPUT
    train_rows = np.flatnonzero(~held & has_class)
    held_rows = np.flatnonzero(held & has_class)
    cal_rows = held_rows[calibration_half([join.labels.ids[i] for i in held_rows])]  # the test half stops here
    rows = np.concatenate([train_rows, cal_rows])
    arrays = cached_arrays([join.files[i] for i in rows], run.image_size, crop_for_images(run, gz1))
    human = np.argmax(raw[rows], axis=1)
    vectors = embed_prepared(run.model, arrays, views=4)
    n_train = len(train_rows)
    index = NeighbourIndex(vectors[:n_train])
    pos, dist = index.search(vectors[n_train:], 200)
    labels_nn, y = human[:n_train][pos], human[n_train:]

    dropout = float(run.recorded.model.get("dropout", 0.0))
    masks = [head_masks(run.model.raw_head.in_features, dropout, MC_SAMPLES)]
    result = sample_prepared([run.model], arrays[n_train:], tta=True, masks=masks)
    s = spread(result)
    n_samples = result.samples.shape[0]
    model_fractions = result.point[:, list(RAW_INDEX)]
    print(f"model {run.run_dir.name}: calibration half only, {len(y)} galaxies; {n_train} training GZ1 galaxies "
          f"as neighbours; TTA x8 + MC dropout x{MC_SAMPLES}; {args.repeats} x {args.folds}-fold CV, mean ± SD")
    print(f"\n{'way':<52}{'accuracy':>9}{'ECE':>14}{'acc@80%':>14}{'AUROC':>14}")

    def report(name: str, spread_used: Spread, extra: list[np.ndarray] = ()) -> None:
        correct = spread_used.top == y
        x = np.column_stack([feature_matrix(spread_used, n_samples, DEFAULT_FEATURES), *extra])
        sc = cross_validate_features(x, correct, args.repeats, args.folds)
        print(f"{name:<52}{correct.mean():>9.3f}"
              + "".join(f"{m:>8.3f} ±{d:.3f}" for m, d in zip(sc.mean(axis=0), sc.std(axis=0))), flush=True)

    report("shipped: largest fraction + top answer", s)
    for k in (10, 25, 50):
        report(f"  + share of {k} neighbours agreeing", s, [agreement_logit(labels_nn, s.top, k)])
    report("  + trust score (200 neighbours)", s, [trust_score(labels_nn, dist, s.top)])
    for k in (10, 50):
        for w in (0.25, 0.5):
            report(f"fractions blended with {k} neighbours' shares, w={w}",
                   spread_of((1 - w) * model_fractions + w * class_shares(labels_nn, k), s))
    for k in (25, 50, 100):
        report(f"majority class of {k} neighbours, its share", spread_of(class_shares(labels_nn, k), s))
    print(f"\none galaxy at 80 % coverage is {100 / (0.8 * len(y)):.2f} points of accuracy")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
