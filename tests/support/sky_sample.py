"""The real 695-row sample as a table, and bigger tables tiled from it (for sky-map thinning tests)."""

from __future__ import annotations

import pandas as pd


def tiled(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """n rows from the real sample, with unique OBJIDs (for thinning tests)."""
    reps = -(-n // len(table))
    big = pd.concat([table] * reps, ignore_index=True).iloc[:n].copy()
    big["OBJID"] = [str(587000000000000000 + i) for i in range(n)]
    return big
