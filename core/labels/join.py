"""Join a label table to an image folder by ID and say what is missing on either side.

Images are matched by file stem: ``<OBJID>.jpg`` for catalogue rows, or the
``FILE`` column's name for file-keyed tables (the spin-labelled cutouts named
``ra..._dec....jpg``, whose stem is their *image ID*). Suffixes .jpg, .jpeg
and .png are looked at. Nothing fails on the first gap: labelled rows without
an image and images without a label are counted and listed
(:meth:`JoinResult.missing_csv` gives a downloadable list).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.csv_safety import safe_frame
from core.images.folder import index_images
from core.labels.targets import LabelTable, read_labels


@dataclass
class JoinResult:
    """Rows of ``labels`` that have an image (``files`` aligned with ``labels``), plus what is missing.

    ``missing_images``: IDs with a label but no image file; ``unlabelled_images``:
    image files whose stem matches no label; ``unreadable_images``: (file name, reason)
    of matched images that could not be decoded and were left out (see :meth:`without`).
    """

    labels: LabelTable
    files: list[Path]
    images_dir: Path
    missing_images: list[str]
    unlabelled_images: list[str]
    unreadable_images: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.files)

    def summary(self) -> dict:
        return {
            "labels_source": self.labels.source,
            "labels_form": self.labels.form,
            "class_column": self.labels.class_column,
            "id_kind": self.labels.id_kind,
            "images_dir": str(self.images_dir),
            "matched": len(self.files),
            "label_kinds": self.labels.counts(),
            "labels_without_image": len(self.missing_images),
            "images_without_label": len(self.unlabelled_images),
            "label_rows_dropped": int(len(self.labels.dropped)),
            "unreadable_images": len(self.unreadable_images),
            "unreadable_files": [name for name, _ in self.unreadable_images],
        }

    def without(self, bad: dict[int, str]) -> JoinResult:
        """This join minus the matched rows in ``bad`` (row index -> reason the image is unreadable)."""
        keep = np.asarray([i for i in range(len(self.files)) if i not in bad], dtype=int)
        unreadable = self.unreadable_images + [(self.files[i].name, reason) for i, reason in sorted(bad.items())]
        return JoinResult(labels=self.labels.subset(keep), files=[self.files[i] for i in keep],
                          images_dir=self.images_dir, missing_images=self.missing_images,
                          unlabelled_images=self.unlabelled_images, unreadable_images=unreadable)

    def missing_frame(self) -> pd.DataFrame:
        """One row per gap: ``ID``/``FILE`` and ``PROBLEM`` (label without image, image without label, bad row)."""
        kind = self.labels.id_kind
        parts = [
            pd.DataFrame({"ID": self.missing_images, "FILE": "", "PROBLEM": f"{kind} has a label but no image"}),
            pd.DataFrame({"ID": [Path(f).stem for f in self.unlabelled_images], "FILE": self.unlabelled_images,
                          "PROBLEM": "image has no label"}),
        ]
        if self.unreadable_images:
            parts.append(pd.DataFrame({"ID": [Path(n).stem for n, _ in self.unreadable_images],
                                       "FILE": [n for n, _ in self.unreadable_images],
                                       "PROBLEM": ["image unreadable, skipped: " + r for _, r in self.unreadable_images]}))
        if len(self.labels.dropped):
            d = self.labels.dropped
            parts.append(pd.DataFrame({"ID": d["ID"].astype(str), "FILE": "",
                                       "PROBLEM": "label row " + d["ROW"].astype(str) + ": " + d["PROBLEM"]}))
        return pd.concat(parts, ignore_index=True)

    def missing_csv(self) -> bytes:
        return safe_frame(self.missing_frame()).to_csv(index=False).encode()

    def data_hash(self) -> str:
        """SHA-256 (first 16 hex) of matched IDs, targets and image names + byte sizes: what was trained on."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(np.nan_to_num(self.labels.targets, nan=-1.0)).tobytes())
        for i, f in zip(self.labels.ids, self.files, strict=False):
            h.update(f"{i}|{f.name}|{f.stat().st_size}\n".encode())
        return h.hexdigest()[:16]


def join_labels_images(labels: LabelTable, images_dir: str | Path) -> JoinResult:
    """Rows of ``labels`` whose image exists in ``images_dir``; gaps on both sides are reported, not raised."""
    images_dir = Path(images_dir)
    index = index_images(images_dir)
    keep, files, missing = [], [], []
    for i, (row_id, fname) in enumerate(zip(labels.ids, labels.files, strict=False)):
        stem = Path(fname).stem if fname else row_id
        path = index.get(stem)
        if path is None:
            missing.append(row_id)
        else:
            keep.append(i)
            files.append(path)
    used = {p.stem for p in files}
    unlabelled = sorted(p.name for stem, p in index.items() if stem not in used)
    return JoinResult(labels=labels.subset(np.asarray(keep, dtype=int)), files=files, images_dir=images_dir,
                      missing_images=missing, unlabelled_images=unlabelled)


def load_labelled_set(catalog: str | Path, images_dir: str | Path) -> JoinResult:
    """:func:`core.labels.targets.read_labels` of ``catalog`` joined to ``images_dir``."""
    return join_labels_images(read_labels(catalog), images_dir)
