"""``python -m core calibrate``: fit a run's TOP_P on its own validation galaxies.

    python -m core calibrate --model models/RUN
    python -m core calibrate --model models/demo --from models/gz1-heldout

writes ``RUN/calibration.json`` (core.inference.calibration): one calibrator for plain
prediction and one for ``--tta``. ``gz train`` calibrates every run with a validation split
when it finishes; ``--from`` copies the calibrators of a twin for a run that held nothing out.
"""

from __future__ import annotations

import argparse
import sys

from core.exit_codes import ExitCode, epilog


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "calibrate", help="fit TOP_P (calibrated confidence) on a run's validation galaxies",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""), epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="RUN", help="run folder with config.json and model.pt")
    p.add_argument("--from", dest="twin", metavar="RUN",
                   help="copy the calibration of this run (same recipe, with a held-out split) instead of fitting")
    return p


def run(args) -> int:
    from core.config import get_settings
    from core.inference.calibrate import calibrate_run, copy_calibration
    from core.inference.calibration import CalibrationError, largest_answers
    from core.inference.ensemble import EnsembleError
    from core.labels.targets import LabelError
    from core.training.checkpoint import CheckpointError

    if get_settings().is_shipped(args.model):
        print(f"error: {args.model} is a shipped model, read-only here; copy it into your runs folder "
              f"({get_settings().models_dir}) and calibrate the copy", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        if args.twin:
            cal = copy_calibration(args.model, args.twin)
        else:
            cal = calibrate_run(args.model, progress=lambda m: print(m, file=sys.stderr))
    except (CalibrationError, EnsembleError, CheckpointError, LabelError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    for key, c in cal.calibrators.items():
        f = c.fitted
        print(f"{key}: fitted on {f.get('n')} validation galaxies (top answer right for {f.get('accuracy', 0):.1%}), "
              f"ECE on them {f.get('ece_on_fit', float('nan')):.3f}; features {', '.join(c.features)}")
    mix = cal.answer_mix()
    if mix:
        print("volunteers' top answers on them: "
              + ", ".join(f"{code} {mix[code]:.0%}" for code in largest_answers(mix, len(mix)))
              + " (TOP_P holds for this mix; gz evaluate and Compare say when a set's differs)")
    print(f"wrote {args.model}/calibration.json ({cal.source.get('uncertainty', '')})", file=sys.stderr)
    return ExitCode.OK
