"""``python -m core train``: train a CNN on labelled images (CPU), with a progress bar.

Example (the demo model)::

    python -m core train --catalog labels.csv --images DIR --out var/runs/RUN

``--catalog``/``--images``/``--crop-fraction`` may be repeated to train on several
labelled sets at once; they pair up in order (a single ``--crop-fraction`` applies
to all). Every other flag comes from :class:`core.training.train_config.TrainConfig`.
Running the same command again on a killed or cancelled run folder resumes it
from its last finished epoch; a larger ``--epochs`` extends it.

Several processes (DistributedDataParallel, :mod:`core.training.distributed`)::

    python -m core train ... --nproc 2 [--max-restarts 1]      # launches torchrun on this machine
    torchrun --nproc-per-node 2 -m core train ... --out DIR    # or torchrun yourself

``--batch-size`` is then the global batch (a multiple of the number of processes);
only rank 0 writes and prints. ``--nproc`` starts :mod:`core.training.launch`
(torchrun with its rendezvous on 127.0.0.1 only) with the same arguments minus
``--nproc``/``--max-restarts``, and exits with the code the run's final state gives.
Under torchrun a cancelled run exits 0, so torchrun does not restart it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from core.config import get_settings
from core.exit_codes import ExitCode, epilog
from core.images.crop import CROP_FLAG, add_crop_option

#: How to resume and what a usage error leaves, as ``--help`` says it.
RESUME_HELP = """resume: run the same command again with the same --out on a cancelled, interrupted or
  failed run folder: it continues from its last finished epoch (a larger --epochs extends it, a
  finished run too). Each run's command is in its config.json.
A usage error (a --catalog that is not a file, an --images that is not a folder, a bad option)
  exits 2 before anything is created; a start that fails never replaces the current run."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from core.training.train_config import add_config_arguments

    p = subparsers.add_parser(
        "train", help="train a CNN on a catalogue and its images (CPU)",
        description="Train a CNN that emulates the GZ1 vote fractions. Labels may be vote fractions (any "
                    "catalogue form), partial fractions (e.g. only P_CW, P_ACW, NVOTE) or a CLASS_NAME column "
                    "(used as a one-hot, class-derived target). Images are <ID>.jpg in the image folder; "
                    "unreadable images are skipped and listed.",
        epilog=RESUME_HELP + "\n\n" + epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalog", action="append", required=True, metavar="CSV",
                   help="labels CSV (repeat for several sets, paired with --images in order)")
    p.add_argument("--images", action="append", required=True, metavar="DIR",
                   help="image folder with <ID>.jpg files (repeat, one per --catalog)")
    add_crop_option(p, "fixed centre crop, fraction of the shorter image side (one value, or one per --catalog);"
                       " default: the folder's imageset.json crop_fraction, else each image is framed by its "
                       "central galaxy (core.images.framing)", repeat=True)
    add_config_arguments(p)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: run-<timestamp> in your runs folder GZ_MODELS_DIR, by default "
                        "$GZ_HOME/runs); the shipped models/ folder is read-only and refused")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for background runs)")
    p.add_argument("--nproc", type=int, default=None, metavar="N",
                   help="train with N processes on this machine (DistributedDataParallel under torchrun, its "
                        "rendezvous on 127.0.0.1 only); --batch-size is then the global batch, a multiple of N")
    p.add_argument("--max-restarts", type=int, default=0, metavar="R",
                   help="with --nproc: let torchrun restart the group up to R times after a process dies; each "
                        "restart resumes from the last finished epoch (default: %(default)s)")
    return p


