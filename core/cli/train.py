"""``python -m core train``: train a CNN on labelled images (CPU), with a progress bar.

Example (the demo model)::

    python -m core train --catalog labels.csv --images DIR --out models/RUN

``--catalog``/``--images``/``--crop`` may be repeated to train on several
labelled sets at once; they pair up in order (a single ``--crop`` applies to
all). Running the same command again on a killed or cancelled run folder
resumes it from its last finished epoch.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from core.config import get_settings
from core.training.augment import AugmentSettings
from core.training.model import ARCHITECTURES

DEFAULTS = {"size": 64, "epochs": 30, "batch_size": 64, "lr": 3e-3, "crop": 1.0}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a CNN on a catalogue and its images (CPU)",
        description="Train a CNN that emulates the GZ1 vote fractions. Labels may be vote fractions (any "
                    "catalogue form), partial fractions (e.g. only P_CW, P_ACW, NVOTE) or a CLASS_NAME column "
                    "(used as a one-hot, class-derived target). Images are <ID>.jpg in the image folder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--catalog", action="append", required=True, metavar="CSV",
                   help="labels CSV (repeat for several sets, paired with --images in order)")
    p.add_argument("--images", action="append", required=True, metavar="DIR",
                   help="image folder with <ID>.jpg files (repeat, one per --catalog)")
    p.add_argument("--crop", action="append", type=float, metavar="F",
                   help="centre crop, fraction of the shorter image side (one value, or one per --catalog); "
                        "default: the folder's imageset.json crop_fraction, else 1.0")
    p.add_argument("--model", choices=ARCHITECTURES, default="small", help="architecture")
    p.add_argument("--width", type=int, default=32, help="channel width of the small CNN")
    p.add_argument("--size", type=int, default=DEFAULTS["size"], help="model input side in pixels")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="peak learning rate (one-cycle schedule)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--patience", type=int, default=0, help="early stopping patience in epochs (0 = off)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of IDs held out for validation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class-balance", type=float, default=0.5,
                   help="rare-answer weighting: 0 none, 1 inverse frequency")
    p.add_argument("--spin-weight", type=float, default=1.0, help="weight of the CW-vs-ACW share loss")
    p.add_argument("--no-rotate", action="store_true", help="disable rotation augmentation")
    p.add_argument("--no-flip", action="store_true", help="disable flip augmentation (flips swap P_CW/P_ACW)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: GZ_TORCH_THREADS)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop after the epoch that passes this time")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="run folder (default: <models_dir>/run-<timestamp>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for background runs)")
    return p


def config_from_args(args: argparse.Namespace):
    from core.training.train import Source, TrainConfig, TrainingError

    if len(args.catalog) != len(args.images):
        raise TrainingError(f"{len(args.catalog)} --catalog but {len(args.images)} --images: give one folder "
                            f"per catalogue")
    from core.images.preprocess import folder_crop_fraction

    # Without --crop, each folder's imageset.json decides, else the default.
    crops = args.crop or [folder_crop_fraction(i) or DEFAULTS["crop"] for i in args.images]
    if len(crops) == 1:
        crops = crops * len(args.catalog)
    if len(crops) != len(args.catalog):
        raise TrainingError(f"give one --crop, or one per --catalog ({len(args.catalog)}), not {len(crops)}")
    for c in crops:
        if not 0 < c <= 1:
            raise TrainingError(f"--crop must be in (0, 1], got {c}")
    if not 0 <= args.val_fraction < 1:
        raise TrainingError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.epochs < 1 or args.batch_size < 1 or args.size < 16:
        raise TrainingError("--epochs and --batch-size must be >= 1 and --size >= 16")
    sources = [Source(str(Path(c).resolve()), str(Path(i).resolve()), float(cr))
               for c, i, cr in zip(args.catalog, args.images, crops, strict=False)]
    return TrainConfig(
        sources=sources, arch=args.model, width=args.width, image_size=args.size, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, patience=args.patience,
        val_fraction=args.val_fraction, seed=args.seed, class_balance=args.class_balance,
        spin_weight=args.spin_weight,
        augment=AugmentSettings(rotate=not args.no_rotate, flip=not args.no_flip),
        threads=args.threads, max_minutes=args.max_minutes)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.jobs import read_state
    from core.training.train import TrainingBusy, TrainingError, run_training

    settings = get_settings()
    out = Path(args.out) if args.out else settings.models_dir / time.strftime("run-%Y%m%d-%H%M%S")
    prev = read_state(out)
    if prev and prev.get("status") == "finished":
        print(f"error: {out} already holds a finished run; choose another --out", file=sys.stderr)
        return 2
    try:
        config = config_from_args(args)
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = "python -m core " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["train"] \
        else "python -m core train " + " ".join(shlex.quote(a) for a in _argv_from(args))
    bar = None

    def on_batch(epoch: int, b: int, n: int, loss: float) -> None:
        nonlocal bar
        if args.no_progress:
            return
        if bar is None or b == 1:
            if bar is not None:
                bar.close()
            bar = tqdm(total=n, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=True)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    def on_epoch(row: dict) -> None:
        parts = [f"epoch {int(row['epoch'])}", f"train loss {row['train_loss']:.4f}"]
        for key, label in (("val_loss", "val loss"), ("val_accuracy", "acc"), ("val_macro_recall", "macro rec"),
                           ("val_spin_accuracy", "spin acc")):
            if row.get(key) is not None:
                parts.append(f"{label} {row[key]:.3f}")
        parts.append(f"{row['images_per_s']:.0f} img/s")
        (tqdm.write if bar is not None else print)(" | ".join(parts))

    try:
        state = run_training(config, out, command=command, on_batch=on_batch, on_epoch=on_epoch,
                             on_message=None if args.no_progress else (lambda m: tqdm.write(m)))
    except TrainingBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    print(f"{state['status']}: {state.get('message', '')} -> {out}")
    return 0 if state["status"] == "finished" else 1


def _argv_from(args: argparse.Namespace) -> list[str]:
    """Reconstruct a command line from parsed arguments (when not run from the shell)."""
    argv: list[str] = []
    for c, i in zip(args.catalog, args.images, strict=False):
        argv += ["--catalog", c, "--images", i]
    for c in args.crop or []:
        argv += ["--crop", str(c)]
    argv += ["--model", args.model, "--size", str(args.size), "--epochs", str(args.epochs),
             "--batch-size", str(args.batch_size), "--lr", str(args.lr), "--seed", str(args.seed)]
    if args.out:
        argv += ["--out", str(args.out)]
    return argv
