"""``python -m core evaluate``: score a trained run on any labelled image set.

Labels may be vote fractions, partial fractions or a class column (class-derived
rows are counted and named as such). Prints a table, or with ``--json`` one JSON
object with at least ``n``, ``accuracy``, ``macro_recall``, ``spin_accuracy``
(null when the set has no spirals with a spin vote), ``rmse`` (per column,
over vote-fraction labels present) and ``top_p`` (TOP_P's ECE, accuracy on the 80 % most
certain and AUROC, and ``mix_shift`` when the set's answer mix is far from the one TOP_P was
fitted on; null without a calibration). Uses the same inference path as the
Predict page (:mod:`core.inference.predict`).
"""

from __future__ import annotations

import argparse
import json
import sys

from core.exit_codes import ExitCode, epilog
from core.images.crop import add_crop_option
from core.inference.learned import NOT_LEARNED
from core.schema import CLASS_NAMES, VOTE_COLUMNS


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in the option help, and the exit-code table kept as written."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate", help="score a trained model on a labelled set",
        description="Score a trained run (a run folder, or a run's name) on a labelled image set: top-answer accuracy, per-answer "
                    "recall, clockwise-vs-anticlockwise accuracy on spirals, RMSE per vote column and, for a "
                    "calibrated run, how sure TOP_P was (ECE, accuracy on the 80 % most certain, AUROC).",
        epilog=epilog(), formatter_class=_Formatter)
    p.add_argument("--model", required=True, metavar="RUN", help="run folder with config.json and model.pt, or the name of one of your runs or a shipped one")
    p.add_argument("--catalog", required=True, metavar="CSV", help="labels CSV (any supported form)")
    p.add_argument("--images", required=True, metavar="DIR", help="image folder with <ID>.jpg files")
    add_crop_option(p, "centre crop (fraction of the side); default: the crop the run used for this folder, "
                        "else the run's default")
    p.add_argument("--tta", action="store_true", help="average over the 8 rotations/flips")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return p


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{100 * v:.1f}%" if pct else f"{v:.4f}"


def how_sure_lines(t: dict | None) -> list[str]:
    """The table's TOP_P lines: how sure the run was, and whether its calibration fits these galaxies' mix."""
    from core.inference.calibration import largest_answers
    from core.inference.confidence_scores import QUOTED_COVERAGE

    if t is None:
        return ["TOP_P        n/a (no calibration for this way of predicting: python -m core calibrate --model RUN)"]
    lines = [f"TOP_P        ECE {_fmt(t['ece'])}, accuracy on the {QUOTED_COVERAGE:.0%} most certain "
             f"{_fmt(t['accuracy_at_80'], True)}, AUROC right vs wrong {_fmt(t['auroc'])} (n = {t['n']})",
             f"             calibrated on {t['calibrated_on']}"]
    shift = t.get("mix_shift")
    if shift:
        mix = ", ".join(f"{code} {shift['fitted'].get(code, 0):.0%} -> {shift['scored'].get(code, 0):.0%}"
                        for code in largest_answers(shift["fitted"]))
        lines += [f"             note: these galaxies' answer mix lies {shift['distance']:.2f} from the one it was "
                  f"fitted on ({mix});", "             a calibration holds for the mix it was fitted on"]
    return lines


def format_table(r: dict) -> str:
    kinds = ", ".join(f"{k}: {v}" for k, v in r["label_kinds"].items())
    lines = [
        f"model      {r['model']}",
        f"images     {r['n']} scored ({kinds})",
        f"crop       {r['crop_fraction']}   TTA: {'yes' if r['tta'] else 'no'}",
        "",
        f"top-answer accuracy   {_fmt(r['accuracy'], True)}  (n = {r['n_top_answer']}; always answering the "
        f"most common answer: {_fmt(r['baseline_accuracy'], True)}, chance: {_fmt(r['chance_accuracy'], True)})",
        f"macro recall          {_fmt(r['macro_recall'])}",
        f"spin accuracy CW/ACW  {_fmt(r['spin_accuracy'], True)}  (n = {r['n_spin']})",
        "",
        f"{'answer':<22}{'support':>8}{'recall':>9}",
    ]
    for name in CLASS_NAMES:
        lines.append(f"{name:<22}{r['support'][name]:>8}{_fmt(r['per_class_recall'][name], True):>9}")
    lines += ["", f"{'column':<16}{'RMSE (votes)':>13}{'RMSE (class-derived)':>22}"]
    cd = r.get("rmse_class_derived") or {}
    for col in VOTE_COLUMNS:
        if col in r["not_learned"]:
            lines.append(f"{col:<16}{NOT_LEARNED:>13}   (no training label: the model's value is not reported)")
        else:
            lines.append(f"{col:<16}{_fmt(r['rmse'][col]):>13}{_fmt(cd.get(col)):>22}")
    lines += ["", *how_sure_lines(r.get("top_p"))]
    if r["n_class_derived"]:
        column = (r.get("join") or {}).get("class_column") or "a class column"
        lines.append(f"\n{r['n_class_derived']} labels are class-derived (one-hot from {column}), not vote "
                     f"fractions; their RMSE is shown separately.")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from core.inference.predict import evaluate_labelled_set, load_run
    from core.inference.runs import resolve_run
    from core.labels.targets import LabelError
    from core.training.checkpoint import CheckpointError

    try:
        loaded = load_run(resolve_run(args.model))
        result = evaluate_labelled_set(loaded, args.catalog, args.images, crop_fraction=args.crop_fraction, tta=args.tta)
    except (CheckpointError, LabelError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    return ExitCode.OK
