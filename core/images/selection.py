"""Which galaxies of a catalogue to download (all, the first or a random N, a class, a sky-map selection),
and the download targets they become."""

from __future__ import annotations

from collections.abc import Iterable

from core.images.failures import Target
from core.schema import POSITION_COLUMNS, RAW_COLUMNS

#: Ways to pick a subset, for :func:`choose_galaxies`.
SUBSET_MODES = ("all", "first", "random", "class", "selection")
FLAG_FILTERS = ("SPIRAL", "ELLIPTICAL", "UNCERTAIN")


def class_filters(table) -> list[str]:
    """Class filters a table supports: its GZ1 flags (``SPIRAL`` ...) and, when the six raw
    fractions are present, ``TOP:<column>`` = "that answer got the largest share of the votes"."""
    options = [f for f in FLAG_FILTERS if f in table.columns]
    if all(c in table.columns for c in RAW_COLUMNS):
        options += [f"TOP:{c}" for c in RAW_COLUMNS]
    return options


def choose_galaxies(table, mode: str = "all", n: int | None = None, seed: int = 0,
                    class_filter: str | None = None, objids: Iterable[str] | None = None):
    """Rows of ``table`` to download.

    ``mode``: ``all``; ``first`` n rows; ``random`` n rows (reproducible with ``seed``);
    ``class``: rows whose flag column is 1 (``class_filter`` = ``SPIRAL``, ``ELLIPTICAL``,
    ``UNCERTAIN``) or whose largest raw vote fraction is ``TOP:<column>`` (a class derived
    from the votes, ties go to the first column in Table-2 order); ``selection``: rows whose
    OBJID is in ``objids`` (e.g. the sky-map selection).
    """
    if mode not in SUBSET_MODES:
        raise ValueError(f"mode must be one of {SUBSET_MODES}, got {mode!r}")
    if mode in ("first", "random"):
        if n is None or n < 1:
            raise ValueError(f"{mode} needs a number of galaxies >= 1, got {n!r}")
        n = min(int(n), len(table))
        return table.head(n) if mode == "first" else table.sample(n=n, random_state=seed).sort_index()
    if mode == "class":
        if class_filter in FLAG_FILTERS and class_filter in table.columns:
            return table[table[class_filter] == 1]
        if class_filter and class_filter.startswith("TOP:") and class_filter[4:] in RAW_COLUMNS:
            top = table[list(RAW_COLUMNS)].to_numpy().argmax(axis=1)
            return table[top == RAW_COLUMNS.index(class_filter[4:])]
        raise ValueError(f"class filter {class_filter!r} is not available for this catalogue")
    if mode == "selection":
        wanted = {str(o) for o in (objids or [])}
        return table[table["OBJID"].astype(str).isin(wanted)]
    return table


def describe_selection(catalogue: str, mode: str, count: int, n: int | None = None, seed: int | None = None,
                       class_filter: str | None = None) -> str:
    """Plain words for a selection, stored with the job, e.g. "random 50 (seed 0) of gz1_sample.csv: 50"."""
    what = {"all": "all", "first": f"first {n}", "random": f"random {n} (seed {seed})",
            "class": f"class {class_filter}", "selection": "sky-map selection"}.get(mode, mode)
    return f"{what} of {catalogue}: {count} galaxies"


def targets_from_table(table, limit: int | None = None) -> list[Target]:
    """Targets from a table with ``OBJID``, ``RA``, ``DEC`` (decimal degrees), first ``limit`` rows.

    Duplicate OBJIDs are fetched once (the first row wins).
    """
    missing = [c for c in POSITION_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"catalogue has no {', '.join(missing)} column(s); a download needs OBJID, RA and DEC")
    seen: set[str] = set()
    targets: list[Target] = []
    for objid, ra, dec in zip(table["OBJID"].tolist(), table["RA"].tolist(), table["DEC"].tolist(), strict=False):
        key = str(objid)
        if key in seen:
            continue
        seen.add(key)
        targets.append(Target(key, float(ra), float(dec)))
        if limit is not None and len(targets) >= limit:
            break
    return targets