def sources_from_args(args: argparse.Namespace):
    """The labelled sets the command line names, with their crops (TrainingError if they do not pair up)."""
    from core.images.preprocess import folder_crop_fraction
    from core.training.train_config import Source, TrainingError

    if len(args.catalog) != len(args.images):
        raise TrainingError(f"{len(args.catalog)} --catalog but {len(args.images)} --images: give one folder "
                            f"per catalogue")
    # Without --crop-fraction, each folder's imageset.json decides, else framing by the galaxy (None).
    crops = args.crop_fraction or [folder_crop_fraction(i) for i in args.images]
    if len(crops) == 1:
        crops = crops * len(args.catalog)
    if len(crops) != len(args.catalog):
        raise TrainingError(f"give one {CROP_FLAG}, or one per --catalog ({len(args.catalog)}), not {len(crops)}")
    return [Source(str(Path(c).resolve()), str(Path(i).resolve()), None if cr is None else float(cr))
            for c, i, cr in zip(args.catalog, args.images, crops, strict=True)]


def missing_inputs(args: argparse.Namespace) -> str | None:
    """The first ``--catalog`` that is not a file, ``--images`` that is not a folder or ``--out`` that is a
    file, as an error message naming the path given; None when all exist. Checked before anything is created."""
    for catalog in args.catalog:
        if not Path(catalog).is_file():
            return f"--catalog {catalog}: no such file"
    for images in args.images:
        if not Path(images).is_dir():
            return f"--images {images}: no such folder"
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        return f"--out {args.out}: exists and is not a folder"
    return None


def config_from_args(args: argparse.Namespace):
    from core.training.train_config import config_from_args as build

    return build(args, sources_from_args(args))


def _reporters(args: argparse.Namespace, epochs: int):
    """(on_batch, on_epoch, close) printing a tqdm bar per epoch and one line per finished epoch."""
    from tqdm import tqdm

    bar = None

    def on_batch(epoch: int, b: int, n: int, loss: float) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None or b == 1:
            if bar is not None:
                bar.close()
            bar = tqdm(total=n, desc=f"epoch {epoch}/{epochs}", unit="batch", leave=True)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    def on_epoch(row: dict) -> None:
        parts = [f"epoch {int(row['epoch'])}", f"train loss {row['train_loss']:.4f}"]
        for key, label in (("val_loss", "val loss"), ("val_accuracy", "acc"),
                           ("val_baseline_accuracy", "majority baseline"), ("val_macro_recall", "macro rec"),
                           ("val_spin_accuracy", "spin acc")):
            if row.get(key) is not None:
                parts.append(f"{label} {row[key]:.3f}")
        if row.get("val_n") is not None:
            parts.append(f"n={row['val_n']}")
        parts.append(f"{row['images_per_s']:.0f} img/s")
        (tqdm.write if bar is not None else print)(" | ".join(parts))

    def close() -> None:
        if bar is not None:
            bar.close()

    return on_batch, on_epoch, close


def _usage_error(args: argparse.Namespace, world) -> str | None:
    """What is wrong with ``--nproc``/``--max-restarts``/``--out`` for this launch, or None."""
    if args.nproc is not None and world.distributed:
        return "--nproc launches torchrun itself; under torchrun leave it out"
    if args.nproc is not None and args.nproc < 1:
        return f"--nproc must be at least 1, got {args.nproc}"
    if args.max_restarts < 0:
        return f"--max-restarts must be 0 or more, got {args.max_restarts}"
    if args.max_restarts and args.nproc is None and not world.distributed:
        return "--max-restarts needs --nproc (torchrun restarts the group)"
    if world.distributed and not args.out:
        return "under torchrun give --out: every rank and every restart must use the same run folder"
    return None


