"""Which answer column a run may be explained for: only the columns it learned.

A run never reports a column it had no labels for (:mod:`core.inference.learned`), so
asking for one is refused with :class:`UnlearnedColumnError`, which names the column and
lists the learned ones.
"""

from __future__ import annotations

import numpy as np

from core.schema import VOTE_COLUMNS, canonical_column


class UnlearnedColumnError(ValueError):
    """An answer column that is unknown, or that the run never learned."""


def learned_columns(learned: np.ndarray) -> list[str]:
    """Names of the learned columns (VOTE_COLUMNS order) for a (9,) bool mask."""
    return [c for c, k in zip(VOTE_COLUMNS, np.asarray(learned, dtype=bool), strict=True) if k]


def answer_index(column: str, learned: np.ndarray, run_name: str = "the model") -> int:
    """Index into VOTE_COLUMNS of ``column`` (case-insensitive, ``GZ1_`` prefix allowed).

    Raises UnlearnedColumnError for a column that is not one of the nine, or one the run's
    ``learned`` mask marks as never learned.
    """
    name = canonical_column(column)
    ok = ", ".join(learned_columns(learned)) or "none"
    if name not in VOTE_COLUMNS:
        raise UnlearnedColumnError(f"--answer {column!r} is not a vote column; {run_name} learned: {ok}")
    i = VOTE_COLUMNS.index(name)
    if not bool(np.asarray(learned, dtype=bool)[i]):
        raise UnlearnedColumnError(f"--answer {name}: {run_name} never learned this column (it had no labels "
                                   f"for it), so it cannot be explained; learned columns: {ok}")
    return i
