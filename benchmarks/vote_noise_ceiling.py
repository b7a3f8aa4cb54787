"""How well can any model agree with a label that is the top answer of one panel of GZ1 volunteers?

Usage: python benchmarks/vote_noise_ceiling.py [TABLE2_CSV] [--mix LABELS_CSV] [--draws 2000] [--rounds 20]
       [--seed 0]

A GZ1 galaxy's fractions come from NVOTE volunteers (median about 40). A label that is the top
answer of those votes is itself a draw: another panel of the same size would sometimes have
picked another answer. A perfect model knows each galaxy's underlying vote probabilities, not
this panel's draw, so even it misses that share of labels. This script estimates that ceiling
by a parametric bootstrap on real Table-2 rows:

* each row's six raw fractions (renormalised to sum to 1) stand in for the underlying
  probabilities p, and its NVOTE for the panel size n;
* ``--draws`` panels per row are drawn, votes ~ Multinomial(n, p), label = their top answer
  (ties broken at random);
* the perfect model answers argmax p; its recall per label class, and the accuracy and macro
  recall it would score on a set with the class mix of ``--mix`` (a labels.csv with
  CLASS_NAME, e.g. ../shared/data/gz1_images_423px/labels.csv), are printed;
* spin: on the drawn panels whose top answer is CW or ACW, the share where the model's
  P_CW > P_ACW matches (the GZ1 spin accuracy on class-derived labels);
* how sure (issue 20's figures): the same perfect model's confidence ranked over the drawn
  panels, resampled to the class mix: its accuracy on the 80 % most certain and its AUROC for
  right vs wrong, for two confidences: the *ideal* one, P(a panel's top answer = argmax p),
  estimated from ``--draws`` further independent panels (the best ranking there is), and
  max p, the largest fraction (what the baseline reads).

TABLE2_CSV defaults to the 695 real rows in data/sample (picked by a join query, not at
random). The plug-in p is itself a noisy panel, which overstates the ceiling; a bootstrap
bias correction (``--rounds``) is printed beside it. Estimates, not bounds. Prints a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.inference.confidence_scores import QUOTED_COVERAGE, accuracy_at_coverage, auroc
from core.schema import CLASS_NAMES, RAW_COLUMNS

REPO = Path(__file__).resolve().parent.parent
CW, ACW = RAW_COLUMNS.index("P_CW"), RAW_COLUMNS.index("P_ACW")
#: (row, panel) pairs resampled to the class mix for the how-sure figures.
MIX_SAMPLES = 200_000
#: The two confidences of the perfect model scored for how sure (see the module docstring).
CONFIDENCES = ("ideal", "max p")
#: The how-sure keys of ``ceiling``'s result.
HOW_SURE_NAMES = {"acc80": f"acc. on {QUOTED_COVERAGE:.0%} most certain", "auroc": "AUROC right vs wrong"}
HOW_SURE = tuple(f"{what} {c}" for what in HOW_SURE_NAMES for c in CONFIDENCES)


def panels(p: np.ndarray, n: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, draws) top answers of ``draws`` simulated panels per row (ties broken at random)."""
    out = np.empty((len(p), draws), dtype=np.int64)
    for i, (probs, votes) in enumerate(zip(p, n)):
        counts = rng.multinomial(int(votes), probs, size=draws).astype(float)
        counts += rng.random(counts.shape) * 0.5  # random tie-break; never reorders unequal counts
        out[i] = counts.argmax(axis=1)
    return out


def ceiling(table: pd.DataFrame, mix: dict[str, float], draws: int, seed: int) -> dict:
    """Per-class recall, accuracy at ``mix``, macro recall and spin accuracy of the perfect model."""
    p = table[list(RAW_COLUMNS)].to_numpy(float)
    p = p / p.sum(axis=1, keepdims=True)
    n = table["NVOTE"].to_numpy(int)
    labels = panels(p, n, draws, np.random.default_rng(seed))
    answer = p.argmax(axis=1)[:, None]
    recall = {}
    for k, name in enumerate(CLASS_NAMES):
        drawn = labels == k
        recall[name] = (float((drawn & (answer == k)).sum() / drawn.sum()) if drawn.any() else None,
                        float(drawn.sum() / draws))  # (recall, galaxies with that label per panel draw)
    spin_drawn = (labels == CW) | (labels == ACW)
    model_cw = (p[:, CW] > p[:, ACW])[:, None]
    spin = (float(((model_cw == (labels == CW)) & spin_drawn).sum() / spin_drawn.sum())
            if spin_drawn.any() else None)
    known = {c: r for c, (r, _) in recall.items() if r is not None}
    weight = sum(mix.get(c, 0.0) for c in known)
    accuracy = sum(mix.get(c, 0.0) * r for c, r in known.items()) / weight
    return {"recall": recall, "accuracy": accuracy, "macro_recall": float(np.mean(list(known.values()))),
            "spin": spin, "spin_panels": float(spin_drawn.sum() / draws),
            **how_sure(p, n, labels, mix, draws, np.random.default_rng(seed + 10_000))}


