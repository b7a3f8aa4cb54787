"""What an image folder is: which files count as images, how an OBJID becomes a path, and back.

The one place that knows image suffixes, the JPEG/PNG magic bytes and the
``<OBJID>.jpg`` naming. Downloads, imports, the checker, training and prediction
all list folders through these functions.

* :func:`list_cutouts` — the ``<OBJID>.jpg`` files a download or import made
  (job files, temporary ``.part`` files and other names excluded);
* :func:`list_image_files` — every ``.jpg``/``.jpeg``/``.png`` file (any name),
  for folders of user images; the content is still checked when it is read;
* :func:`index_images` — the same files keyed by file stem (the image's ID).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: File-name suffixes looked at when scanning a folder (lower case; the content is still checked).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: First bytes of every JPEG (SOI marker plus the first marker's FF).
JPEG_MAGIC = b"\xff\xd8\xff"
#: JPEG end-of-image marker.
JPEG_EOI = b"\xff\xd9"
#: The 8-byte PNG signature.
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_OBJID_RE = re.compile(r"[0-9]{1,20}")
_CUTOUT_RE = re.compile(r"([0-9]{1,20})\.jpg")


class InvalidObjid(ValueError):
    """An OBJID that cannot safely become a file name (it must be 1-20 digits)."""


def safe_objid(value: object) -> str:
    """Return ``value`` as a string of 1-20 ASCII digits, or raise :class:`InvalidObjid`."""
    text = str(value).strip()
    if not _OBJID_RE.fullmatch(text):
        raise InvalidObjid(f"OBJID {str(value)[:60]!r} is not 1-20 digits; refused as a file name")
    return text


def image_path(folder: str | os.PathLike, objid: object) -> Path:
    """``<folder>/<OBJID>.jpg`` for a digits-only OBJID (raises :class:`InvalidObjid` otherwise)."""
    return Path(folder) / f"{safe_objid(objid)}.jpg"


def objid_of(path: str | os.PathLike) -> str | None:
    """The OBJID of a ``<OBJID>.jpg`` cutout file name, else None."""
    match = _CUTOUT_RE.fullmatch(Path(path).name)
    return match.group(1) if match else None


def sniff_format(head: bytes) -> str | None:
    """Return "JPEG" or "PNG" from a file's first bytes, or None for anything else."""
    if head.startswith(JPEG_MAGIC):
        return "JPEG"
    if head.startswith(PNG_MAGIC):
        return "PNG"
    return None


def list_cutouts(folder: str | os.PathLike) -> list[Path]:
    """The ``<OBJID>.jpg`` files of an image folder, sorted by name; [] if the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _CUTOUT_RE.fullmatch(p.name) and p.is_file())


def list_image_files(folder: str | os.PathLike) -> list[Path]:
    """Image files (by suffix, any name) directly inside ``folder``, sorted by name.

    Raises FileNotFoundError when ``folder`` is not a folder. Hidden files (temporary
    ``.part`` files of a running download) are left out.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    return sorted(p for p in root.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())


def index_images(folder: str | os.PathLike) -> dict[str, Path]:
    """Map file stem -> path for :func:`list_image_files` (sorted by name, so ``.jpeg`` beats ``.jpg``
    and ``.png`` for the same stem; raises FileNotFoundError when ``folder`` is not a folder)."""
    out: dict[str, Path] = {}
    for path in list_image_files(folder):
        out.setdefault(path.stem, path)
    return out
