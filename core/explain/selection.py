"""A set of galaxies picked on the embedding map, applied to label files (to train on just them).

A label CSV's row belongs to a galaxy by its OBJID column (any spelling
:func:`core.schema.find_objid_column` knows) or, failing that, by the stem of its ``FILE``
column, the two ways labels are joined to images. :func:`labels_subset` keeps the rows of
the chosen IDs, every cell as the text it was (no number is re-formatted).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import PurePath

import pandas as pd

from core.schema import find_objid_column


def labels_subset(labels_csv: str | os.PathLike, ids: Iterable[str]) -> tuple[bytes, int]:
    """(CSV bytes of the rows of ``labels_csv`` whose galaxy is in ``ids``, with the header; rows kept).

    A row counts when its OBJID or the stem of its FILE is chosen (either, when it has both).
    """
    table = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    wanted = {str(i).strip() for i in ids}
    keep = pd.Series(False, index=table.index)
    col = find_objid_column(table.columns)
    if col is not None:
        keep |= table[col].astype(str).str.strip().isin(wanted)
    for c in table.columns:
        if str(c).strip().upper() == "FILE":
            keep |= table[c].astype(str).map(lambda f: PurePath(f.strip()).stem).isin(wanted)
    chosen = table[keep.to_numpy()]
    return chosen.to_csv(index=False).encode("utf-8"), int(len(chosen))
