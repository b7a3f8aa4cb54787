"""``python -m core explain``: a Grad-CAM saliency map for one answer of one image.

    python -m core explain galaxy.jpg --model models/demo --answer P_EL --out map.npy [--png overlay.png]

writes a float32 .npy array of the original image's height x width (rows = y, down; columns
= x, right), non-negative, summing to 1, mapped back through the model's own framing; with
``--png`` also the image with the map drawn over it. Only columns the model learned can be
explained.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.exit_codes import ExitCode, epilog
from core.images.crop import add_crop_option

#: ``--model`` help of explain and embed (the run folder, or a run's name; the default model).
MODEL_HELP = ("run folder, or a run's name (your runs first, then the shipped models/); default: demo (yours if "
              "you trained one, else the shipped models/demo)")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "explain", help="Grad-CAM saliency map of one answer for an image",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""), epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", metavar="IMAGE", help="a JPEG or PNG image of the galaxy")
    p.add_argument("--model", metavar="RUN", help=MODEL_HELP)
    p.add_argument("--answer", metavar="COLUMN", required=True,
                   help="the vote column to explain, e.g. P_EL, P_CW, P_EDGE (only columns the model learned)")
    p.add_argument("--out", metavar="MAP.npy", required=True, help="where to write the map (.npy, float32)")
    p.add_argument("--png", metavar="OVERLAY.png", help="also write the image with the map drawn over it")
    add_crop_option(p, "centre crop, fraction of the shorter side (default: the model's framing for that folder)")
    return p


def load_model(model: str | None):
    """The LoadedModel of ``--model`` (:func:`core.inference.runs.resolve_run`: a folder, or a run's name;
    default: demo, yours if you trained one, else the shipped one), torch threads as configured."""
    import torch

    from core.config import get_settings
    from core.inference.predict import load_run
    from core.inference.runs import resolve_run

    settings = get_settings()
    torch.set_num_threads(settings.torch_threads)
    run_dir = resolve_run(model, settings)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"model run folder {run_dir} does not exist")
    return load_run(run_dir)


def run(args) -> int:
    from core.atomic import write_bytes_atomic
    from core.images.reading import ImageInputError, open_image
    from core.training.checkpoint import CheckpointError

    try:
        model = load_model(args.model)
        from core.explain.answers import answer_index

        answer_index(args.answer, model.learned, f"model {model.run_dir}")  # before reading the image
        from core.explain.saliency import explain_image, npy_bytes, overlay_png
        from core.inference.predict import crop_for_images

        image = Path(args.image)
        img = open_image(image)
        crop = args.crop_fraction if args.crop_fraction is not None else crop_for_images(model, image.parent)
        result = explain_image(model, img, args.answer, crop_fraction=crop)
    except (ImageInputError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        write_bytes_atomic(args.out, npy_bytes(result.values))
        if args.png:
            write_bytes_atomic(args.png, overlay_png(img, result.values))
    except OSError as exc:
        print(f"error: cannot write {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.OUTPUT_FAILED
    print(f"{image.name}: {result.describe()}; model {model.run_id}")
    print(f"wrote {args.out}" + (f" and {args.png}" if args.png else ""), file=sys.stderr)
    return ExitCode.OK
