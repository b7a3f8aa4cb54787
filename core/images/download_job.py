"""Starting a download as a detached background job, and reading back what a job was and what is left.

A job folder keeps the whole job: ``job_catalog.csv`` (every galaxy it was asked
for, OBJID/RA/DEC in decimal degrees) and, in ``state.json``, every setting it ran
with (:class:`core.images.download_config.DownloadConfig` plus ``catalog``,
``selection``). Retry and resume start the same job again from those stored
settings, after a reload or a server restart too; since valid images are skipped,
that fetches the failures and the not-yet-attempted rest, and the job catalogue
is never replaced by a part of itself.

Two starts cannot race: the starter takes the folder lock, refuses when a job runs
or is starting, writes the catalogue and a ``starting`` state, and only then lets
the worker take the lock.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import jobs
from core.atomic import write_bytes_atomic
from core.config import get_settings
from core.csv_safety import safe_row
from core.images.cutouts import SOURCE_LABELS, check_cutout_host
from core.images.download_config import DownloadConfig
from core.images.failures import read_failures
from core.images.folder import list_cutouts
from core.jobs import JobKind, JobState, JobStatus, job_active
from core.schema import POSITION_COLUMNS

JOB_CATALOG_NAME = "job_catalog.csv"
#: The environment variable whose scheduler a download without engine options would join
#: (``core.config.Settings.dask_scheduler``); a single-process job from the dashboard runs without it.
SCHEDULER_ENV = "GZ_DASK_SCHEDULER"


def write_job_catalog(table, folder: Path) -> Path:
    """Write the galaxies of a job as a bare ``OBJID,RA,DEC`` CSV (decimal degrees) in ``folder``."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(POSITION_COLUMNS)
    for objid, ra, dec in zip(table["OBJID"].tolist(), table["RA"].tolist(), table["DEC"].tolist(), strict=False):
        writer.writerow(safe_row((str(objid), f"{float(ra):.7f}", f"{float(dec):.7f}")))
    return write_bytes_atomic(Path(folder) / JOB_CATALOG_NAME, buf.getvalue().encode("utf-8"))


