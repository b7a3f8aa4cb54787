"""Bring cutouts the user already has into an image folder: from a folder or a zip of ``<OBJID>.jpg``.

Each image is checked exactly like a download (:mod:`core.images.check`) and
written atomically as ``<OBJID>.jpg``, its pixels upright: a JPEG with an EXIF
orientation is stored turned as a browser shows it (:func:`core.images.reading.upright_jpeg_bytes`),
so training and every later reader see what the visitor saw. Only the base name of a zip member is
used, and members with absolute paths, ``..`` parts or symlinks are refused, so
an archive cannot write outside the folder ("zip slip"). Zip bombs are refused
from the archive's directory before anything is inflated (declared sizes and
compression ratios), and no member is read past its declared size.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core import jobs
from core.atomic import write_bytes_atomic
from core.images.check import MAX_IMAGE_BYTES, InvalidImage, check_jpeg_bytes, is_valid_file
from core.images.download_job import JOB_CATALOG_NAME
from core.images.failures import FAILURES_NAME
from core.images.folder import image_path
from core.images.imageset import IMAGESET_NAME
from core.images.matching import MAPPED_CATALOG
from core.images.reading import upright_jpeg_bytes

_NAME_RE = re.compile(r"([0-9]{1,20})\.jpe?g", re.IGNORECASE)
#: Default limits for one import (bytes after decompression, number of members).
MAX_TOTAL_BYTES = 2 * 1024 ** 3
MAX_MEMBERS = 200_000
#: Largest accepted ratio of a member's declared size to its compressed size. JPEGs hardly
#: compress (about 1:1); the members of a zip bomb reach 1000:1.
MAX_RATIO = 20
#: An image folder's own description files (catalogue, labels, imageset.json, job files): skipped
#: without being reported as ignored, since they are not images that failed to match.
METADATA_NAMES = frozenset({MAPPED_CATALOG, "labels.csv", IMAGESET_NAME, JOB_CATALOG_NAME, FAILURES_NAME,
                            jobs.STATE_NAME, jobs.LOCK_NAME, jobs.LOG_NAME})


@dataclass
class ImportReport:
    """What an import did: OBJIDs imported or already present, files refused (name, reason), others ignored."""

    imported: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def summary(self, names: int = 5) -> str:
        """Counts in words; the ignored files are named (the first ``names`` of them) with the reason."""
        text = (f"{len(self.imported)} imported, {len(self.already_present)} already present, "
                f"{len(self.rejected)} rejected, {len(self.ignored)} other files ignored")
        if self.ignored:
            more = len(self.ignored) - names
            text += (f" (not named <OBJID>.jpg: {', '.join(self.ignored[:names])}"
                     + (f" and {more} more)" if more > 0 else ")"))
        return text


def objid_from_name(name: str) -> str | None:
    """OBJID of a file named ``<digits>.jpg`` / ``.jpeg`` (any case), else None."""
    match = _NAME_RE.fullmatch(name)
    return match.group(1) if match else None


def _store(objid: str, data: bytes, name: str, dest: Path, report: ImportReport,
           expected_size: tuple[int, int] | None, overwrite: bool, seen: set[str]) -> None:
    if objid in seen:
        report.rejected.append((name, f"duplicate OBJID {objid} in this import"))
        return
    seen.add(objid)
    try:
        turned = upright_jpeg_bytes(data)
        # The file as sent must be complete and not blank; the size asked for is that of the upright image.
        check_jpeg_bytes(data, expected_size if turned is data else None)
        if turned is not data:
            check_jpeg_bytes(turned, expected_size)
            data = turned
    except InvalidImage as exc:
        report.rejected.append((name, exc.reason))
        return
    target = image_path(dest, objid)
    if not overwrite and target.exists() and is_valid_file(target):
        report.already_present.append(objid)
        return
    write_bytes_atomic(target, data)
    report.imported.append(objid)


def import_folder(source: Path, dest: Path, expected_size: tuple[int, int] | None = None,
                  overwrite: bool = False) -> ImportReport:
    """Copy valid ``<OBJID>.jpg`` files from ``source`` (not its subfolders) into ``dest``.

    ``expected_size`` is (width, height) in pixels, or None to accept any size.
    Raises FileNotFoundError if ``source`` is not a folder and
    :class:`core.jobs.JobBusy` while a job runs in ``dest``.
    """
    source, dest = Path(source).expanduser(), Path(dest)
    if not source.is_dir():
        raise FileNotFoundError(f"not a folder: {source}")
    dest.mkdir(parents=True, exist_ok=True)
    report, seen = ImportReport(), set()
    same_folder = source.resolve() == dest.resolve()
    with jobs.JobLock(dest):
        for path in sorted(source.iterdir()):
            if not path.is_file():
                continue
            objid = objid_from_name(path.name)
            if objid is None:
                if path.name not in METADATA_NAMES:
                    report.ignored.append(path.name)
                continue
            if same_folder and path.name == f"{objid}.jpg":
                report.already_present.append(objid)
                continue
            try:
                if path.stat().st_size > MAX_IMAGE_BYTES:
                    report.rejected.append((path.name, f"larger than {MAX_IMAGE_BYTES // 1024 ** 2} MB"))
                    continue
                data = path.read_bytes()
            except OSError as exc:
                report.rejected.append((path.name, f"cannot read: {exc.strerror or exc}"))
                continue
            _store(objid, data, path.name, dest, report, expected_size, overwrite, seen)
    return report


def _unsafe_member(info: zipfile.ZipInfo) -> str | None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        return "unsafe path in archive (absolute or with ..)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link in archive"
    if info.flag_bits & 0x1:
        return "encrypted member"
    return None


def _planned_members(zf: zipfile.ZipFile, report: ImportReport, max_total_bytes: int,
                     max_members: int) -> list[tuple[zipfile.ZipInfo, str]]:
    """Members worth extracting, decided from the archive's directory alone (nothing is inflated).

    Raises ValueError for too many members or too many declared bytes; members that
    declare more than MAX_IMAGE_BYTES or compress more than MAX_RATIO:1 are refused.
    """
    members = zf.infolist()
    if len(members) > max_members:
        raise ValueError(f"archive has {len(members)} members, more than the limit of {max_members}")
    declared = sum(info.file_size for info in members if not info.is_dir())
    if declared > max_total_bytes:
        raise ValueError(f"archive expands to more than {max_total_bytes / 1e6:.1f} MB ({declared:,} bytes "
                         "declared); nothing was extracted")
    planned = []
    for info in members:
        base = PurePosixPath(info.filename.replace("\\", "/")).name
        if info.is_dir() or base.startswith("._") or "__MACOSX" in info.filename:
            continue  # folders and macOS resource forks, not images
        problem = _unsafe_member(info)
        objid = objid_from_name(base)
        ratio = info.file_size / max(1, info.compress_size)
        if problem is None and objid is not None and info.file_size > MAX_IMAGE_BYTES:
            problem = f"declares {info.file_size / 1e6:.0f} MB, larger than {MAX_IMAGE_BYTES // 1024 ** 2} MB"
        elif problem is None and objid is not None and ratio > MAX_RATIO:
            problem = f"compresses {ratio:.0f}:1, far more than any JPEG (a zip bomb?); not extracted"
        if problem is not None:
            report.rejected.append((info.filename, problem))
        elif objid is None:
            if base not in METADATA_NAMES:
                report.ignored.append(info.filename)
        else:
            planned.append((info, objid))
    return planned


def import_zip(archive: Path | bytes | BinaryIO, dest: Path, expected_size: tuple[int, int] | None = None,
               overwrite: bool = False, max_total_bytes: int = MAX_TOTAL_BYTES,
               max_members: int = MAX_MEMBERS) -> ImportReport:
    """Import the ``<OBJID>.jpg`` members of a zip (path, bytes or binary file) into ``dest``.

    Folders inside the archive are allowed; only each member's base name is used. The
    archive's directory is checked before anything is inflated (member count, declared
    sizes, compression ratios), so a zip bomb costs neither time nor memory nor the
    folder lock; each member is then read up to its declared size only. Raises ValueError
    if the archive is not a zip or exceeds ``max_members`` / ``max_total_bytes``
    (uncompressed bytes), and :class:`core.jobs.JobBusy` while a job runs in ``dest``.
    """
    if isinstance(archive, (bytes, bytearray)):
        archive = io.BytesIO(archive)
    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"not a readable zip archive: {exc}") from None
    report, seen = ImportReport(), set()
    with zf:
        planned = _planned_members(zf, report, max_total_bytes, max_members)
        dest.mkdir(parents=True, exist_ok=True)
        with jobs.JobLock(dest):
            for info, objid in planned:
                try:
                    with zf.open(info) as fh:
                        data = fh.read(info.file_size + 1)
                except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError) as exc:
                    report.rejected.append((info.filename, f"cannot extract: {exc}"))
                    continue
                if len(data) != info.file_size:
                    report.rejected.append((info.filename, "holds a different size than the archive declares"))
                    continue
                _store(objid, data, info.filename, dest, report, expected_size, overwrite, seen)
    return report
