"""Importing images the user already has: a folder or a zip of <OBJID>.jpg files."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from core import jobs
from core.images.check import check_file
from core.images.importer import import_folder, import_zip
from tests.support.paths import CUTOUT_FIXTURES

IMAGES = sorted((CUTOUT_FIXTURES / "images").glob("*.jpg"))


def _good(i: int) -> bytes:
    return IMAGES[i].read_bytes()


def test_import_folder_keeps_valid_images_and_names_the_rest(tmp_path):
    src, dest = tmp_path / "mine", tmp_path / "images"
    src.mkdir()
    (src / "587742772951842916.jpg").write_bytes(_good(0))
    (src / "587729160043954260.JPEG").write_bytes(_good(1))
    (src / "111.jpg").write_bytes(_good(2)[:700])  # cut short
    (src / "222.jpg").write_bytes(b"<html>not an image</html>")
    (src / "galaxy.jpg").write_bytes(_good(3))  # not named by OBJID
    (src / "notes.txt").write_text("hello")
    report = import_folder(src, dest)
    assert sorted(report.imported) == ["587729160043954260", "587742772951842916"]
    assert dict(report.rejected) == {"111.jpg": "truncated JPEG (no end-of-image marker)",
                                     "222.jpg": "an HTML page instead of a JPEG"}
    assert sorted(report.ignored) == ["galaxy.jpg", "notes.txt"]
    assert sorted(p.name for p in dest.glob("*.jpg")) == ["587729160043954260.jpg", "587742772951842916.jpg"]
    assert (dest / "587742772951842916.jpg").read_bytes() == _good(0)
    # Importing again changes nothing and says so.
    again = import_folder(src, dest)
    assert again.imported == [] and sorted(again.already_present) == sorted(report.imported)


def test_import_folder_checks_the_size_when_asked(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "5.jpg").write_bytes(_good(0))
    report = import_folder(src, tmp_path / "dest", expected_size=(256, 256))
    assert report.imported == [] and report.rejected == [("5.jpg", "wrong size 120x120, requested 256x256")]


def test_import_folder_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        import_folder(tmp_path / "nope", tmp_path / "dest")


def _zip(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def test_import_zip_is_zip_slip_safe(tmp_path):
    dest = tmp_path / "deep" / "images"
    data = _zip({
        "cutouts/587742772951842916.jpg": _good(0),
        "../../1001.jpg": _good(1),
        "/abs/1002.jpg": _good(2),
        "C:/win/1003.jpg": _good(3),
        "1004.jpg": b"\xff\xd8\xff" + b"\x00" * 50 + b"\xff\xd9",
        "__MACOSX/._1005.jpg": b"junk",
        "readme.md": b"# my images",
        "other/587742772951842916.jpg": _good(4),
    }, symlinks={"1006.jpg": "/etc/passwd"})
    report = import_zip(data, dest)
    assert report.imported == ["587742772951842916"]
    rejected = dict(report.rejected)
    assert rejected["../../1001.jpg"].startswith("unsafe path")
    assert rejected["/abs/1002.jpg"].startswith("unsafe path")
    assert rejected["C:/win/1003.jpg"].startswith("unsafe path")
    assert rejected["1006.jpg"] == "symbolic link in archive"
    assert rejected["1004.jpg"] == "the JPEG does not decode"
    assert rejected["other/587742772951842916.jpg"].startswith("duplicate OBJID")
    assert report.ignored == ["readme.md"]
    # Nothing was written anywhere but <dest>/<OBJID>.jpg.
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["deep/images/587742772951842916.jpg", "deep/images/job.lock"]
    check_file(dest / "587742772951842916.jpg", (120, 120))


def test_import_zip_from_file_object_and_path(tmp_path):
    data = _zip({"10.jpg": _good(0), "11.jpeg": _good(1)})
    assert sorted(import_zip(io.BytesIO(data), tmp_path / "a").imported) == ["10", "11"]
    (tmp_path / "x.zip").write_bytes(data)
    assert sorted(import_zip(tmp_path / "x.zip", tmp_path / "b").imported) == ["10", "11"]


def test_import_zip_limits(tmp_path):
    data = _zip({f"{i}.jpg": _good(i) for i in range(5)})
    with pytest.raises(ValueError, match="more than the limit of 3"):
        import_zip(data, tmp_path / "a", max_members=3)
    with pytest.raises(ValueError, match="expands to more than"):
        import_zip(data, tmp_path / "b", max_total_bytes=len(_good(0)) * 2 + 10)
    with pytest.raises(ValueError, match="not a readable zip"):
        import_zip(b"PK not really", tmp_path / "c")


def test_import_waits_for_no_running_job(tmp_path):
    with jobs.JobLock(tmp_path):
        with pytest.raises(jobs.JobBusy):
            import_zip(_zip({"10.jpg": _good(0)}), tmp_path)
