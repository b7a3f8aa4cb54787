"""Command line: ``python -m core <command> --help``.

Each command lives in its own ``core/cli/<command>.py`` module with
``add_parser(subparsers)`` and ``run(args) -> int``; modules are imported only
when their command runs, so ``catalog`` never pays for importing PyTorch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from core.exit_codes import epilog

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog": ("core.cli.catalog", "read, validate and convert a GZ1 Table 2 CSV"),
    "download": ("core.cli.download", "download SDSS cutouts, one <OBJID>.jpg per galaxy"),
    "train": ("core.cli.train", "train a CNN on a catalogue and its images (CPU)"),
    "evaluate": ("core.cli.evaluate", "score a trained model on a labelled set"),
    "predict": ("core.cli.predict", "predict the nine vote fractions for images"),
    "calibrate": ("core.cli.calibrate", "fit TOP_P (calibrated confidence) on a run's validation galaxies"),
    "votes": ("core.cli.votes", "export or summarise the visitors' votes (Classify page)"),
    "explain": ("core.cli.explain", "Grad-CAM saliency map of one answer for an image"),
    "embed": ("core.cli.embed", "embed every galaxy of a set (model features) into a parquet index"),
    "similar": ("core.cli.similar", "nearest galaxies in an embedding index, for IDs or images"),
}


def invoked_name(argv0: str | None = None) -> str:
    """How the user ran this: ``gz`` (the console script) or ``python -m core``, for usage lines."""
    name = Path(sys.argv[0] if argv0 is None else argv0).name
    return "python -m core" if name in ("", "-c", "__main__.py", "-m") else name


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=invoked_name(),
        description="Galaxy Zoo 1 morphology toolkit (catalogue, cutouts, training, inference).",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        if name == wanted:
            importlib.import_module(module_name).add_parser(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)

