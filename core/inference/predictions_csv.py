"""The predictions CSV: one row per galaxy, written as predictions are made and read back.

Format (also the single-image CLI format, compatible with the original tool's
``ID, image, fractions`` rows): header ``ID,IMAGE`` + the nine ``VOTE_COLUMNS`` in
Table-2 order. ``ID`` is the OBJID (or image ID) exactly as given, as text (an
18-digit OBJID never passes through a float); values are fractions of votes written
as the shortest decimal that reads back to the same float32. A column the run never
learned (see :func:`core.inference.learned.learned_mask`) is left blank in every row.
Text cells that a spreadsheet would run as a formula are neutralised
(:mod:`core.csv_safety`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from core.csv_safety import safe_cell
from core.schema import VOTE_COLUMNS

#: Header of every predictions CSV.
PREDICTION_HEADER: tuple[str, ...] = ("ID", "IMAGE") + VOTE_COLUMNS


class PredictionsFileError(ValueError):
    """An existing output CSV that is not a predictions file of this format; the message names it."""


def format_fraction(value: float) -> str:
    """Shortest decimal text that reads back to the same float32 (e.g. ``0.12345679``); "" for NaN."""
    v = np.float32(value)
    if not np.isfinite(v):
        return ""
    return np.format_float_positional(v, unique=True, trim="0")


def prediction_rows(ids: Sequence[str], images: Sequence[str], fractions: np.ndarray,
                    learned: np.ndarray | None = None) -> list[list[str]]:
    """CSV rows: ID and image name (text, formula-safe), nine fractions ("" where not learned or NaN)."""
    fractions = np.asarray(fractions, dtype=np.float32).reshape(len(ids), len(VOTE_COLUMNS))
    if learned is not None:
        fractions = np.where(np.asarray(learned, dtype=bool)[None, :], fractions, np.nan)
    return [[safe_cell(str(i)), safe_cell(str(n)), *(format_fraction(v) for v in row)]
            for i, n, row in zip(ids, images, fractions, strict=True)]


def _check_existing(path: Path) -> None:
    """Refuse a file with another header; drop an unfinished last line left by a killed run."""
    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        if header.split(",") != list(PREDICTION_HEADER):
            # The first line is not echoed: the file could be anything the user pointed at.
            raise PredictionsFileError(f"{path}: exists but is not a predictions file (its first line is not "
                                       f"{','.join(PREDICTION_HEADER)}); choose another --out")
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        # The last row was cut off mid-write (the process was killed): remove just that fragment.
        fh.seek(0)
        data = fh.read()
    with open(path, "r+b") as fh:
        fh.truncate(data.rfind(b"\n") + 1)


class PredictionWriter:
    """Append prediction rows to a CSV: header once (new or empty file), rows flushed per call.

    Use as a context manager. An existing file must have :data:`PREDICTION_HEADER`.
    ``learned``: (9,) bool, columns the run learned; the others are written blank.
    """

    def __init__(self, path: str | os.PathLike, learned: np.ndarray | None = None):
        self.path = Path(path)
        self.learned = learned
        self._fh: io.TextIOWrapper | None = None
        self._writer = None

    def __enter__(self) -> PredictionWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        if not new:
            _check_existing(self.path)
        self._fh = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        if new:
            self._writer.writerow(PREDICTION_HEADER)
            self._fh.flush()
        return self

    def write(self, ids: Sequence[str], images: Sequence[str], fractions: np.ndarray) -> None:
        """Write one row per galaxy (see :func:`prediction_rows`), then flush."""
        if self._writer is None:
            raise RuntimeError("PredictionWriter used outside 'with'")
        self._writer.writerows(prediction_rows(ids, images, fractions, self.learned))
        self._fh.flush()

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = self._writer = None


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """A predictions CSV as a DataFrame: ``ID`` and ``IMAGE`` as text, the nine columns as float (NaN = blank)."""
    dtypes = {"ID": "string", "IMAGE": "string", **{c: "float64" for c in VOTE_COLUMNS}}
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={c: [""] for c in VOTE_COLUMNS})


def existing_ids(path: str | os.PathLike) -> set[str]:
    """IDs already in a predictions CSV (empty set if the file does not exist)."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return set()
    _check_existing(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return {row[0] for row in reader if row}


def predictions_csv_bytes(ids: Sequence[str], images: Sequence[str], fractions: np.ndarray,
                          learned: np.ndarray | None = None) -> bytes:
    """The same CSV as :class:`PredictionWriter` writes, in memory (for a download button)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PREDICTION_HEADER)
    writer.writerows(prediction_rows(ids, images, fractions, learned))
    return buf.getvalue().encode("utf-8")


def append_prediction(out_csv: str | os.PathLike, galaxy_id: str, image_name: str, fractions: np.ndarray,
                      learned: np.ndarray | None = None) -> None:
    """Append one row (ID, image name, nine fractions) to ``out_csv``, creating it with a header."""
    with PredictionWriter(out_csv, learned) as writer:
        writer.write([galaxy_id], [image_name], np.asarray(fractions).reshape(1, -1))
