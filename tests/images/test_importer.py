"""Importing images the user already has: a folder or a zip of <OBJID>.jpg files."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from core import jobs
from core.images.check import check_file
from core.images.importer import ImportReport, import_folder, import_zip
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
    for name in ("catalog.csv", "labels.csv", "imageset.json"):  # the folder's own description: not "ignored"
        (src / name).write_text("OBJID\n")
    report = import_folder(src, dest)
    assert sorted(report.imported) == ["587729160043954260", "587742772951842916"]
    assert dict(report.rejected) == {"111.jpg": "truncated JPEG (no end-of-image marker)",
                                     "222.jpg": "an HTML page instead of a JPEG"}
    assert sorted(report.ignored) == ["galaxy.jpg", "notes.txt"]
    assert report.summary().endswith("2 other files ignored (not named <OBJID>.jpg: galaxy.jpg, notes.txt)")
    assert report.summary(names=1).endswith("(not named <OBJID>.jpg: galaxy.jpg and 1 more)")
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


def _bomb(path, members: dict[str, int]) -> None:
    """A zip whose members are runs of zeros of the given sizes (bytes), written in 1 MB chunks."""
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, size in members.items():
            with zf.open(name, "w", force_zip64=True) as fh:
                for start in range(0, size, len(chunk)):
                    fh.write(chunk[: min(len(chunk), size - start)])


def _measure(call):
    """(result or exception, seconds, peak MB of Python allocations) of ``call()``."""
    import time
    import tracemalloc

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        result = call()
    except ValueError as exc:
        result = exc
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return result, elapsed, peak


def test_zip_bombs_are_refused_before_inflating(tmp_path):
    big = tmp_path / "big.zip"
    _bomb(big, {"587742772951842916.jpg": 400 * 1024 * 1024})  # 400 MB of zeros in one member
    many = tmp_path / "many.zip"
    _bomb(many, {f"{i}.jpg": 1024 * 1024 for i in range(1, 301)} | {"10000.jpg": 0})
    assert big.stat().st_size < 1_000_000 and many.stat().st_size < 1_000_000

    result, elapsed, peak = _measure(lambda: import_zip(big, tmp_path / "a"))
    print(f"\nzip bomb, one 400 MB member in {big.stat().st_size / 1e3:.0f} kB: "
          f"refused in {elapsed * 1e3:.1f} ms, peak {peak:.2f} MB")
    assert isinstance(result, ImportReport) and result.imported == [] and "larger than 20 MB" in result.rejected[0][1]
    assert elapsed < 1.0 and peak < 5

    result, elapsed, peak = _measure(lambda: import_zip(many, tmp_path / "b"))
    print(f"zip bomb, 300 members of 1 MB in {many.stat().st_size / 1e3:.0f} kB: "
          f"refused in {elapsed * 1e3:.1f} ms, peak {peak:.2f} MB")
    why = dict(result.rejected)
    assert len(why) == 301 and why.pop("10000.jpg") == "empty (0 bytes)"
    assert all("zip bomb" in reason for reason in why.values())
    assert elapsed < 1.0 and peak < 5

    # A whole archive declaring more than the cap is refused at once, even while a job holds the folder.
    with jobs.JobLock(tmp_path / "c"):
        result, elapsed, peak = _measure(lambda: import_zip(many, tmp_path / "c", max_total_bytes=100 * 1024 ** 2))
    assert isinstance(result, ValueError) and "nothing was extracted" in str(result)
    assert elapsed < 1.0 and peak < 5


def test_a_member_that_lies_about_its_size_is_read_only_up_to_what_it_declares(tmp_path):
    data = bytearray(_zip({"587742772951842916.jpg": bytes(5 * 1024 * 1024)}))
    # Patch the declared uncompressed size (local header and central directory) down to 1,000 bytes.
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 22: local + 26] = (1000).to_bytes(4, "little")
    data[central + 24: central + 28] = (1000).to_bytes(4, "little")
    report = import_zip(bytes(data), tmp_path / "d")
    assert report.imported == [] and report.rejected[0][0] == "587742772951842916.jpg"
    assert "compresses" in report.rejected[0][1] or "cannot extract" in report.rejected[0][1]
