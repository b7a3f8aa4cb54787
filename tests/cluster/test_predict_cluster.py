"""Catalogue-wide prediction on Dask equals the single-process output, resumes, and refuses mixed parts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.cli import main
from core.cluster.engine import Engine, EngineError, engine_from_args, normalise_address
from core.cluster.predict import parts_dir, predict_on_cluster
from core.inference.galaxy_sets import set_from_catalog_file
from core.inference.predictions_csv import PredictionsFileError, largest_difference, read_predictions
from tests.support.dask_cluster import external_cluster
from tests.support.tiny_runs import FIXTURES, make_run

pytestmark = pytest.mark.slow


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    shutil.copytree(FIXTURES / "gz1", folder)
    (folder / "587000000000000001.jpg").write_bytes(b"not a jpeg")  # a refused image, listed
    return folder


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "models" / "tiny")


def _predict(images: Path, run_dir: Path, out: Path, *extra: str) -> int:
    return main(["predict", "--images", str(images), "--out", str(out), "--model", str(run_dir),
                 "--no-progress", *extra])


def _assert_same(a: Path, b: Path) -> None:
    left, right = read_predictions(a), read_predictions(b)
    assert list(left.columns) == list(right.columns)
    assert list(left["ID"]) == list(right["ID"])  # catalogue order, each ID once
    assert left["ID"].is_unique
    diff = largest_difference(left, right)
    assert diff <= 1e-5


def test_local_cluster_equals_single_process_with_tta(images: Path, run_dir: Path, tmp_path: Path, capsys):
    single, multi = tmp_path / "single.csv", tmp_path / "multi.csv"
    assert _predict(images, run_dir, single, "--tta") == 1  # the bad image exits 1 on both engines
    assert _predict(images, run_dir, multi, "--tta", "--cluster", "2", "--partition-rows", "3") == 1
    err = capsys.readouterr().err
    assert "refused 587000000000000001" in err and "3 partitions" in err
    _assert_same(single, multi)
    assert not parts_dir(multi).exists()
    # A rerun predicts only what FILE lacks: the refused image, refused again (as on one process).
    assert _predict(images, run_dir, multi, "--tta", "--cluster", "2", "--partition-rows", "3") == 1
    assert "0 predicted, 7 already in" in capsys.readouterr().err
    _assert_same(single, multi)


def test_finished_partitions_are_kept_and_other_settings_refused(images: Path, run_dir: Path, tmp_path: Path):
    gset = set_from_catalog_file(images / "labels.csv", images)
    out = tmp_path / "p.csv"
    engine = Engine(local_workers=1)
    # A finished three-row part to plant later, as an interrupted earlier run would leave it.
    first = predict_on_cluster(engine, run_dir, gset.head(3), tmp_path / "probe.csv", partition_rows=3)
    assert first.predicted == 3
    parts = parts_dir(out)
    result = predict_on_cluster(engine, run_dir, gset, out, partition_rows=3)
    assert result.partitions == 3 and result.partitions_reused == 0
    # Leave a finished part behind, as a killed client would, and check it is reused, not recomputed.
    parts.mkdir()
    out.unlink()
    manifest = {"rows": len(gset), "partition_rows": 3, "model": str(run_dir.resolve()), "tta": False,
                "crop_fraction": None, "first": gset.ids[0], "last": gset.ids[-1]}
    (parts / "manifest.json").write_text(json.dumps(manifest))
    probe = read_predictions(tmp_path / "probe.csv")
    (parts / "part-00000.csv").write_text(Path(tmp_path / "probe.csv").read_text())
    again = predict_on_cluster(engine, run_dir, gset, out, partition_rows=3)
    assert again.partitions_reused == 1
    merged = read_predictions(out)
    assert list(merged["ID"][:3]) == list(probe["ID"]) and merged["ID"].is_unique and len(merged) == len(gset)
    # Parts made with other settings are never mixed in.
    parts.mkdir()
    out.unlink()
    (parts / "manifest.json").write_text(json.dumps({**manifest, "partition_rows": 5}))
    with pytest.raises(PredictionsFileError, match="partition-rows 5"):
        predict_on_cluster(engine, run_dir, gset, out, partition_rows=3)


def test_external_scheduler_and_two_workers(images: Path, run_dir: Path, tmp_path: Path, monkeypatch):
    single, multi, env_out = tmp_path / "single.csv", tmp_path / "multi.csv", tmp_path / "env.csv"
    _predict(images, run_dir, single)
    with external_cluster(tmp_path, n_workers=2) as cluster:
        assert _predict(images, run_dir, multi, "--scheduler", cluster.address, "--partition-rows", "2") == 1
        monkeypatch.setenv("GZ_DASK_SCHEDULER", cluster.address)
        assert _predict(images, run_dir, env_out, "--partition-rows", "4") == 1
    _assert_same(single, multi)
    _assert_same(single, env_out)


def test_engine_options_are_checked(monkeypatch, capsys, images: Path, run_dir: Path, tmp_path: Path):
    assert normalise_address("127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert normalise_address("tls://[::1]:8786") == "tls://[::1]:8786"
    for bad in ("http://x:1", "host", "tcp://h:99999", "a b:1"):
        with pytest.raises(EngineError, match="not of the form"):
            normalise_address(bad)
    with pytest.raises(EngineError, match="not both"):
        Engine(local_workers=2, scheduler="tcp://127.0.0.1:1")
    monkeypatch.setenv("GZ_DASK_SCHEDULER", "tcp://127.0.0.1:8786")

    class Args:
        cluster, scheduler = 0, None
    assert engine_from_args(Args()).scheduler == "tcp://127.0.0.1:8786"
    monkeypatch.delenv("GZ_DASK_SCHEDULER")
    assert not engine_from_args(Args()).distributed
    assert _predict(images, run_dir, tmp_path / "x.csv", "--scheduler", "nonsense") == 2
    assert "not of the form tcp://HOST:PORT" in capsys.readouterr().err
    assert _predict(images, run_dir, tmp_path / "x.csv", "--partition-rows", "0", "--cluster", "1") == 2
    assert "--partition-rows must be at least 1" in capsys.readouterr().err