def run(args: argparse.Namespace) -> int:
    from core.jobs import JobStatus, read_job
    from core.training.distributed import world_from_env
    from core.training.train import TrainingBusy, TrainingError, check_world, run_training, shipped_folder_problem

    settings = get_settings()
    world = world_from_env()
    out = Path(args.out) if args.out else settings.models_dir / time.strftime("run-%Y%m%d-%H%M%S")
    problem = _usage_error(args, world) or missing_inputs(args) or shipped_folder_problem(out)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        config = config_from_args(args)
        check_world(config, args.nproc or world.size)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    prev = read_job(out)
    if prev and prev.status == JobStatus.FINISHED and prev.total >= config.epochs:
        print(f"error: {out} already holds a finished run; choose another --out (or raise --epochs to extend it)",
              file=sys.stderr)
        return ExitCode.BAD_INPUT
    if args.nproc is not None:
        return _launch(args, config, out)
    if not world.main:
        args.no_progress = True
    command = "python -m core " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] \
        else "python -m core " + " ".join(shlex.quote(a) for a in _argv(config, args))
    on_batch, on_epoch, close = _reporters(args, config.epochs)
    try:
        state = run_training(config, out, command=command, on_batch=on_batch, on_epoch=on_epoch,
                             on_message=None if args.no_progress else print, world=world)
    except TrainingBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BUSY
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    finally:
        close()
    if world.main:
        print(f"{state['status']}: {state.get('message', '')} -> {out}")
        if state["status"] == "finished" and config.val_fraction > 0:
            _calibrate(out)
    cancelled = ExitCode.OK if world.distributed else ExitCode.CANCELLED  # torchrun restarts any non-zero exit
    return {"finished": ExitCode.OK, "cancelled": cancelled}.get(state["status"], ExitCode.FAILED)


def _calibrate(out: Path) -> None:
    """Fit the finished run's TOP_P on its validation galaxies (core.inference.calibrate); a note when it cannot."""
    from core.inference.calibrate import calibrate_run
    from core.inference.calibration import CalibrationError

    try:
        cal = calibrate_run(out)
    except (CalibrationError, ValueError, OSError) as exc:
        print(f"note: no TOP_P calibration for this run ({exc})", file=sys.stderr)
        return
    fitted = cal.calibrators["plain"].fitted
    print(f"calibrated TOP_P on {fitted['n']} validation galaxies (ECE {fitted['ece_on_fit']:.3f}) -> "
          f"{out}/calibration.json")


def worker_argv(argv: list[str], out: Path | None) -> list[str]:
    """``argv`` (``train ...``) without ``--nproc``/``--max-restarts``, with ``--out out`` when it had none."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--nproc", "--max-restarts"):
            skip = True
        elif not arg.startswith(("--nproc=", "--max-restarts=")):
            kept.append(arg)
    has_out = any(a == "--out" or a.startswith("--out=") for a in kept)
    return kept if has_out or out is None else [*kept, "--out", str(out)]


def _launch(args: argparse.Namespace, config, out: Path) -> int:
    """Run this command under torchrun with ``--nproc`` processes; the exit code of the run's final state."""
    from core.config import REPO_ROOT
    from core.jobs import JobStatus, read_job
    from core.training.train import training_busy

    if training_busy():
        print("error: a training run is already in progress on this machine; wait for it to finish or cancel "
              "it, then start again", file=sys.stderr)
        return ExitCode.BUSY
    argv = sys.argv[1:] if sys.argv[1:2] == ["train"] else _argv(config, args)
    cmd = [sys.executable, "-m", "core.training.launch", "--nproc-per-node", str(args.nproc),
           "--max-restarts", str(args.max_restarts), "-m", "core", *worker_argv(argv, out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    rc = subprocess.run(cmd, env=env).returncode
    state = read_job(out)
    status = state.status if state is not None else None
    if state is not None and rc != 0:
        print(f"{status}: {state.message} -> {out} (torchrun exit {rc})")
    if rc == 0 and status == JobStatus.FINISHED:
        return ExitCode.OK
    if rc == 0 and status == JobStatus.CANCELLED:
        return ExitCode.CANCELLED
    return ExitCode.FAILED


def _argv(config, args: argparse.Namespace) -> list[str]:
    """The command line of ``config`` (when not run from the shell), derived from TrainConfig."""
    from core.training.train_config import config_argv

    argv = config_argv(config, Path(args.out) if args.out else Path("."))
    return argv if args.out else argv[:argv.index("--out")] + argv[argv.index("--out") + 2:]