def how_sure(p: np.ndarray, n: np.ndarray, labels: np.ndarray, mix: dict[str, float], draws: int,
             rng: np.random.Generator) -> dict:
    """``acc80 <confidence>`` and ``auroc <confidence>`` of the perfect model over the (row, panel)
    pairs of ``labels``, resampled so that each label class carries its ``mix`` share.

    The ideal confidence is estimated from ``draws`` panels independent of ``labels``, so ranking
    and scoring never share a draw.
    """
    answer = p.argmax(axis=1)
    ideal = (panels(p, n, draws, rng) == answer[:, None]).mean(axis=1)
    confidence = {"ideal": ideal, "max p": p.max(axis=1)}
    flat = labels.ravel()
    weight = np.zeros(len(flat))
    for k, name in enumerate(CLASS_NAMES):
        drawn = flat == k
        if drawn.any():
            weight[drawn] = mix.get(name, 0.0) / drawn.sum()
    if weight.sum() <= 0:
        return dict.fromkeys(HOW_SURE)
    pick = rng.choice(len(flat), size=MIX_SAMPLES, p=weight / weight.sum())
    row = pick // labels.shape[1]
    correct = flat[pick] == answer[row]
    out = {}
    for c in CONFIDENCES:
        out[f"acc80 {c}"] = accuracy_at_coverage(confidence[c][row], correct, QUOTED_COVERAGE)
        out[f"auroc {c}"] = auroc(confidence[c][row], correct)
    return out


def corrected(table: pd.DataFrame, plug_in: dict, mix: dict[str, float], draws: int, seed: int,
              rounds: int) -> dict:
    """Bootstrap bias correction of ``plug_in``: 2 x plug-in - mean over ``rounds`` re-drawn tables.

    The plug-in treats each panel's fractions as the truth, which turns a galaxy that is truly
    split 50/50 but read 60/40 into a clear lead, so it overstates the ceiling. Re-drawing every
    row's fractions from its own panel (Multinomial(NVOTE, fractions) / NVOTE) and measuring the
    ceiling again shows by how much; that excess is subtracted once.
    """
    rng = np.random.default_rng(seed + 1)
    p = table[list(RAW_COLUMNS)].to_numpy(float)
    p = p / p.sum(axis=1, keepdims=True)
    n = table["NVOTE"].to_numpy(int)
    again = []
    for r in range(rounds):
        redrawn = np.stack([rng.multinomial(int(k), probs) / k for probs, k in zip(p, n)])
        again.append(ceiling(pd.DataFrame({"NVOTE": n, **dict(zip(RAW_COLUMNS, redrawn.T))}), mix, draws,
                             seed + 2 + r))

    def fix(value, key):
        values = [key(a) for a in again]
        return None if value is None or any(v is None for v in values) else 2 * value - float(np.mean(values))

    return {"recall": {c: (fix(rec, lambda a, c=c: a["recall"][c][0]), labelled)
                       for c, (rec, labelled) in plug_in["recall"].items()},
            **{k: fix(plug_in[k], lambda a, k=k: a[k]) for k in ("accuracy", "macro_recall", "spin", *HOW_SURE)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("table", nargs="?", default=str(REPO / "data" / "sample" / "gz1_table2_sample695.csv"),
                    help="GZ1 Table-2 CSV with NVOTE and the six raw fractions (default: %(default)s)")
    ap.add_argument("--mix", default=None, help="labels.csv whose CLASS_NAME counts give the class mix "
                    "(default: the table's own top answers)")
    ap.add_argument("--draws", type=int, default=2000, help="simulated panels per galaxy (default 2000)")
    ap.add_argument("--rounds", type=int, default=20, help="re-drawn tables for the bias correction (default 20)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for path in filter(None, (args.table, args.mix)):
        if not Path(path).is_file():
            print(f"error: no such file: {path}", file=sys.stderr)
            return 1
    table = pd.read_csv(args.table)
    missing = [c for c in ("NVOTE", *RAW_COLUMNS) if c not in table.columns]
    if missing:
        print(f"error: {args.table} lacks the column(s) {', '.join(missing)}", file=sys.stderr)
        return 1
    table = table.dropna(subset=["NVOTE", *RAW_COLUMNS])
    table = table[(table["NVOTE"] > 0) & (table[list(RAW_COLUMNS)].sum(axis=1) > 0)]
    if args.mix:
        counts = pd.read_csv(args.mix, usecols=["CLASS_NAME"])["CLASS_NAME"].value_counts()
        mix_name = f"{args.mix} ({int(counts.sum())} labels)"
    else:
        top = table[list(RAW_COLUMNS)].to_numpy(float).argmax(axis=1)
        counts = pd.Series([CLASS_NAMES[k] for k in top]).value_counts()
        mix_name = "the table's own top answers"
    mix = (counts / counts.sum()).to_dict()
    r = ceiling(table, mix, args.draws, args.seed)
    c = corrected(table, r, mix, args.draws, args.seed, args.rounds)
    print(f"{len(table)} galaxies from {args.table}; NVOTE median {table['NVOTE'].median():.0f}; "
          f"{args.draws} panels each; class mix of {mix_name}; bias correction from {args.rounds} re-drawn "
          f"tables\n")

    def f(value) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print(f"{'perfect-model figures':<39}{'plug-in':>9}{'corrected':>11}")
    print(f"{'label class':<22}{'mix':>7}{'labelled':>10}{'recall':>9}{'recall':>11}")
    for name, (rec, labelled) in r["recall"].items():
        print(f"{name:<22}{mix.get(name, 0.0):>7.3f}{labelled:>10.1f}{f(rec):>9}{f(c['recall'][name][0]):>11}")
    print(f"\n{'accuracy at that mix':<39}{f(r['accuracy']):>9}{f(c['accuracy']):>11}")
    print(f"{'macro recall (classes with labels)':<39}{f(r['macro_recall']):>9}{f(c['macro_recall']):>11}")
    print(f"{'spin accuracy (CW/ACW labels)':<39}{f(r['spin']):>9}{f(c['spin']):>11}")
    for key in HOW_SURE:
        what, conf = key.split(" ", 1)
        label = f"{HOW_SURE_NAMES[what]}, {conf}"
        print(f"{label:<39}{f(r[key]):>9}{f(c[key]):>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
