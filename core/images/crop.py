"""The framing parameter: how much of each image the model sees.

``None`` frames each image by its central galaxy (:mod:`core.images.framing`); a number ``f`` in
(0, 1] is a declared centre crop, a centred square of ``f`` times the shorter side (1.0 = the whole
image). It is spelt ``--crop`` on the command line, ``crop`` in a training source
(:class:`core.training.train_config.Source`, config.json ``sources``) and ``crop_fraction``
everywhere else (function arguments, config.json, ``imageset.json``). :func:`is_crop_fraction` is the
one range check.
"""

from __future__ import annotations

import math

#: The range of a declared centre crop, as error messages write it.
CROP_RANGE = "(0, 1]"


def is_crop_fraction(value: object) -> bool:
    """True for a declared centre crop: a real number in (0, 1] (bools, NaN, text and None are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not math.isnan(value) and 0 < value <= 1
