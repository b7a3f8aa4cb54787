"""Where a dashboard download runs: progress figures and engine words from state.json, no cluster in the
public mode, and no GZ_DASK_SCHEDULER for a single-process job."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core import jobs
from core.images import download_job
from core.images.download_config import DownloadConfig
from core.images.download_job import download_progress, engine_words, start_download_job
from core.jobs import JobState, JobStatus

TABLE = pd.DataFrame({"OBJID": ["587000000000000001"], "RA": [150.0], "DEC": [2.0]})


def test_engine_words_before_and_after_the_worker_named_it():
    assert engine_words({}) == "single process"
    assert engine_words({"engine_args": ["--cluster", "1", "--partition-rows", "9"]}) == \
        "LocalCluster of 1 worker process"
    assert engine_words({"engine_args": ["--scheduler", "tcp://h:8786"]}) == "Dask scheduler tcp://h:8786"
    assert engine_words({"engine": "LocalCluster of 3 worker processes", "engine_args": ["--cluster", "2"]}) == \
        "LocalCluster of 3 worker processes"
    assert engine_words({"engine_args": "--cluster 2"}) == "single process"  # unusable: as the restart reads it


def test_download_progress_reads_odd_values_as_nothing():
    state = JobState(kind="download", status=JobStatus.RUNNING, total=10,
                     progress={"processed": "many", "eta_s": True, "throughput": None, "partitions": 2.0},
                     settings={"dashboard": 5})
    p = download_progress(state)
    assert (p.fraction, p.processed, p.eta_s, p.throughput, p.partitions, p.dashboard) == (0.0, 0, None, 0.0, 2, None)
    assert not p.distributed and p.engine == "single process"
    done = download_progress(JobState(kind="download", status=JobStatus.FINISHED, total=0))
    assert done.fraction == 1.0


def test_no_cluster_downloads_from_the_public_mode(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GZ_MODE", "public")
    with pytest.raises(PermissionError, match="public mode"):
        start_download_job(TABLE, tmp_path / "images", DownloadConfig(), engine_args=["--cluster", "2"])
    assert not (tmp_path / "images" / jobs.STATE_NAME).exists()


def test_a_single_process_job_starts_without_gz_dask_scheduler(tmp_path: Path, monkeypatch):
    seen = {}

    def fake_start(args, folder, env=None):
        seen.update(args=args, env=env)

    monkeypatch.setattr(download_job.jobs, "start_detached", fake_start)
    monkeypatch.setenv("GZ_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    start_download_job(TABLE, tmp_path / "a", DownloadConfig())
    assert "GZ_DASK_SCHEDULER" not in seen["env"] and "PATH" in seen["env"]
    assert "--cluster" not in seen["args"] and "--scheduler" not in seen["args"]
    start_download_job(TABLE, tmp_path / "b", DownloadConfig(), engine_args=["--cluster", "2"])
    assert seen["env"] is None and seen["args"][-2:] == ["--cluster", "2"]  # a cluster job: env untouched
