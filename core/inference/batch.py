"""Predictions for many galaxies at once, streamed to a CSV file as they are made.

A :class:`GalaxySet` is a list of galaxies with an image each, and the human
labels where known: a catalogue joined to an image folder (the join is
:mod:`core.training.dataset`'s, the one training uses), a bare image folder, or one of
the built-in demo sets. :func:`predict_set` runs a :class:`core.inference.predict.LoadedModel`
over it in chunks; every image goes through :func:`core.images.reading.open_image`
(an image that cannot be used is listed, not fatal), and each chunk's rows are
appended to the output CSV and flushed, so a killed run keeps what it did and
a rerun skips the IDs already written.

Output CSV (also the single-image CLI format, compatible with the original
tool's ``ID, image, fractions`` rows): header ``ID,IMAGE`` + the nine
``VOTE_COLUMNS`` in Table-2 order; ``ID`` is the OBJID (or image ID) exactly
as given, as text (an 18-digit OBJID never passes through a float); values
are fractions of votes written as the shortest decimal that reads back to the
same float32.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.images.reading import ImageInputError, find_images, open_image
from core.schema import RAW_COLUMNS, VOTE_COLUMNS

#: Header of every predictions CSV.
PREDICTION_HEADER: tuple[str, ...] = ("ID", "IMAGE") + VOTE_COLUMNS

#: Images decoded and predicted per chunk (one CSV flush per chunk).
DEFAULT_CHUNK = 256

_N_RAW = len(RAW_COLUMNS)


class PredictionsFileError(ValueError):
    """An existing output CSV that is not a predictions file of this format; the message names it."""


def format_fraction(value: float) -> str:
    """Shortest decimal text that reads back to the same float32 (e.g. ``0.12345679``)."""
    v = np.float32(value)
    if not np.isfinite(v):
        return ""
    return np.format_float_positional(v, unique=True, trim="0")


# --------------------------------------------------------------------------- CSV output


def _check_existing(path: Path) -> None:
    """Refuse a file with another header; drop an unfinished last line left by a killed run."""
    with open(path, "rb") as fh:
        first = fh.readline()
        header = first.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
        if header.split(",") != list(PREDICTION_HEADER):
            raise PredictionsFileError(
                f"{path}: exists but is not a predictions file (first line {header[:80]!r}; expected "
                f"{','.join(PREDICTION_HEADER)}); choose another --out"
            )
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
    cut = data.rfind(b"\n") + 1
    with open(path, "r+b") as fh:
        fh.truncate(cut)


class PredictionWriter:
    """Append prediction rows to a CSV: header once (new or empty file), rows flushed per call.

    Use as a context manager. An existing file must have :data:`PREDICTION_HEADER`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
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
        """Write one row per galaxy: ID (text, unchanged), image file name, nine fractions; then flush."""
        if self._writer is None:
            raise RuntimeError("PredictionWriter used outside 'with'")
        fractions = np.asarray(fractions)
        rows = [[str(i), str(n), *(format_fraction(v) for v in row)] for i, n, row in zip(ids, images, fractions, strict=False)]
        self._writer.writerows(rows)
        self._fh.flush()

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = self._writer = None


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """A predictions CSV as a DataFrame: ``ID`` and ``IMAGE`` as text, the nine columns as float."""
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


