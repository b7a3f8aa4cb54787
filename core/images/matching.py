"""How many images of a folder belong to a catalogue, and in plain words why none do.

The built-in data: ``<data_dir>/sample/mapped`` holds GZ1 images of galaxies whose sky position is
published (``catalog.csv`` = OBJID, RA, DEC in degrees); that catalogue and those images are the
same galaxies. The 695-row built-in sample has images for only one of its galaxies.

API::

    match = match_images(ids, folder)   # ImageMatch: images in the folder, ids matched, examples
    match.explanation()                 # "" when some match; else why none do and what would
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.config import get_settings
from core.images.folder import list_image_files

#: Folder (under ``<data_dir>/sample``) of the built-in images that the built-in mapped catalogue describes.
MAPPED_NAME = "mapped"
MAPPED_CATALOG = "catalog.csv"


def mapped_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The built-in images whose galaxies are the built-in mapped catalogue's."""
    return Path(data_dir if data_dir is not None else get_settings().data_dir) / "sample" / MAPPED_NAME


def mapped_catalog(data_dir: str | os.PathLike | None = None) -> Path:
    """The built-in catalogue (OBJID, RA, DEC) of the images in :func:`mapped_dir`."""
    return mapped_dir(data_dir) / MAPPED_CATALOG


def _mapped_ids(data_dir: str | os.PathLike | None) -> set[str]:
    try:
        with open(mapped_catalog(data_dir), newline="", encoding="utf-8") as fh:
            return {row["OBJID"].strip() for row in csv.DictReader(fh) if row.get("OBJID")}
    except (OSError, KeyError, csv.Error):
        return set()


@dataclass(frozen=True)
class ImageMatch:
    """A catalogue's IDs against an image folder's file stems (``<ID>.jpg|.jpeg|.png``)."""

    folder: Path
    n_ids: int          # distinct catalogue IDs
    n_images: int       # image files in the folder (0 when it does not exist)
    n_matched: int      # catalogue IDs with an image
    folder_exists: bool
    example_image: str | None   # a file name in the folder, for the explanation
    example_id: str | None      # a catalogue ID, for the explanation
    n_mapped: int       # folder images that are galaxies of the built-in mapped catalogue

    def explanation(self) -> str:
        """Why no catalogue galaxy has an image, and what to do; "" when some do."""
        if self.n_matched:
            return ""
        load = (" The built-in images (Images page: import the built-in images) match the built-in "
                "catalogue \"galaxies with images\" (Catalog page: use the built-in galaxies with images).")
        if not self.folder_exists:
            return f"The image folder {self.folder} does not exist yet.{load}"
        if self.n_images == 0:
            return f"The image folder {self.folder} holds no images yet.{load}"
        imgs = f"{self.n_images:,} image{'s' if self.n_images != 1 else ''}"
        why = (f"The folder holds {imgs}, none named after an OBJID of this catalogue "
               f"(e.g. {self.example_image}")
        why += f"; this catalogue's IDs look like {self.example_id})." if self.example_id else ")."
        if self.n_mapped:
            return (why + f" {self.n_mapped:,} of them are galaxies of the built-in catalogue \"galaxies with "
                    "images\": load it on the Catalog page (use the built-in galaxies with images).")
        return why + load


def match_images(ids: Iterable[object], folder: str | os.PathLike,
                 data_dir: str | os.PathLike | None = None) -> ImageMatch:
    """Count the images of ``folder`` and the catalogue ``ids`` (OBJIDs or image IDs) that have one."""
    wanted = {str(i).strip() for i in ids if str(i).strip()}
    root = Path(folder)
    try:
        files = list_image_files(root)
        exists = True
    except FileNotFoundError:
        files, exists = [], False
    stems = {p.stem for p in files}
    mapped = _mapped_ids(data_dir) if files else set()
    return ImageMatch(
        folder=root, n_ids=len(wanted), n_images=len(files), n_matched=len(wanted & stems),
        folder_exists=exists, example_image=files[0].name if files else None,
        example_id=min(wanted) if wanted else None, n_mapped=len(stems & mapped),
    )
