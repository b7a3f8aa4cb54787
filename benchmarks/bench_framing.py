"""Does the answer depend on the galaxy or on how the picture was cut? (issue 10, item 4)

Usage: python benchmarks/bench_framing.py [DATA] [--model models/gz1-heldout] [--tta] [--limit N]

DATA is the folder holding ``gz1_images_423px`` and ``sdss_dr12_cutouts_120px_0p2arcsec``
(default ``../shared/data`` next to the repository). For the run's held-out GZ1
images (the IDs its seed and val_fraction kept out of training, see
core.training.train_config / is_validation) each image is re-cut in memory to
its central 100 %, 60 % and 30 % and handed to the model exactly as a user's file
would be: no crop given, through ``LoadedModel.prepare`` (which frames by the
galaxy, core.images.framing, unless the run declares a centre crop). The held-out
spin cutouts are scored the same way with no crop given. Prints top-answer
accuracy, macro recall and spin accuracy per framing, and how often framing fell
back to the whole image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from core.images.preprocess import prepare_with_info
from core.inference.predict import load_run
from core.labels.join import load_labelled_set
from core.scoring import score
from core.training.train import is_validation

REPO = Path(__file__).resolve().parent.parent
FRAMINGS = (1.0, 0.6, 0.3)
TARGETS = "accuracy >= 0.90 at every framing, moving <= 0.02; macro recall >= 0.78; spin >= 0.98 / 0.97"


def central(img: Image.Image, fraction: float) -> Image.Image:
    """The central ``fraction`` of the shorter side of ``img``, as a new square image."""
    w, h = img.size
    side = min(w, h) * fraction
    left, top = (w - side) / 2, (h - side) / 2
    return img.crop((round(left), round(top), round(left + side), round(top + side)))


def held_out_set(run, catalog: Path, images: Path, limit: int | None):
    """(files, targets, class_derived) of the run's held-out rows of one labelled set."""
    join = load_labelled_set(catalog, images)
    keep = np.flatnonzero(is_validation(join.labels.ids.astype(str), int(run.config["seed"]),
                                        float(run.config["val_fraction"])))[:limit]
    labels = join.labels.subset(keep)
    return [join.files[i] for i in keep], labels.targets, labels.class_derived


def score_framing(run, files, targets, class_derived, fraction: float, tta: bool) -> tuple[dict, int, float]:
    """(metrics.score dict, number of framing fallbacks, ms per image incl. framing) at one framing."""
    prepared = np.empty((len(files), run.image_size, run.image_size, 3), np.uint8)
    fallbacks = 0
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        with Image.open(path) as raw:
            prepared[i], info = prepare_with_info(central(raw.convert("RGB"), fraction), run.image_size,
                                                  run.crop_fraction)
        fallbacks += bool(info is not None and info.fallback)
    pred = run.predict_prepared(prepared, tta=tta)
    ms = 1000 * (time.perf_counter() - t0) / max(1, len(files))
    return score(pred, targets, class_derived), fallbacks, ms


def _fmt(x) -> str:
    return "    n/a" if x is None else f"{x:7.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", default=None,
                    help="folder with gz1_images_423px and sdss_dr12_cutouts_120px_0p2arcsec "
                         "(default ../shared/data next to the repository)")
    ap.add_argument("--model", default=str(REPO / "models" / "gz1-heldout"), help="run folder (with a held-out split)")
    ap.add_argument("--tta", action="store_true", help="average over the 8 rotations/flips")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N held-out images of each set")
    args = ap.parse_args()
    data = Path(args.data) if args.data else REPO.parent / "shared" / "data"
    if args.data is None and not (data / "gz1_images_423px").is_dir():
        # `make bench` runs every bench_*.py; without the full image set there is nothing to score.
        print(f"skipped: the full GZ1 image set is not at {data}; pass its folder as DATA")
        return 0
    run = load_run(args.model)
    if not float(run.config.get("val_fraction", 0)) > 0:
        print(f"{args.model} holds nothing out (val_fraction 0); use e.g. models/gz1-heldout", file=sys.stderr)
        return 2
    gz1, spin = data / "gz1_images_423px", data / "sdss_dr12_cutouts_120px_0p2arcsec"
    if not gz1.is_dir():
        print(f"no gz1_images_423px under {data}; pass the data folder", file=sys.stderr)
        return 2
    framing = "declared centre crop " + str(run.crop_fraction) if run.crop_fraction is not None else "by the galaxy"
    print(f"model {args.model}: {run.recorded.arch}, {run.image_size} px, framing {framing}, "
          f"TTA {'on' if args.tta else 'off'}\n")
    print(f"{'input (held-out, no crop given)':<34}{'n':>6}{'accuracy':>10}{'macro rec':>10}{'spin acc':>10}"
          f"{'fallback':>9}{'ms/img':>8}")
    rows = [(f"GZ1 images, central {int(f * 100)} %", gz1 / "labels.csv", gz1, f) for f in FRAMINGS]
    if spin.is_dir():
        rows.append(("0.2\"/px spin cutouts", spin / "index.csv", spin, 1.0))
    accuracies, cache = [], {}
    for name, catalog, images, fraction in rows:
        if catalog not in cache:
            cache[catalog] = held_out_set(run, catalog, images, args.limit)
        files, targets, cd = cache[catalog]
        r, fallbacks, ms = score_framing(run, files, targets, cd, fraction, args.tta)
        if images == gz1:
            accuracies.append(r["accuracy"])
        acc = r["accuracy"] if r["n_top_answer"] else None
        rec = r["macro_recall"] if r["n_top_answer"] else None
        print(f"{name:<34}{len(files):>6}{_fmt(acc):>10}{_fmt(rec):>10}{_fmt(r['spin_accuracy']):>10}"
              f"{fallbacks:>9}{ms:>8.1f}")
    print(f"\naccuracy spread over framings: {max(accuracies) - min(accuracies):.3f}")
    print(f"targets: {TARGETS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
