"""The framing parameter, ``crop_fraction``: how much of each image the model sees.

``None`` frames each image by its central galaxy (:mod:`core.images.framing`); a number ``f`` in
(0, 1] is a declared centre crop, a centred square of ``f`` times the shorter side (1.0 = the whole
image). It has one name: ``crop_fraction`` in code, config.json (top level and ``sources[]``) and
``imageset.json``, ``--crop-fraction`` on the command line. Files and commands written before it had
one name spell it ``crop`` (config.json ``sources[]``) and ``--crop``; both are still read.
:func:`is_crop_fraction` is the one range check.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping

#: The range of a declared centre crop, as error messages write it.
CROP_RANGE = "(0, 1]"
#: The command-line option, and the older spelling still accepted (hidden from --help).
CROP_FLAG, LEGACY_CROP_FLAG = "--crop-fraction", "--crop"
#: config.json ``sources[]`` key, and the older spelling still read.
CROP_KEY, LEGACY_CROP_KEY = "crop_fraction", "crop"


def is_crop_fraction(value: object) -> bool:
    """True for a declared centre crop: a real number in (0, 1] (bools, NaN, text and None are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not math.isnan(value) and 0 < value <= 1


def stored_crop_fraction(source: Mapping, default: float | None = 1.0) -> float | None:
    """The crop one recorded training source (config.json ``sources[]``) names, None = framed by the galaxy.

    ``default`` when it names none: 1.0 (the whole image) for a source written before framing existed.
    """
    value = source.get(CROP_KEY, source.get(LEGACY_CROP_KEY, default))
    return None if value is None else float(value)


def _crop_fraction_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not is_crop_fraction(value):
        raise argparse.ArgumentTypeError(f"must be in {CROP_RANGE} (a fraction of the shorter side), got {text}")
    return value


def add_crop_option(parser: argparse.ArgumentParser, help: str, *, repeat: bool = False) -> None:
    """``--crop-fraction F`` (repeatable with ``repeat``) into ``args.crop_fraction``, range-checked.

    The older ``--crop`` is accepted with the same meaning, so commands recorded in older
    config.json files still run; --help shows only the current name.
    """
    kw: dict = {"type": _crop_fraction_arg, "metavar": "F", "dest": "crop_fraction", "default": None}
    if repeat:
        kw["action"] = "append"
    parser.add_argument(CROP_FLAG, help=help, **kw)
    parser.add_argument(LEGACY_CROP_FLAG, help=argparse.SUPPRESS, **kw)
