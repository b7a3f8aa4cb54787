"""Galaxy sets: galaxies with one image each and their human labels where known.

A :class:`GalaxySet` comes from a catalogue joined to an image folder (the join is
:mod:`core.labels.join`'s, the one training uses), a bare image folder, or one of
the built-in demo sets. Prediction over a set is :mod:`core.inference.batch`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import get_settings
from core.images.folder import index_images, list_image_files
from core.labels.join import join_labels_images
from core.labels.targets import LabelError, labels_from_frame, read_labels
from core.schema import RAW_INDEX, VOTE_COLUMNS, IdKind, LabelKind, canonical_column, find_objid_column


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
    id_kind: str = IdKind.OBJID
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
        return replace(self, ids=[self.ids[i] for i in idx], files=[self.files[i] for i in idx],
                       targets=self.targets[idx], class_derived=self.class_derived[idx])

    def label_kind(self) -> np.ndarray:
        """Per galaxy, a :class:`core.schema.LabelKind` value (vote fractions, partial, class-derived, none)."""
        known = ~np.isnan(self.targets)
        full = known[:, list(RAW_INDEX)].all(axis=1)
        partial = np.where(known.any(axis=1), LabelKind.PARTIAL.value, LabelKind.NONE.value)
        return np.where(self.class_derived, LabelKind.CLASS.value,
                        np.where(full, LabelKind.VOTES.value, partial))


def _unlabelled(name: str, ids: list[str], files: list[Path], id_kind: str = IdKind.OBJID, **kw) -> GalaxySet:
    n = len(ids)
    return GalaxySet(name, ids, files, np.full((n, len(VOTE_COLUMNS)), np.nan), np.zeros(n, dtype=bool),
                     id_kind, **kw)


def set_from_folder(folder: str | os.PathLike, name: str | None = None) -> GalaxySet:
    """Every JPEG/PNG (by suffix) in ``folder``; the ID is the file stem; no labels."""
    files = list_image_files(folder)
    return _unlabelled(name or Path(folder).name, [f.stem for f in files], files, id_kind=IdKind.FILE_STEM)


def _has_label_columns(columns: Iterable[str]) -> bool:
    names = {canonical_column(c) for c in columns}
    return bool(names & (set(VOTE_COLUMNS) | {"CLASS_NAME", "CLASS"}))


def set_from_labels(labels, images_dir: str | os.PathLike, name: str) -> GalaxySet:
    """A :class:`core.labels.targets.LabelTable` joined to ``images_dir`` with core.labels.join's join."""
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
    col = find_objid_column(table.columns, extra=("ID",))
    if col is None:
        raise ValueError(f"{name}: no OBJID column to join images by (columns: {', '.join(map(str, table.columns))})")
    index = index_images(images_dir)
    id_text = table[col].astype(str).str.strip()
    if _has_label_columns(table.columns):
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
    """A catalogue/label CSV joined to ``images_dir``: labelled via core.labels.targets, else IDs only."""
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
        return replace(sets[0], name=name)
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

