"""Which of the nine vote columns a run actually learned, so it never reports the others.

A run learns a column only when some training galaxy had a label for it. Training
records the list as ``learned_columns`` in config.json
(:func:`core.training.prepare.learned_columns`). For runs trained before that, only
what the config itself shows counts: label kinds that mean "all six raw answers known"
(vote fractions, class-derived one-hots) show the six raw answers and P_CS; nothing in
an older config shows debiased labels or which columns a partial label had, so those
count as not learned. Nothing is inferred from data outside the config.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from core.schema import CS_INDEX, RAW_INDEX, VOTE_COLUMNS
from core.training.run_config import RunConfig

#: Wording shown wherever a column the run never learned would have been drawn.
NOT_LEARNED = "not learned"

#: Label kinds (config ``data.sources[].label_kinds`` keys, by prefix) that carry all six raw answers.
_FULL_RAW_KINDS = ("vote fractions", "class-derived")


def _recorded(config: dict) -> np.ndarray | None:
    """Mask from a recorded ``learned_columns`` (RunConfig reads a list of names or a mapping name -> count)."""
    names = RunConfig.from_dict(config).learned_columns
    return None if names is None else np.array([c in names for c in VOTE_COLUMNS], dtype=bool)


def _label_kind_counts(config: dict) -> Iterable[tuple[str, int]]:
    data = config.get("data")
    sources = data.get("sources") if isinstance(data, dict) else None
    for source in sources if isinstance(sources, list) else []:
        kinds = source.get("label_kinds") if isinstance(source, dict) else None
        for kind, count in (kinds.items() if isinstance(kinds, dict) else ()):
            if isinstance(count, int | float):
                yield str(kind), int(count)


def learned_mask(config: dict) -> np.ndarray:
    """(9,) bool in VOTE_COLUMNS order: True where the run (its config.json as a dict) learned the column."""
    recorded = _recorded(config)
    if recorded is not None:
        return recorded
    mask = np.zeros(len(VOTE_COLUMNS), dtype=bool)
    if any(count > 0 and kind.startswith(_FULL_RAW_KINDS) for kind, count in _label_kind_counts(config)):
        mask[list(RAW_INDEX)] = True
        mask[CS_INDEX] = True
    return mask


def not_learned_columns(learned: np.ndarray) -> list[str]:
    """Names of the columns a mask marks as not learned, in VOTE_COLUMNS order."""
    return [c for c, k in zip(VOTE_COLUMNS, np.asarray(learned, dtype=bool), strict=True) if not k]


def blank_unlearned(fractions: np.ndarray, learned: np.ndarray | None) -> np.ndarray:
    """A float copy of ``fractions`` (..., 9) with NaN in every column the run did not learn."""
    out = np.array(fractions, dtype=float)
    if learned is not None:
        out[..., ~np.asarray(learned, dtype=bool)] = np.nan
    return out