def predictions_csv_bytes(ids: Sequence[str], images: Sequence[str], fractions: np.ndarray) -> bytes:
    """The same CSV as :class:`PredictionWriter` writes, in memory (for a download button)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PREDICTION_HEADER)
    for i, n, row in zip(ids, images, np.asarray(fractions), strict=False):
        writer.writerow([str(i), str(n), *(format_fraction(v) for v in row)])
    return buf.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- galaxy sets


@dataclass
class GalaxySet:
    """Galaxies with one image each and their human labels where known.

    ``ids`` (OBJID or image ID, text), ``files`` (image paths), ``targets`` (N, 9)
    human vote fractions in VOTE_COLUMNS order, NaN where unknown (all NaN for an
    unlabelled set), ``class_derived`` (N,) True where the human side is a one-hot
    class rather than a vote fraction. ``missing`` lists IDs without an image.
    """

    name: str
    ids: list[str]
    files: list[Path]
    targets: np.ndarray
    class_derived: np.ndarray
    id_kind: str = "OBJID"
    missing: list[str] = field(default_factory=list)
    unlabelled_images: list[str] = field(default_factory=list)
    note: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_labels(self) -> bool:
        return bool(len(self.targets)) and not np.isnan(self.targets).all()

    def head(self, n: int) -> GalaxySet:
        """The first ``n`` galaxies (same order)."""
        return self.subset(np.arange(min(n, len(self))))

    def subset(self, index: np.ndarray) -> GalaxySet:
        """The galaxies at ``index`` (positions or a boolean mask), in that order."""
        idx = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index, dtype=int)
        return GalaxySet(self.name, [self.ids[i] for i in idx], [self.files[i] for i in idx], self.targets[idx],
                         self.class_derived[idx], self.id_kind, self.missing, self.unlabelled_images, self.note)

    def label_kind(self) -> np.ndarray:
        """Per galaxy: "vote fractions", "partial vote fractions", "class-derived" or "none"."""
        known = ~np.isnan(self.targets)
        full = known[:, :_N_RAW].all(axis=1)
        return np.where(self.class_derived, "class-derived",
                        np.where(full, "vote fractions", np.where(known.any(axis=1), "partial vote fractions",
                                                                  "none")))


def _unlabelled(name: str, ids: list[str], files: list[Path], id_kind: str = "OBJID", **kw) -> GalaxySet:
    n = len(ids)
    return GalaxySet(name, ids, files, np.full((n, len(VOTE_COLUMNS)), np.nan), np.zeros(n, dtype=bool),
                     id_kind, **kw)


def set_from_folder(folder: str | os.PathLike, name: str | None = None) -> GalaxySet:
    """Every JPEG/PNG (by suffix) in ``folder``; the ID is the file stem; no labels."""
    files = find_images(folder)
    return _unlabelled(name or Path(folder).name, [f.stem for f in files], files, id_kind="file stem")


def _id_column(columns: Iterable[str]) -> str | None:
    for col in columns:
        c = str(col).strip().upper()
        if c.startswith("GZ1_"):
            c = c[4:]
        if c in ("OBJID", "OBJ_ID", "DR7OBJID", "ID"):
            return col
    return None


def _has_label_columns(columns: Iterable[str]) -> bool:
    names = {str(c).strip().upper().removeprefix("GZ1_") for c in columns}
    return bool(names & (set(VOTE_COLUMNS) | {"CLASS_NAME", "CLASS"}))


def set_from_labels(labels, images_dir: str | os.PathLike, name: str) -> GalaxySet:
    """A :class:`core.training.targets.LabelTable` joined to ``images_dir`` with core.training.dataset's join."""
    from core.training.dataset import join_labels_images

    join = join_labels_images(labels, images_dir)
    lab = join.labels
    return GalaxySet(name, [str(i) for i in lab.ids], list(join.files), np.asarray(lab.targets, dtype=float),
                     np.asarray(lab.class_derived, dtype=bool), lab.id_kind, list(join.missing_images),
                     list(join.unlabelled_images))


