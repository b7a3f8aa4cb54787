"""The embedding map's table: one row per mapped galaxy, its image, human votes and the model's answer.

:func:`galaxies_for` finds each mapped ID's image and labels, first in the labelled galaxy sets
given (e.g. the built-in demo sets, :func:`core.inference.galaxy_sets.demo_sets`), then as
``<folder>/<ID>.jpg|.jpeg|.png`` in the folders given (unlabelled). :func:`map_table` joins a
:class:`core.explain.projection.Projection` with them by ID. Columns: ``ID``, ``x``, ``y``,
``SOURCE`` (index file stem), ``IMAGE`` (path or ""), ``LABEL_KIND`` (a :class:`core.schema.LabelKind` value), ``HUMAN <col>`` for the
nine vote columns (NaN where unknown; class-derived labels are 0/1), ``HUMAN_TOP`` (the
largest of the six raw human fractions, as a CLASS_NAMES word, "" when unknown), then with
predictions ``MODEL <col>`` (NaN where the run never learned the column or the image was
refused) and ``MODEL_TOP``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.explain.projection import Projection
from core.inference.compare import top_answer
from core.inference.galaxy_sets import GalaxySet, combine_sets
from core.schema import CLASS_NAMES, VOTE_COLUMNS, LabelKind

#: Image suffixes tried in an unlabelled folder, in order.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _top_words(fractions: np.ndarray) -> list[str]:
    return [CLASS_NAMES[i] if i >= 0 else "" for i in top_answer(fractions)]


def galaxies_for(ids: Sequence[str], sets: Sequence[GalaxySet],
                 folders: Sequence[str | os.PathLike] = (), name: str = "embedding map") -> GalaxySet:
    """The galaxies of ``ids`` that have an image, in the order of ``ids``; ``missing`` lists the rest.

    When every ID is found in ``sets`` in their own order (the usual case: an index made from
    those sets), the result holds the same files in the same order as the combined sets, so
    predictions cached for them are shared.
    """
    labelled = combine_sets(list(sets), name) if sets else None
    where = {gid: i for i, gid in enumerate(labelled.ids)} if labelled else {}
    take = [where.get(str(g)) for g in ids]
    if labelled is not None and all(t is not None for t in take):
        return labelled.subset(np.asarray(take, dtype=int))
    found_ids, files, targets, derived, missing = [], [], [], [], []
    for gid, t in zip(ids, take, strict=True):
        gid = str(gid)
        if t is not None:
            found_ids.append(gid)
            files.append(labelled.files[t])
            targets.append(labelled.targets[t])
            derived.append(bool(labelled.class_derived[t]))
            continue
        path = next((Path(f) / f"{gid}{s}" for f in folders for s in IMAGE_SUFFIXES
                     if (Path(f) / f"{gid}{s}").is_file()), None)
        if path is None:
            missing.append(gid)
            continue
        found_ids.append(gid)
        files.append(path)
        targets.append(np.full(len(VOTE_COLUMNS), np.nan))
        derived.append(False)
    n = len(found_ids)
    return GalaxySet(name, found_ids, files,
                     np.asarray(targets, dtype=float).reshape(n, len(VOTE_COLUMNS)),
                     np.asarray(derived, dtype=bool), "ID", missing)


def map_table(projection: Projection, gset: GalaxySet, fractions: np.ndarray | None = None,
              learned: np.ndarray | None = None) -> pd.DataFrame:
    """One row per mapped galaxy (projection order); see the module docstring for the columns.

    ``fractions`` (len(gset), 9): the model's answers for ``gset`` (NaN rows for refused images);
    ``learned`` (9,) bool: the run's learned columns (the others are left NaN).
    """
    n = len(projection.ids)
    pos = {gid: i for i, gid in enumerate(gset.ids)}
    rows = np.array([pos.get(g, -1) for g in projection.ids], dtype=int)
    have = rows >= 0
    human = np.full((n, len(VOTE_COLUMNS)), np.nan)
    human[have] = gset.targets[rows[have]]
    kinds = np.full(n, LabelKind.NONE.value, dtype=object)
    kinds[have] = gset.label_kind()[rows[have]]
    images = np.full(n, "", dtype=object)
    images[have] = [str(gset.files[r]) for r in rows[have]]
    frame = pd.DataFrame({"ID": projection.ids, "x": projection.x, "y": projection.y,
                          "SOURCE": projection.source or [""] * n, "IMAGE": images, "LABEL_KIND": kinds})
    for j, col in enumerate(VOTE_COLUMNS):
        frame[f"HUMAN {col}"] = human[:, j]
    frame["HUMAN_TOP"] = _top_words(human)
    if fractions is not None:
        model = np.full((n, len(VOTE_COLUMNS)), np.nan)
        model[have] = np.asarray(fractions, dtype=float)[rows[have]]
        if learned is not None:
            model[:, ~np.asarray(learned, dtype=bool)] = np.nan
        for j, col in enumerate(VOTE_COLUMNS):
            frame[f"MODEL {col}"] = model[:, j]
        frame["MODEL_TOP"] = _top_words(model)
    return frame


def selection_csv(frame: pd.DataFrame, ids: Sequence[str]) -> bytes:
    """The rows of ``ids`` (in map order) as CSV: ID, map coordinates, index file, human and model columns.

    Text cells are made formula-safe (:mod:`core.csv_safety`); the image path is left out."""
    from core.csv_safety import safe_frame

    chosen = frame[frame["ID"].isin(set(map(str, ids)))].drop(columns=["IMAGE"])
    return safe_frame(chosen).to_csv(index=False).encode("utf-8")
