"""The predictions CSV: one row per galaxy, written as predictions are made and read back.

Format (also the single-image CLI format; its first eleven columns are the original
tool's ``ID, image, fractions`` rows): header ``ID,IMAGE`` + the nine ``VOTE_COLUMNS`` in
Table-2 order, then ``TOP_ANSWER`` (the model's top raw answer: EL, CW, ACW, EDGE, DK or
MG), ``TOP_P`` (the calibrated probability that the volunteers' top answer is
``TOP_ANSWER``, :mod:`core.inference.calibration`; blank when the run has no calibrator)
and one standard deviation per fraction, ``<COLUMN>_SD`` (:mod:`core.inference.uncertainty`).
``ID`` is the OBJID (or image ID) exactly as given, as text (an 18-digit OBJID never
passes through a float); values are fractions of votes written as the shortest decimal
that reads back to the same float32. A column the run never learned (see
:func:`core.inference.learned.learned_mask`) is left blank in every row, its SD too.
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
from core.schema import ANSWER_CODES, RAW_COLUMNS, VOTE_COLUMNS

#: The model's top raw answer, as its short code (EL, CW, ACW, EDGE, DK, MG).
TOP_ANSWER = "TOP_ANSWER"
#: Calibrated probability that the volunteers' top answer is TOP_ANSWER.
TOP_P = "TOP_P"
#: One standard deviation per fraction, VOTE_COLUMNS order.
SD_COLUMNS: tuple[str, ...] = tuple(f"{c}_SD" for c in VOTE_COLUMNS)
#: The numbers a prediction carries, in the order of an (N, 19) outputs array.
OUTPUT_COLUMNS: tuple[str, ...] = VOTE_COLUMNS + (TOP_P,) + SD_COLUMNS
#: Header of every predictions CSV.
PREDICTION_HEADER: tuple[str, ...] = ("ID", "IMAGE") + VOTE_COLUMNS + (TOP_ANSWER, TOP_P) + SD_COLUMNS
#: The header an earlier version wrote (fractions only); read, never appended to.
FRACTIONS_ONLY_HEADER: tuple[str, ...] = ("ID", "IMAGE") + VOTE_COLUMNS


class PredictionsFileError(ValueError):
    """An existing output CSV that is not a predictions file of this format; the message names it."""


def format_fraction(value: float) -> str:
    """Shortest decimal text that reads back to the same float32 (e.g. ``0.12345679``); "" for NaN."""
    v = np.float32(value)
    if not np.isfinite(v):
        return ""
    return np.format_float_positional(v, unique=True, trim="0")


def top_answer_codes(fractions: np.ndarray) -> list[str]:
    """The short code of each row's largest raw fraction ("" for a row with NaN)."""
    raw = np.asarray(fractions, dtype=float).reshape(-1, len(VOTE_COLUMNS))[:, :len(RAW_COLUMNS)]
    return ["" if np.isnan(r).any() else ANSWER_CODES[RAW_COLUMNS[int(np.argmax(r))]] for r in raw]


def as_outputs(values: np.ndarray) -> np.ndarray:
    """(N, 19) outputs from (N, 19) or (N, 9) fractions (TOP_P and SD then unknown: NaN)."""
    values = np.asarray(values, dtype=np.float32)
    values = values.reshape(len(values), -1) if values.ndim != 1 else values.reshape(1, -1)
    if values.shape[1] == len(OUTPUT_COLUMNS):
        return values
    if values.shape[1] != len(VOTE_COLUMNS):
        raise ValueError(f"expected (N, {len(VOTE_COLUMNS)}) fractions or (N, {len(OUTPUT_COLUMNS)}) outputs, "
                         f"got {values.shape}")
    return np.column_stack([values, np.full((len(values), len(OUTPUT_COLUMNS) - len(VOTE_COLUMNS)), np.nan,
                                            dtype=np.float32)])