def read_job_catalog_ids(folder: Path) -> list[str]:
    """OBJIDs of the folder's job catalogue, in order ([] when there is none)."""
    try:
        with open(Path(folder) / JOB_CATALOG_NAME, newline="", encoding="utf-8") as fh:
            return [row.get("OBJID", "") for row in csv.DictReader(fh)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


@dataclass(frozen=True)
class JobLeft:
    """What is left of a folder's job: counts of galaxies of its job catalogue."""

    total: int
    on_disk: int
    failed: int  #: listed in failures.csv and still without an image
    not_attempted: int

    @property
    def to_fetch(self) -> int:
        return self.failed + self.not_attempted


def job_left(folder: Path) -> JobLeft:
    """Compare the job catalogue with the images on disk and ``failures.csv``."""
    ids = list(dict.fromkeys(read_job_catalog_ids(folder)))
    have = {p.stem for p in list_cutouts(folder)}
    failed = {r.get("OBJID", "") for r in read_failures(folder)}
    missing = [i for i in ids if i not in have]
    n_failed = sum(1 for i in missing if i in failed)
    return JobLeft(len(ids), len(ids) - len(missing), n_failed, len(missing) - n_failed)


def stored_config(state: JobState | None) -> DownloadConfig | None:
    """The settings a job ran with, from its state (None when there are none or they are unusable)."""
    if state is None or not state.settings:
        return None
    try:
        return DownloadConfig.from_dict(state.settings).validated()
    except ValueError:
        return None


def job_ending(state: JobState) -> tuple[str, str]:
    """How a job that is no longer active ended: (style, plain words), style being ``success``,
    ``warning``, ``info`` or ``error``. A job with failures is never a success."""
    counts = (f"{state.done:,} downloaded, {state.skipped:,} already present, {state.failed:,} failed, "
              f"{int(state.progress.get('pending') or 0):,} not attempted")
    elapsed = float(state.progress.get("elapsed_s") or 0)
    took = f" in {elapsed:.1f} s" if elapsed >= 0.05 else ""  # "in 0.0 s" says nothing
    endings = {
        JobStatus.FINISHED: ("warning", f"Finished with failures{took}: {counts}. "
                                        "See the reasons below.") if state.failed else
                            ("success", f"Finished{took}: {counts}."),
        JobStatus.INTERRUPTED: ("warning", f"The download stopped without finishing (the worker was killed): "
                                           f"{counts}. The button below fetches the rest; images on disk are kept."),
        JobStatus.CANCELLED: ("info", f"Cancelled: {counts}. The button below fetches the rest."),
        JobStatus.DISK_FULL: ("error", f"The disk is full, so the download stopped at once: {counts}. "
                                       "Free some space, then fetch the rest."),
        JobStatus.FAILED: ("error", f"The download could not run: {state.message}"),
    }
    return endings.get(state.status, ("info", f"{state.status}: {counts}."))


def job_settings_rows(state: JobState | None) -> list[tuple[str, str]]:
    """The settings a job stored, as (setting, value) rows in plain words ([] when none)."""
    stored = stored_config(state)
    if stored is None:
        return []
    cut = stored.cutout()
    return [("Galaxies", str(state.settings.get("selection") or state.settings.get("catalog") or "–")),
            ("Service", SOURCE_LABELS.get(cut.source, cut.source)), ("Base URL", cut.resolved_base_url()),
            ("Scale", f"{float(cut.scale):g} arcsec/pixel"), ("Size", f"{cut.width} x {cut.height} pixels"),
            ("Parallel requests", str(stored.workers)), ("Retries", str(stored.retries)),
            ("Timeouts", f"connect {stored.connect_timeout:g} s, silence {stored.timeout:g} s, "
                         f"whole request {stored.deadline:g} s"),
            ("Longest per galaxy", f"{stored.worst_case_s:g} s"),
            ("Engine", engine_words(state.settings))]


def engine_words(settings: dict[str, Any]) -> str:
    """Where a job runs, in words: the worker's ``settings.engine`` once it wrote one, else read
    from the ``engine_args`` its starter stored (``--cluster N`` / ``--scheduler ADDRESS``)."""
    if isinstance(settings.get("engine"), str) and settings["engine"]:
        return settings["engine"]
    args = settings.get("engine_args")
    args = [str(a) for a in args] if isinstance(args, list) else []
    if "--cluster" in args[:-1]:
        n = args[args.index("--cluster") + 1]
        return f"LocalCluster of {n} worker process{'' if n == '1' else 'es'}"
    if "--scheduler" in args[:-1]:
        return f"Dask scheduler {args[args.index('--scheduler') + 1]}"
    return "single process"


@dataclass(frozen=True)
class DownloadProgress:
    """A download job's ``state.json`` as figures for a page (counts are galaxies of the job)."""

    fraction: float            #: 0..1 of ``total`` processed
    processed: int             #: downloaded + already present + failed
    total: int
    done: int                  #: downloaded by this run
    skipped: int               #: valid images already in the folder
    failed: int
    throughput: float          #: images downloaded per second by this run
    eta_s: float | None        #: seconds left at this pace; None unless the job runs and a pace is known
    elapsed_s: float
    partitions_done: int       #: Dask tasks finished (0 of 0 for a single-process job)
    partitions: int
    engine: str                #: :func:`engine_words`
    distributed: bool          #: the job runs (or ran) on Dask
    dashboard: str | None      #: the Dask dashboard URL the worker reported, if any


def download_progress(state: JobState) -> DownloadProgress:
    """Figures of a download job's state, safe for any stored values (bad numbers read as 0)."""
    p = state.progress or {}

    def num(value: Any) -> float:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    processed = int(num(p.get("processed")))
    fraction = min(1.0, processed / state.total) if state.total else float(state.status == JobStatus.FINISHED)
    eta = p.get("eta_s")
    eta_s = num(eta) if state.running and isinstance(eta, int | float) and not isinstance(eta, bool) else None
    args = state.settings.get("engine_args")
    distributed = bool(state.settings.get("engine") not in (None, "", "single process")
                       or (isinstance(args, list) and args))
    link = state.settings.get("dashboard")
    return DownloadProgress(fraction, processed, state.total, state.done, state.skipped, state.failed,
                            num(p.get("throughput")), eta_s, num(p.get("elapsed_s")),
                            int(num(p.get("partitions_done"))), int(num(p.get("partitions"))),
                            engine_words(state.settings), distributed,
                            link if isinstance(link, str) and link else None)


def cli_args(catalog_csv: Path, folder: Path, config: DownloadConfig, selection: str = "",
             engine_args: Sequence[str] = ()) -> list[str]:
    """The ``python -m core download ...`` arguments that run this job (base URL resolved)."""
    args = ["download", str(catalog_csv), "--images", str(folder), *config.validated().to_argv()]
    if selection:
        args += ["--selection", selection]
    return args + [str(a) for a in engine_args]


def start_download_job(table, folder: Path, config: DownloadConfig, selection: str = "",
                       env: dict[str, str] | None = None, engine_args: Sequence[str] = ()):
    """Start a download of ``table`` (OBJID, RA, DEC) in ``folder`` as a detached worker.

    ``table`` None starts the folder's job catalogue again (retry and resume). Requests
    go only to allowed hosts (:func:`core.images.cutouts.check_cutout_host`); the worker
    enforces that too. Raises :class:`core.jobs.JobBusy` when a job runs or is starting
    in ``folder``, FileNotFoundError when there is no job catalogue to resume, and
    CutoutSettingsError / ValueError for bad settings. Returns the worker's Popen.
    ``engine_args`` are extra ``download`` options that choose where it runs (``--cluster 2``,
    ``--partition-rows N``; see :func:`core.cluster.download.start_cluster_download_job`); they
    are stored as ``settings.engine_args`` so a restart runs there again. Without them the job runs
    in one process, even when ``GZ_DASK_SCHEDULER`` is set (it is left out of the worker's
    environment). Raises PermissionError for ``engine_args`` in the public mode.
    """
    folder = Path(folder)
    if engine_args and get_settings().public:
        raise PermissionError("downloads on a Dask cluster are turned off in the public mode")
    config = config.validated().resolved()
    check_cutout_host(config.cutout().resolved_base_url())
    catalog_csv = folder / JOB_CATALOG_NAME
    with jobs.JobLock(folder):
        # We hold the lock, so no worker runs; only a job that is still starting can be in the way.
        if job_active(JobState.from_dict(jobs.read_json(folder / jobs.STATE_NAME))):
            raise jobs.JobBusy(f"a download is already starting in {folder}")
        if table is not None:
            write_job_catalog(table, folder)
            total = int(len(table))
        elif catalog_csv.exists():
            total = len(read_job_catalog_ids(folder))
        else:
            raise FileNotFoundError(f"no {JOB_CATALOG_NAME} in {folder} to resume")
        jobs.clear_cancel(folder)  # no job runs here, so any CANCEL file is a leftover
        settings: dict[str, Any] = {**config.to_dict(), "catalog": str(catalog_csv), "selection": selection,
                                    "engine_args": [str(a) for a in engine_args]}
        jobs.write_state(folder, JobState(kind=JobKind.DOWNLOAD, status=JobStatus.STARTING, total=total,
                                          started_at=time.time(), settings=settings,
                                          progress={"pending": total}).to_dict())
    args = cli_args(catalog_csv, folder, config, selection) + ["--no-progress", "--only-allowed-hosts",
                                                               *map(str, engine_args)]
    if not engine_args:  # one process, as asked: not the cluster GZ_DASK_SCHEDULER names
        env = {k: v for k, v in (os.environ if env is None else env).items() if k != SCHEDULER_ENV}
    return jobs.start_detached(args, folder, env=env)


def restartable(folder: Path, state: JobState | None) -> bool:
    """True when the folder's last job can start again: it stored usable settings and ran on the
    folder's own job catalogue (a CLI run on another catalogue is resumed from the CLI)."""
    return (stored_config(state) is not None and (Path(folder) / JOB_CATALOG_NAME).exists()
            and Path(str(state.settings.get("catalog", ""))).resolve() == (Path(folder) / JOB_CATALOG_NAME).resolve())


def restart_job(folder: Path, env: dict[str, str] | None = None):
    """Start the folder's last job again with the settings it stored (retry failures, fetch the rest).

    Raises ValueError when the folder's last job cannot be restarted (see :func:`restartable`).
    """
    state = jobs.read_job(folder)
    if not restartable(folder, state):
        raise ValueError(f"the last job in {folder} cannot be restarted from here (no stored settings or "
                         "job catalogue); start a new download")
    config = stored_config(state)
    engine_args = state.settings.get("engine_args") or []
    if not isinstance(engine_args, list) or not all(isinstance(a, str) for a in engine_args):
        engine_args = []  # unusable: run in one process
    return start_download_job(None, folder, config, str(state.settings.get("selection") or ""), env=env,
                              engine_args=engine_args)
