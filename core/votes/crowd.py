"""Visitors compared with the GZ1 volunteers and with the model, over a :class:`VotingPool`.

"Agreement" is the share of votes whose answer is the reference's top answer: the GZ1 top
answer (largest of the six fractions, or the class of a class-derived label) or the model's
top answer. Votes on galaxies outside the pool, or without that reference, are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.schema import CLASS_NAMES, RAW_COLUMNS, RAW_INDEX
from core.votes.aggregate import answer_positions, fractions, vote_counts
from core.votes.migrations import votes
from core.votes.pool import VotingPool
from core.votes.store import Vote


def _references(galaxy_ids: Sequence[str], pool: VotingPool) -> tuple[np.ndarray, np.ndarray]:
    """Per vote: GZ1 top answer and model top answer (positions 0..5, -1 = unknown)."""
    pos = np.asarray([-1 if (p := pool.position(g)) is None else p for g in galaxy_ids], dtype=int)
    human, model = pool.human_top(), pool.model_top()
    inside = pos >= 0
    gz1 = np.where(inside, human[np.where(inside, pos, 0)], -1) if len(pos) else pos
    mod = np.where(inside, model[np.where(inside, pos, 0)], -1) if len(pos) else pos
    return gz1, mod


def voted_sources(engine: Engine) -> set[str]:
    """Names of the image sets votes were cast on (``Vote.source``: "built-in demo", "downloaded", "folder X")."""
    with engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(sa.select(votes.c.source).distinct())}


def agreement(answers: np.ndarray, reference: np.ndarray) -> dict:
    """``{"agree": n, "compared": n, "share": agree/compared or None}`` over votes with a reference."""
    known = reference >= 0
    n, agree = int(known.sum()), int((answers[known] == reference[known]).sum())
    return {"agree": agree, "compared": n, "share": (agree / n) if n else None}


def session_score(session: Sequence[Vote], pool: VotingPool) -> dict:
    """A visitor's running score: ``gz1`` and ``model`` agreement dicts over their votes."""
    answers = answer_positions(pd.Series([v.answer for v in session], dtype=object))
    gz1, mod = _references([v.galaxy_id for v in session], pool)
    return {"gz1": agreement(answers, gz1), "model": agreement(answers, mod)}


def _counts_in_pool(engine: Engine, pool: VotingPool, counts: pd.DataFrame | None) -> tuple[pd.DataFrame, np.ndarray]:
    """Vote counts (given, or queried) of the pool's galaxies that have votes, and their positions in the pool."""
    counts = vote_counts(engine) if counts is None else counts
    pos = np.asarray([-1 if (p := pool.position(g)) is None else p for g in counts.index], dtype=int)
    return counts[pos >= 0], pos[pos >= 0]


def crowd_comparison(engine: Engine, pool: VotingPool, counts: pd.DataFrame | None = None) -> dict:
    """All visitors: ``confusion`` (DataFrame, rows GZ1 top answer, columns visitor answer, vote counts;
    class-derived GZ1 labels included), ``gz1`` and ``model`` agreement dicts. ``counts``: a
    :func:`vote_counts` table already at hand (saves a query). ``outside``: votes on galaxies
    not in ``pool`` (so in none of these figures)."""
    every = vote_counts(engine) if counts is None else counts
    counts, pos = _counts_in_pool(engine, pool, every)
    per_answer = counts[list(CLASS_NAMES)].to_numpy(dtype=int)  # (galaxies, 6)
    matrix = np.zeros((len(CLASS_NAMES), len(CLASS_NAMES)), dtype=int)
    out = {}
    for name, top in (("gz1", pool.human_top()[pos]), ("model", pool.model_top()[pos])):
        known = top >= 0
        agree = int(per_answer[known, top[known]].sum()) if known.any() else 0
        compared = int(per_answer[known].sum())
        out[name] = {"agree": agree, "compared": compared, "share": (agree / compared) if compared else None}
        if name == "gz1":
            np.add.at(matrix, top[known], per_answer[known])
    confusion = pd.DataFrame(matrix, index=[f"GZ1 {c}" for c in CLASS_NAMES], columns=list(CLASS_NAMES))
    outside = int(every["NVOTE"].sum() - counts["NVOTE"].sum())
    return {"confusion": confusion, "outside": outside, **out}


def disagreements(engine: Engine, pool: VotingPool, top: int = 10, min_votes: int = 1,
                  counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Galaxies where visitors and the model disagree most: total-variation distance between the
    visitors' six fractions and the model's (0 = same, 1 = no overlap), largest first.

    Columns: OBJID, NVOTE, DISTANCE, VISITORS_TOP, MODEL_TOP, SOURCE.
    """
    counts, pos = _counts_in_pool(engine, pool, counts)
    keep = (counts["NVOTE"].to_numpy() >= min_votes) & ~np.isnan(pool.model[pos]).any(axis=1)
    counts, pos = counts[keep], pos[keep]
    visitor = fractions(counts)[list(RAW_COLUMNS)].to_numpy(dtype=float)
    model_raw = pool.model[pos][:, list(RAW_INDEX)]
    out = pd.DataFrame({
        "OBJID": counts.index.astype(str), "NVOTE": counts["NVOTE"].to_numpy(dtype=int),
        "DISTANCE": 0.5 * np.abs(visitor - model_raw).sum(axis=1),
        "VISITORS_TOP": [CLASS_NAMES[i] for i in visitor.argmax(axis=1)],
        "MODEL_TOP": [CLASS_NAMES[i] for i in model_raw.argmax(axis=1)],
        "SOURCE": [pool.sources[i] for i in pos],
    })
    return out.sort_values(["DISTANCE", "NVOTE"], ascending=False, kind="stable").head(top).reset_index(drop=True)


def galaxy_reveal(engine: Engine, pool: VotingPool, galaxy_id: str) -> dict:
    """What the reveal shows for one galaxy, six fractions each in RAW_COLUMNS order (NaN = unknown):
    ``model``, ``gz1`` with ``gz1_kind`` (a LabelKind: vote fractions, class-derived, ...), ``visitors``
    (this dashboard's visitors so far) with ``nvote``, and ``source`` (image set)."""
    i = pool.position(galaxy_id)
    nan6 = np.full(len(RAW_COLUMNS), np.nan)
    counts = vote_counts(engine, [galaxy_id])
    visitors = fractions(counts).loc[galaxy_id, list(RAW_COLUMNS)].to_numpy(float) if len(counts) else nan6
    return {
        "model": pool.model[i, list(RAW_INDEX)] if i is not None else nan6,
        "gz1": pool.human[i, list(RAW_INDEX)] if i is not None else nan6,
        "gz1_kind": pool.human_kind(i) if i is not None else None,
        "visitors": visitors,
        "nvote": int(counts["NVOTE"].iloc[0]) if len(counts) else 0,
        "source": pool.sources[i] if i is not None else None,
    }