def prediction_rows(ids: Sequence[str], images: Sequence[str], outputs: np.ndarray,
                    learned: np.ndarray | None = None) -> list[list[str]]:
    """CSV rows: ID and image name (text, formula-safe), nine fractions, TOP_ANSWER, TOP_P, nine SDs.

    ``outputs``: (N, 19) in OUTPUT_COLUMNS order, or (N, 9) fractions (TOP_P and SD blank).
    Blank where NaN, and for a fraction and its SD the run never learned.
    """
    outputs = as_outputs(np.asarray(outputs).reshape(len(ids), -1))
    n9 = len(VOTE_COLUMNS)
    if learned is not None:
        keep = np.asarray(learned, dtype=bool)
        mask = np.concatenate([keep, [True], keep])
        outputs = np.where(mask[None, :], outputs, np.nan)
    tops = top_answer_codes(outputs[:, :n9])
    return [[safe_cell(str(i)), safe_cell(str(n)), *(format_fraction(v) for v in row[:n9]), top,
             *(format_fraction(v) for v in row[n9:])]
            for i, n, row, top in zip(ids, images, outputs, tops, strict=True)]


def _check_existing(path: Path) -> None:
    """Refuse a file with another header; drop an unfinished last line left by a killed run."""
    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        if header.split(",") == list(FRACTIONS_ONLY_HEADER):
            raise PredictionsFileError(f"{path}: a predictions file of an earlier version (fractions only, no "
                                       f"{TOP_ANSWER}/{TOP_P}/SD columns); new rows cannot be appended to it: "
                                       "choose another --out")
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

    def write(self, ids: Sequence[str], images: Sequence[str], outputs: np.ndarray) -> None:
        """Write one row per galaxy (see :func:`prediction_rows`), then flush."""
        if self._writer is None:
            raise RuntimeError("PredictionWriter used outside 'with'")
        self._writer.writerows(prediction_rows(ids, images, outputs, self.learned))
        self._fh.flush()

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = self._writer = None


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """A predictions CSV as a DataFrame: ``ID``, ``IMAGE``, ``TOP_ANSWER`` as text, the numbers as float (NaN = blank).

    Files of the earlier fractions-only format read too (without the later columns).
    """
    numbers = VOTE_COLUMNS + (TOP_P,) + SD_COLUMNS
    dtypes = {"ID": "string", "IMAGE": "string", TOP_ANSWER: "string", **{c: "float64" for c in numbers}}
    return pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={c: [""] for c in numbers})


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


def predictions_csv_bytes(ids: Sequence[str], images: Sequence[str], outputs: np.ndarray,
                          learned: np.ndarray | None = None) -> bytes:
    """The same CSV as :class:`PredictionWriter` writes, in memory (for a download button)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PREDICTION_HEADER)
    writer.writerows(prediction_rows(ids, images, outputs, learned))
    return buf.getvalue().encode("utf-8")


def append_prediction(out_csv: str | os.PathLike, galaxy_id: str, image_name: str, outputs: np.ndarray,
                      learned: np.ndarray | None = None) -> None:
    """Append one row (ID, image name, outputs as :func:`prediction_rows`) to ``out_csv``, creating it with a header."""
    with PredictionWriter(out_csv, learned) as writer:
        writer.write([galaxy_id], [image_name], np.asarray(outputs).reshape(1, -1))


def largest_difference(left: pd.DataFrame, right: pd.DataFrame) -> float:
    """Largest |left - right| over the number columns of two predictions tables (read_predictions) with the
    same rows; blank on both sides counts as equal. inf when the IDs, their order or a TOP_ANSWER differ, or
    a value is blank on one side only."""
    if list(left["ID"]) != list(right["ID"]) or list(left.columns) != list(right.columns):
        return float("inf")
    if TOP_ANSWER in left.columns and list(left[TOP_ANSWER]) != list(right[TOP_ANSWER]):
        return float("inf")
    numbers = [c for c in left.columns if c not in ("ID", "IMAGE", TOP_ANSWER)]
    a, b = left[numbers].to_numpy(dtype=float), right[numbers].to_numpy(dtype=float)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")
    return float(np.nan_to_num(np.abs(a - b), nan=0.0).max()) if a.size else 0.0
