"""Summary statistics and vote-fraction histograms of a clean catalogue table.

Histograms are counted here with numpy (a few hundred numbers), so the chart
sent to the browser stays tiny even for the full 667,944-row table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.schema import VOTE_COLUMNS

#: Numeric columns summarised, in display order (only those present are used).
SUMMARY_COLUMNS: tuple[str, ...] = ("RA", "DEC", "NVOTE") + VOTE_COLUMNS


def summary_statistics(table: pd.DataFrame) -> pd.DataFrame:
    """count, mean, std, min, median, max per numeric column (RA/DEC in degrees)."""
    columns = [c for c in SUMMARY_COLUMNS if c in table.columns]
    if not columns:
        return pd.DataFrame()
    data = table[columns].astype("float64")
    stats = pd.DataFrame({
        "count": data.count(),
        "mean": data.mean(),
        "std": data.std(),
        "min": data.min(),
        "median": data.median(),
        "max": data.max(),
    })
    stats["count"] = stats["count"].astype("int64")
    stats.index.name = "column"
    return stats


def fraction_histograms(table: pd.DataFrame, bins: int = 20) -> pd.DataFrame:
    """Counts of each vote fraction in ``bins`` equal bins over [0, 1].

    Long form: one row per (column, bin) with ``bin_left``, ``bin_right``, ``count``.
    The last bin includes 1.0.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for column in VOTE_COLUMNS:
        if column not in table.columns:
            continue
        counts, _ = np.histogram(table[column].to_numpy(dtype=np.float64), bins=edges)
        rows.append(pd.DataFrame({"column": column, "bin_left": edges[:-1], "bin_right": edges[1:], "count": counts}))
    if not rows:
        return pd.DataFrame(columns=["column", "bin_left", "bin_right", "count"])
    return pd.concat(rows, ignore_index=True)
