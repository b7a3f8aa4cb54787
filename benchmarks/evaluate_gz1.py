"""Quality of a trained run on the seeded held-out fifth of the GZ1 images (and of the spin cutouts).

Usage: python benchmarks/evaluate_gz1.py [--model models/gz1-heldout] [--shared ../shared/data] [--tta]

The held-out IDs are the run's own validation IDs: those with
SHA-256("seed:ID") / 2^64 < val_fraction (core.training.train.is_validation), using
the run's seed and val_fraction from config.json, so nothing scored here was
trained on. GZ1 labels are class-derived (CLASS_NAME one-hot), so accuracy
is the model's top answer against that class. Images go through the pages' path:
framed by the galaxy (core.images.framing) unless the run declares a centre crop;
the table says how many fell back to the whole image. Targets are issue 10's.
For the same figures at other framings see benchmarks/bench_framing.py. Prints a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.config import REPO_ROOT
from core.inference.predict import evaluate_labelled_set, load_run
from core.labels.targets import read_labels
from core.schema import CLASS_NAMES
from core.training.train import is_validation

TARGETS = {"accuracy": 0.90, "macro_recall": 0.78, "spin_accuracy": 0.98}
MAJORITY_BASELINE = "ELLIPTICAL"


def held_out(run, catalog: Path) -> list[str]:
    ids = read_labels(catalog).ids
    mask = is_validation(ids, int(run.config["seed"]), float(run.config["val_fraction"]))
    return [str(i) for i, m in zip(ids, mask, strict=False) if m]


def framing_fallbacks(run, catalog: Path, images: Path, ids: list[str]) -> str:
    """How the held-out images were framed, and how many fell back to the whole image."""
    from core.images.preprocess import cached_fallbacks
    from core.inference.predict import crop_for_images
    from core.labels.join import load_labelled_set

    crop = crop_for_images(run, images)
    if crop is not None:
        return f"declared centre crop {crop}"
    join, wanted = load_labelled_set(catalog, images), set(ids)
    files = [f for f, i in zip(join.files, join.labels.ids, strict=False) if str(i) in wanted]
    flags = cached_fallbacks(files, run.image_size, None)
    return "by the galaxy" + ("" if flags is None else f" ({int(flags.sum())} of {len(files)} fell back to the "
                                                       "whole image)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "models" / "gz1-heldout"),
                    help="a run trained with a held-out fraction (models/demo uses every image)")
    ap.add_argument("--shared", default=str(REPO_ROOT.parent / "shared" / "data"),
                    help="folder holding gz1_images_423px etc. (default ../shared/data next to the repository)")
    ap.add_argument("--tta", action="store_true", help="average over the 8 rotations/flips")
    args = ap.parse_args()
    shared = Path(args.shared)
    run = load_run(args.model)
    if not float(run.config.get("val_fraction", 0)) > 0:
        print(f"{args.model} was trained on every image (val_fraction 0): nothing is held out. "
              "Use a run trained with a held-out fraction, e.g. models/gz1-heldout.", file=sys.stderr)
        return 2
    gz1 = shared / "gz1_images_423px"
    spin = shared / "sdss_dr12_cutouts_120px_0p2arcsec"
    if not gz1.exists():
        print(f"shared data not found at {shared}; pass --shared", file=sys.stderr)
        return 2
    t0 = time.time()
    gz1_ids = held_out(run, gz1 / "labels.csv")
    r = evaluate_labelled_set(run, gz1 / "labels.csv", gz1, tta=args.tta, ids=gz1_ids)
    s = None
    if spin.exists():
        spin_ids = held_out(run, spin / "index.csv")
        s = evaluate_labelled_set(run, spin / "index.csv", spin, tta=args.tta, ids=spin_ids)
    secs = time.time() - t0
    cfg = run.config
    print(f"model {args.model}: {run.recorded.arch} {run.n_params:,} params, {run.image_size} px, "
          f"seed {cfg['seed']}, held-out fraction {cfg['val_fraction']}, TTA {'on' if args.tta else 'off'}")
    print(f"training: {len(run.config.get('sources', []))} source(s), {cfg['data']['n_train']} train / "
          f"{cfg['data']['n_val']} held-out images")
    print(f"framing of GZ1 images: {framing_fallbacks(run, gz1 / 'labels.csv', gz1, gz1_ids)}")
    if s is not None:
        print(f"framing of spin cutouts: {framing_fallbacks(run, spin / 'index.csv', spin, spin_ids)}")
    print()
    base = r["support"][MAJORITY_BASELINE] / max(1, r["n_top_answer"])
    print(f"{'metric':<44}{'value':>10}{'target':>10}")
    print(f"{'GZ1 held-out images (class-derived labels)':<44}{r['n']:>10}")
    print(f"{'top-answer accuracy':<44}{100 * r['accuracy']:>9.1f}%{'>= 90%':>10}")
    print(f"{'majority-class baseline (all ELLIPTICAL)':<44}{100 * base:>9.1f}%")
    print(f"{'macro recall (6 answers)':<44}{r['macro_recall']:>10.3f}{'>= 0.78':>10}")
    sa = r["spin_accuracy"]
    print(f"{'spin accuracy, GZ1 CW/ACW classes':<44}{(100 * sa if sa is not None else float('nan')):>9.1f}%"
          f"{'>= 98%':>10}   (n = {r['n_spin']})")
    if s is not None:
        print(f"{'spin accuracy, held-out spin cutouts':<44}{100 * s['spin_accuracy']:>9.1f}%"
              f"{'>= 97%':>10}   (n = {s['n_spin']}, vote fractions)")
        print(f"{'RMSE P_CW / P_ACW on spin cutouts (votes)':<44}{s['rmse']['P_CW']:>10.3f} / {s['rmse']['P_ACW']:.3f}")
    print(f"\n{'answer':<24}{'support':>8}{'recall':>9}")
    for name in CLASS_NAMES:
        rec = r["per_class_recall"][name]
        print(f"{name:<24}{r['support'][name]:>8}{(100 * rec if rec is not None else float('nan')):>8.1f}%")
    print("\nconfusion (rows = human class, columns = model top answer):")
    print(" " * 24 + "".join(f"{n[:6]:>8}" for n in CLASS_NAMES))
    for name, row in zip(CLASS_NAMES, r["confusion"], strict=False):
        print(f"{name:<24}" + "".join(f"{v:>8}" for v in row))
    print(f"\nscored in {secs:.1f} s")
    ok = r["accuracy"] >= TARGETS["accuracy"] and r["macro_recall"] >= TARGETS["macro_recall"] and (
        sa is not None and sa >= TARGETS["spin_accuracy"])
    print("targets met" if ok else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