def set_from_table(table: pd.DataFrame, images_dir: str | os.PathLike, name: str = "catalogue") -> GalaxySet:
    """A catalogue table (e.g. ``CatalogResult.table``) joined to ``images_dir`` by ``<OBJID>.<jpg|png>``.

    Vote-fraction or class columns present in the table become the human labels;
    a table with IDs only (an ``OBJID,RA,DEC`` list) gives an unlabelled set.
    """
    from core.training.dataset import index_images

    col = _id_column(table.columns)
    if col is None:
        raise ValueError(f"{name}: no OBJID column to join images by (columns: {', '.join(map(str, table.columns))})")
    index = index_images(images_dir)
    id_text = table[col].astype(str).str.strip()
    if _has_label_columns(table.columns):
        from core.training.targets import LabelError, labels_from_frame

        # Only rows with an image matter: the full Table 2 has 667,944 rows, a folder far fewer.
        with_image = table[id_text.isin(index.keys()).to_numpy()]
        text = with_image.astype(str).replace({"nan": "", "<NA>": "", "None": ""})
        try:
            gset = set_from_labels(labels_from_frame(text, name), images_dir, name)
            gset.missing = [i for i in dict.fromkeys(id_text) if i and i not in index]
            return gset
        except LabelError:
            pass  # no row with an image has a usable label: predict without labels
    ids = list(dict.fromkeys(s for s in id_text if s))
    have = [i for i in ids if i in index]
    used = set(have)
    return _unlabelled(name, have, [index[i] for i in have], missing=[i for i in ids if i not in index],
                       unlabelled_images=sorted(p.name for s, p in index.items() if s not in used))


def set_from_catalog_file(catalog: str | os.PathLike, images_dir: str | os.PathLike) -> GalaxySet:
    """A catalogue/label CSV joined to ``images_dir``: labelled via core.training.targets, else IDs only."""
    from core.training.targets import LabelError, read_labels

    catalog = Path(catalog)
    if not catalog.exists():
        raise FileNotFoundError(f"catalogue {catalog} does not exist")
    try:
        return set_from_labels(read_labels(catalog), images_dir, catalog.name)
    except LabelError:
        table = pd.read_csv(catalog, dtype=str, keep_default_na=False, compression="infer")
        return set_from_table(table, images_dir, catalog.name)


def demo_sets(demo_dir: str | os.PathLike | None = None) -> list[GalaxySet]:
    """The built-in demo sets: each folder under ``settings.demo_dir`` holding a ``labels.csv``,
    with its images in an ``images/`` subfolder or beside the labels. Returns [] when absent.
    """
    from core.config import get_settings

    root = Path(demo_dir) if demo_dir is not None else get_settings().demo_dir
    out = []
    if not root.is_dir():
        return out
    candidates = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    for folder in candidates:
        labels = folder / "labels.csv"
        images = folder / "images" if (folder / "images").is_dir() else folder
        if labels.is_file():
            name = "demo" if folder == root else f"demo: {folder.name}"
            out.append(set_from_catalog_file(labels, images))
            out[-1].name = name
    return out


def combine_sets(sets: Sequence[GalaxySet], name: str) -> GalaxySet:
    """One set holding the galaxies of several (IDs assumed distinct across them)."""
    if len(sets) == 1:
        s = sets[0]
        return GalaxySet(name, s.ids, s.files, s.targets, s.class_derived, s.id_kind, s.missing,
                         s.unlabelled_images, s.note)
    kinds = {s.id_kind for s in sets}
    return GalaxySet(
        name,
        [i for s in sets for i in s.ids],
        [f for s in sets for f in s.files],
        np.concatenate([s.targets for s in sets]) if sets else np.zeros((0, len(VOTE_COLUMNS))),
        np.concatenate([s.class_derived for s in sets]) if sets else np.zeros(0, dtype=bool),
        kinds.pop() if len(kinds) == 1 else "ID",
        [m for s in sets for m in s.missing],
        [u for s in sets for u in s.unlabelled_images],
    )


# --------------------------------------------------------------------------- prediction


@dataclass
class SetPrediction:
    """Fractions (N, 9) aligned with the set (NaN rows for images that could not be used) and the failures."""

    fractions: np.ndarray
    failed: list[tuple[str, str]]  # (ID, message naming the file)
    skipped: int = 0               # IDs already present in the output CSV

    @property
    def ok(self) -> np.ndarray:
        return ~np.isnan(self.fractions).any(axis=1)


