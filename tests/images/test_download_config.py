"""One DownloadConfig: CLI flags, job argv, stored settings and page defaults all derive from it."""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import jobs
from core.images.download_config import DownloadConfig, add_arguments
from core.images.download_job import (
    JOB_CATALOG_NAME,
    cli_args,
    job_left,
    restartable,
    stored_config,
    write_job_catalog,
)
from core.images.failures import Outcome, write_failures
from core.jobs import JobState, JobStatus
from tests.support.paths import page_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser


def test_every_cli_field_is_a_flag_with_its_help_and_default():
    text = _parser().format_help()
    for f in dataclasses.fields(DownloadConfig):
        flag = "--" + f.name.replace("_", "-")
        assert (flag in text) == f.metadata["cli"], flag
    assert "(default: 15.0)" in text and "however slowly bytes arrive" in text
    assert _parser().parse_args([]).deadline == DownloadConfig().deadline


def test_job_argv_round_trips_through_the_cli_flags(monkeypatch):
    monkeypatch.delenv("GZ_CUTOUT_BASE_URL", raising=False)
    config = DownloadConfig(source="dr7", scale=0.25, size=128, width=160, workers=2, timeout=7.5,
                            deadline=42.0, retries=1, backoff=0.5, min_interval=0.1,
                            base_url="http://mirror.example/DR7/getjpeg.aspx")
    assert DownloadConfig.from_args(_parser().parse_args(config.to_argv())) == config
    argv = cli_args("cat.csv", "img", config, selection="first 5 of x.csv: 5 galaxies")
    assert argv[:4] == ["download", "cat.csv", "--images", "img"] and argv[-2:] == [
        "--selection", "first 5 of x.csv: 5 galaxies"]
    # Without a base URL, the job still records the address it will really use.
    assert "https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg" in DownloadConfig().to_argv()


def test_stored_settings_round_trip_and_bad_ones_are_refused():
    config = DownloadConfig(size=96, retries=0, base_url="http://127.0.0.1:1/getjpeg")
    stored = {**config.to_dict(), "catalog": "x.csv", "selection": "all"}
    assert DownloadConfig.from_dict(stored) == config
    assert DownloadConfig.from_dict({}) == DownloadConfig()
    for bad in ([], {"size": "big"}, {"retries": 1.5}, {"source": 7}, {"workers": True}):
        with pytest.raises(ValueError):
            DownloadConfig.from_dict(bad)
    with pytest.raises(ValueError, match="deadline"):
        DownloadConfig(deadline=0).validated()
    state = JobState("download", JobStatus.FINISHED, settings={"size": "big"})
    assert stored_config(state) is None and stored_config(None) is None


def test_what_is_left_of_a_job_and_whether_it_can_restart(tmp_path):
    table = pd.DataFrame({"OBJID": ["1", "2", "3", "4"], "RA": [1.0, 2.0, 3.0, 4.0], "DEC": [0.0] * 4})
    write_job_catalog(table, tmp_path)
    (tmp_path / "1.jpg").write_bytes(b"x")
    write_failures(tmp_path, [Outcome("2", 2.0, 0.0, "failed", reason="server answered HTTP 503")])
    left = job_left(tmp_path)
    assert (left.total, left.on_disk, left.failed, left.not_attempted, left.to_fetch) == (4, 1, 1, 2, 3)
    mine = JobState("download", JobStatus.CANCELLED,
                    settings={**DownloadConfig().to_dict(), "catalog": str(tmp_path / JOB_CATALOG_NAME)})
    cli_run = JobState("download", JobStatus.CANCELLED,
                       settings={**DownloadConfig().to_dict(), "catalog": str(tmp_path / "other.csv")})
    assert restartable(tmp_path, mine) and not restartable(tmp_path, cli_run)
    assert not restartable(tmp_path, JobState("download", JobStatus.CANCELLED))


def test_the_page_defaults_are_the_configs(isolated_home):
    at = AppTest.from_file(page_file("images"), default_timeout=30)
    at.run()
    assert not at.exception
    defaults = DownloadConfig()
    assert at.number_input(key="img_size").value == defaults.size
    assert at.number_input(key="img_retries").value == defaults.retries
    assert at.number_input(key="img_timeout").value == defaults.timeout
    assert at.number_input(key="img_scale").value == defaults.scale
    assert at.number_input(key="img_workers").value == defaults.workers
    assert at.selectbox(key="img_source").value == defaults.source
    assert jobs.read_state(isolated_home / "images") is None  # looking starts nothing


def test_a_job_with_failures_never_ends_green():
    from core.images.download_job import job_ending

    def ending(status, failed=0):
        return job_ending(JobState("download", status, done=2, failed=failed, total=2 + failed,
                                   progress={"elapsed_s": 1.25, "pending": 0}))

    assert ending(JobStatus.FINISHED) == ("success", "Finished in 1.2 s: 2 downloaded, 0 already present, "
                                                     "0 failed, 0 not attempted.")
    style, text = ending(JobStatus.FINISHED, failed=5)
    assert style == "warning" and "Finished with failures" in text and "5 failed" in text
    assert ending(JobStatus.DISK_FULL)[0] == "error" and "disk is full" in ending(JobStatus.DISK_FULL)[1]
    assert ending(JobStatus.CANCELLED)[0] == "info" and ending(JobStatus.INTERRUPTED)[0] == "warning"
