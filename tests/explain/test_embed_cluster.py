"""``gz embed`` on Dask (an embedded LocalCluster) writes the same index as one process, and resumes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.exit_codes import ExitCode
from core.explain.embed_set import parts_dir
from core.explain.index_file import read_index

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "demo"
GZ1 = REPO / "tests" / "fixtures" / "predict" / "gz1"
BAD = "587000000000000001"


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    shutil.copytree(GZ1, folder)
    (folder / f"{BAD}.jpg").write_bytes(b"not a jpeg")  # refused on both engines, listed
    return folder


def _embed(images: Path, out: Path, *extra: str) -> int:
    return main(["embed", "--model", str(DEMO_MODEL), "--images", str(images), "--out", str(out),
                 "--no-progress", *extra])


def test_local_cluster_equals_single_process_and_continues_a_killed_run(images: Path, tmp_path: Path, capsys):
    from core.explain.index_file import write_index

    single, multi = tmp_path / "single.parquet", tmp_path / "multi.parquet"
    assert _embed(images, single) == ExitCode.FAILED  # the bad image exits 1 on both engines
    ref = read_index(single)
    # A killed earlier run (either engine: the part files are the same) left its first part behind.
    write_index(parts_dir(multi) / "part-00000.parquet", ref.ids[:2], ref.vectors[:2], ref.meta)
    capsys.readouterr()
    assert _embed(images, multi, "--cluster", "1", "--partition-rows", "3") == ExitCode.FAILED
    err = capsys.readouterr().err
    assert f"refused {BAD}" in err and "5 embedded, 2 already in" in err
    assert "2 partitions on LocalCluster of 1 worker process" in err
    out = read_index(multi)
    assert out.ids == ref.ids and len(out.ids) == 7 and BAD not in out.ids  # set order, each ID once
    # float32 convolutions on other batch sizes differ in the last digits (1.1e-6 seen on a 2-core CI machine)
    np.testing.assert_allclose(out.vectors, ref.vectors, rtol=1e-4, atol=1e-5)
    assert out.meta == ref.meta and not parts_dir(multi).exists()
    # A later run on one process finds everything done but the refused image.
    assert _embed(images, multi) == ExitCode.FAILED
    assert "0 embedded, 7 already in" in capsys.readouterr().err
    assert read_index(multi).ids == ref.ids


def test_engine_options_are_checked(images: Path, tmp_path: Path, capsys):
    code = _embed(images, tmp_path / "x.parquet", "--scheduler", "not an address")
    assert code == ExitCode.BAD_INPUT and "not of the form tcp://HOST:PORT" in capsys.readouterr().err
    code = _embed(images, tmp_path / "x.parquet", "--cluster", "1", "--partition-rows", "0")
    assert code == ExitCode.BAD_INPUT and "--partition-rows must be at least 1" in capsys.readouterr().err