def predict_set(
    model,
    gset: GalaxySet,
    *,
    tta: bool = False,
    out_csv: str | os.PathLike | None = None,
    batch_size: int = 64,
    chunk: int = DEFAULT_CHUNK,
    crop_fraction: float | None = None,
    progress: bool | Callable[[int, int], None] = False,
) -> SetPrediction:
    """Predict every galaxy of ``gset`` with ``model`` (a core.inference.predict.LoadedModel).

    ``out_csv``: stream rows there (header once; rows appended and flushed per
    chunk; IDs already in the file are skipped and counted). ``crop_fraction``:
    centre crop (fraction of the shorter side) for every image; None = the crop
    the run was trained with for that image folder, else the run's default
    (:func:`core.inference.predict.crop_for_images`, as ``python -m core evaluate`` does).
    ``progress``: True for a tqdm bar on stderr, or a callable ``(done, total)``.
    """
    n = len(gset)
    fractions = np.full((n, len(VOTE_COLUMNS)), np.nan, dtype=np.float32)
    failed: list[tuple[str, str]] = []
    todo = np.arange(n)
    skipped = 0
    if out_csv is not None:
        done_ids = existing_ids(out_csv)
        if done_ids:
            keep = np.array([i not in done_ids for i in gset.ids], dtype=bool)
            skipped = int((~keep).sum())
            todo = todo[keep]
    folder_crops: dict[Path, float] = {}

    def crop_of(folder: Path) -> float:
        if crop_fraction is not None:
            return float(crop_fraction)
        if folder not in folder_crops:
            from core.inference.predict import crop_for_images

            folder_crops[folder] = crop_for_images(model, folder)
        return folder_crops[folder]

    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="img", desc=f"predict {gset.name}")
    writer = PredictionWriter(out_csv) if out_csv is not None else None
    try:
        if writer is not None:
            writer.__enter__()
        done = 0
        for start in range(0, len(todo), chunk):
            idx = todo[start:start + chunk]
            images, good = [], []
            for i in idx:
                try:
                    images.append(open_image(gset.files[i]))
                    good.append(i)
                except ImageInputError as exc:
                    failed.append((gset.ids[i], str(exc)))
            if images:
                crops = np.array([crop_of(gset.files[i].parent) for i in good])
                pred = np.empty((len(good), len(VOTE_COLUMNS)), dtype=np.float32)
                for crop in np.unique(crops):
                    sel = np.flatnonzero(crops == crop)
                    pred[sel] = model.predict([images[k] for k in sel], tta=tta, batch_size=batch_size,
                                              crop_fraction=float(crop))
                fractions[good] = pred
                if writer is not None:
                    writer.write([gset.ids[i] for i in good], [gset.files[i].name for i in good], pred)
            done += len(idx)
            if bar is not None:
                bar.update(len(idx))
            elif callable(progress):
                progress(done, len(todo))
    finally:
        if writer is not None:
            writer.__exit__(None, None, None)
        if bar is not None:
            bar.close()
    return SetPrediction(fractions, failed, skipped)


def predict_one(model, image_source, name: str | None = None, *, tta: bool = False,
                crop_fraction: float | None = None) -> np.ndarray:
    """Nine fractions (VOTE_COLUMNS order) for one image path, bytes or upload; the page/CLI path.

    Crop as in :func:`predict_set`: for a path with ``crop_fraction=None``, the crop the
    run used for that folder; for bytes/uploads, the run's default crop.
    """
    if crop_fraction is None and isinstance(image_source, (str, os.PathLike)):
        from core.inference.predict import crop_for_images

        crop_fraction = crop_for_images(model, Path(image_source).parent)
    return model.predict([open_image(image_source, name)], tta=tta, crop_fraction=crop_fraction)[0]


def append_prediction(out_csv: str | os.PathLike, galaxy_id: str, image_name: str, fractions: np.ndarray) -> None:
    """Append one row (ID, image name, nine fractions) to ``out_csv``, creating it with a header."""
    with PredictionWriter(out_csv) as writer:
        writer.write([galaxy_id], [image_name], np.asarray(fractions).reshape(1, -1))
