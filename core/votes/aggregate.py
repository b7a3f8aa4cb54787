"""Everything derived from the vote rows: counts, fractions, crowd statistics, the Table-2 export.

Nothing here is stored: each function queries the votes table. Fractions are fractions
of votes (count of an answer / NVOTE), as in GZ1 Table 2; P_CS = P_CW + P_ACW + P_EDGE.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.atomic import write_bytes_atomic
from core.csv_safety import safe_frame
from core.schema import CLASS_NAMES, RAW_COLUMNS
from core.votes.answers import ANSWER_INDEX
from core.votes.migrations import votes

#: Columns of the export, in GZ1 Table-2 order (P_CS derived).
EXPORT_COLUMNS: tuple[str, ...] = ("OBJID", "NVOTE", *RAW_COLUMNS, "P_CS")


def vote_counts(engine: Engine, galaxy_ids: list[str] | None = None) -> pd.DataFrame:
    """Votes per galaxy and answer: index ``galaxy_id`` (text), columns CLASS_NAMES (int counts) and NVOTE.

    One row per galaxy straight from the database (a conditional count per answer).
    """
    per_answer = [sa.func.sum(sa.case((votes.c.answer == code, 1), else_=0)).label(code) for code in CLASS_NAMES]
    query = sa.select(votes.c.galaxy_id, *per_answer).group_by(votes.c.galaxy_id)
    if galaxy_ids is not None:
        query = query.where(votes.c.galaxy_id.in_(list(galaxy_ids)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    table = pd.DataFrame([tuple(r[1:]) for r in rows], columns=list(CLASS_NAMES),
                         index=pd.Index([str(r[0]) for r in rows], name="galaxy_id"), dtype="int64")
    table["NVOTE"] = table.sum(axis=1)
    return table


def fractions(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts (from :func:`vote_counts`) -> the six raw fractions (RAW_COLUMNS) and P_CS, per galaxy."""
    out = counts[list(CLASS_NAMES)].div(counts["NVOTE"].where(counts["NVOTE"] > 0), axis=0)
    out.columns = list(RAW_COLUMNS)
    out["P_CS"] = out["P_CW"] + out["P_ACW"] + out["P_EDGE"]
    return out


def export_frame(engine: Engine, min_votes: int = 1, counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Galaxies with at least ``min_votes`` votes as GZ1 Table-2 rows (EXPORT_COLUMNS), by OBJID.

    A client votes at most once per galaxy (a unique index), so NVOTE is also the number of
    distinct clients (visitor addresses, see :mod:`core.votes.clients`) behind a row, and
    ``min_votes`` = K keeps only galaxies that K different clients voted on.
    OBJID is text; fractions are rounded to 6 decimals (the six raw ones still sum to 1 within 1e-5).
    ``counts``: a :func:`vote_counts` table already at hand (saves a query).
    """
    if min_votes < 1:
        raise ValueError(f"--min-votes must be at least 1, got {min_votes}")
    counts = vote_counts(engine) if counts is None else counts
    counts = counts[counts["NVOTE"] >= min_votes].sort_index()
    out = fractions(counts).round(6)
    out.insert(0, "NVOTE", counts["NVOTE"].astype(int))
    out.insert(0, "OBJID", counts.index.astype(str))
    return out.reset_index(drop=True)[list(EXPORT_COLUMNS)]


def export_csv_bytes(engine: Engine, min_votes: int = 1, counts: pd.DataFrame | None = None) -> tuple[bytes, int]:
    """The export as CSV bytes (for a download button or a file) and its number of galaxies."""
    frame = export_frame(engine, min_votes, counts)
    buf = io.StringIO()
    safe_frame(frame).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8"), len(frame)


def write_export(engine: Engine, path: str | Path, min_votes: int = 1) -> int:
    """Write the export to ``path`` atomically; return the number of galaxies written."""
    data, n = export_csv_bytes(engine, min_votes)
    write_bytes_atomic(path, data)
    return n


def summary(engine: Engine, counts: pd.DataFrame | None = None) -> dict:
    """Crowd totals: ``votes``, ``galaxies``, ``sessions`` (tabs), ``clients`` (visitors: distinct
    client keys), ``votes_per_galaxy`` (min/median/mean/max),
    ``galaxies_by_votes`` ({number of votes: number of galaxies}) and ``answers`` ({answer: votes}).
    ``counts``: a :func:`vote_counts` table already at hand (saves a query)."""
    with engine.connect() as conn:
        n_votes, n_sessions, n_clients = conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(votes.c.session_id)),
                      sa.func.count(sa.distinct(votes.c.client_key)))).one()
        answers = dict(conn.execute(sa.select(votes.c.answer, sa.func.count()).group_by(votes.c.answer)).all())
    per = (vote_counts(engine) if counts is None else counts)["NVOTE"]
    spread = ({"min": int(per.min()), "median": float(per.median()), "mean": round(float(per.mean()), 3),
               "max": int(per.max())} if len(per) else {"min": 0, "median": 0.0, "mean": 0.0, "max": 0})
    return {
        "votes": int(n_votes),
        "galaxies": int(len(per)),
        "sessions": int(n_sessions),
        "clients": int(n_clients),
        "votes_per_galaxy": spread,
        "galaxies_by_votes": {int(k): int(v) for k, v in per.value_counts().sort_index().items()},
        "answers": {c: int(answers.get(c, 0)) for c in CLASS_NAMES},
    }


def all_votes(engine: Engine) -> pd.DataFrame:
    """Every vote as ``galaxy_id``, ``answer`` (text), ``session_id``, ``created_at`` (s since epoch)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(votes.c.galaxy_id, votes.c.answer, votes.c.session_id, votes.c.created_at))
        return pd.DataFrame(rows.all(), columns=["galaxy_id", "answer", "session_id", "created_at"])


def answer_positions(answers: pd.Series) -> np.ndarray:
    """Stored answer codes -> positions 0..5 (RAW_COLUMNS order)."""
    return answers.map(ANSWER_INDEX).to_numpy(dtype=int)
