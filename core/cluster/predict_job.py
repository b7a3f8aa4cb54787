"""A whole-catalogue prediction on Dask as a detached background job, and reading its progress back.

One job folder per output file, under ``<GZ_HOME>/jobs/predict/`` (:func:`job_folder_for`),
with the :mod:`core.jobs` rules: ``job.lock`` held by the worker, ``state.json``, a ``CANCEL``
file, ``job.log``. The dashboard calls :func:`start_predict_job`, which writes a ``starting``
state and runs ``python -m core predict ... --job-folder FOLDER`` in a new session; that
worker calls :func:`run_predict_job`, which writes ``state.json`` from
:func:`core.cluster.predict.predict_on_cluster`'s progress callback. Any process reads it
with :func:`core.jobs.read_job` and turns it into figures with :func:`predict_progress`.

Cancel (the CANCEL file, or SIGTERM which writes it) stops the job within about a second:
the loop that collects finished partitions looks at it every quarter second, cancels the
running tasks, the Dask client and an embedded cluster are closed, and the finished partitions stay in ``FILE.parts``; starting the same job again
(same catalogue, images, run, output and partition size) keeps them and predicts the rest.

``state.json``'s ``progress`` holds: ``parts_done``, ``parts_total``, ``rows_done``,
``rows_total`` (galaxies still to predict when the job started, so excluding IDs already in
FILE), ``rows_start`` (rows already done by an earlier run of the same job), ``galaxies``,
``failures`` (images refused so far), ``engine`` (plain words), ``dashboard`` (the Dask
dashboard URL or None), ``out`` (the output CSV), ``first_progress_at`` (epoch seconds).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import jobs
from core.atomic import write_bytes_atomic
from core.cluster.engine import Engine, EngineError, dashboard_link, dask_client
from core.cluster.engine import engine_for as engine_for  # re-exported: shared with the download jobs
from core.cluster.engine import eta_words as eta_words
from core.cluster.predict import (
    DEFAULT_PARTITION_ROWS,
    ClusterPrediction,
    PredictionCancelled,
    parts_dir,
    predict_on_cluster,
)
from core.config import Settings, get_settings
from core.jobs import JobKind, JobState, JobStatus, job_active

#: ``state.json``'s ``kind`` for these jobs.
KIND = JobKind.PREDICTION
#: The catalogue the dashboard wrote for a job (a copy of the table it had loaded).
JOB_CATALOG_NAME = "job_catalog.csv"
#: Refused images kept in the final state (the whole list is printed in job.log).
FAILURES_SHOWN = 50


def jobs_root(settings: Settings | None = None) -> Path:
    """``<GZ_HOME>/jobs/predict``: where predict job folders live (never inside models/)."""
    return (settings or get_settings()).home / "jobs" / "predict"


def default_output(run_id: str, catalog_name: str, settings: Settings | None = None) -> Path:
    """``<GZ_HOME>/predictions/<run>_<catalogue stem>.csv``: where a page's job writes by default."""
    stem = re.sub(r"[^A-Za-z0-9-]+", "_", Path(catalog_name).stem).strip("_")[:60] or "catalogue"
    return (settings or get_settings()).home / "predictions" / f"{run_id}_{stem}.csv"


def job_folder_for(out_csv: str | os.PathLike, settings: Settings | None = None) -> Path:
    """The job folder of an output file: one job per output, named after it and a hash of its full path."""
    out = Path(out_csv).expanduser().resolve()
    digest = hashlib.sha1(str(out).encode("utf-8")).hexdigest()[:10]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in out.stem)[:40]
    return jobs_root(settings) / f"{stem}-{digest}"


@dataclass(frozen=True)
class PredictJobSpec:
    """What a job predicts: ``catalog`` (a CSV, or None for every image of ``images``), the run folder,
    the output CSV, TTA, and the Dask engine and partition size."""

    images: Path
    run_dir: Path
    out: Path
    engine: Engine
    catalog: Path | None = None
    tta: bool = False
    partition_rows: int = DEFAULT_PARTITION_ROWS
    batch_size: int = 64

    def cli_args(self, folder: Path | None = None) -> list[str]:
        """The ``python -m core predict ...`` arguments of this job (with ``--job-folder`` when given)."""
        args = ["predict"] + (["--catalog", str(self.catalog)] if self.catalog else [])
        args += ["--images", str(self.images), "--model", str(self.run_dir), "--out", str(self.out),
                 "--partition-rows", str(int(self.partition_rows)), "--batch-size", str(int(self.batch_size)),
                 *self.engine.cli_args()]
        args += ["--tta"] if self.tta else []
        return args + (["--job-folder", str(folder), "--no-progress"] if folder is not None else [])

    def to_dict(self) -> dict[str, Any]:
        return {"catalog": str(self.catalog) if self.catalog else None, "images": str(self.images),
                "run_dir": str(self.run_dir), "out": str(self.out), "tta": bool(self.tta),
                "partition_rows": int(self.partition_rows), "batch_size": int(self.batch_size),
                "workers": self.engine.local_workers, "scheduler": self.engine.scheduler,
                "engine": self.engine.describe()}


def write_job_catalog(table, folder: Path) -> Path:
    """Write a catalogue table (as loaded on the Catalog page) to ``<folder>/job_catalog.csv``, IDs as text."""
    data = table.to_csv(index=False).encode("utf-8")
    path = Path(folder) / JOB_CATALOG_NAME
    if path.exists() and path.read_bytes() == data:
        return path  # the same job again: keep the file (and its time) as it was
    return write_bytes_atomic(path, data)


def start_predict_job(spec: PredictJobSpec, folder: Path | None = None, table=None,
                      env: dict[str, str] | None = None, settings: Settings | None = None):
    """Start ``spec`` as a detached ``python -m core predict --job-folder`` worker; returns its Popen.

    ``table`` (a catalogue DataFrame) is written to the folder's ``job_catalog.csv`` and used as the
    catalogue. Paths must already be confined by the caller (:func:`core.paths.confine`). Raises
    PermissionError in the public mode, :class:`core.jobs.JobBusy` when the folder's job runs or is
    starting, EngineError / ValueError / FileNotFoundError for unusable settings.
    """
    s = settings or get_settings()
    if s.public:
        raise PermissionError("whole-catalogue prediction jobs are turned off in the public mode")
    if spec.partition_rows < 1:
        raise ValueError(f"partition size must be at least 1 galaxy, got {spec.partition_rows}")
    if not spec.engine.distributed:
        raise EngineError("a background prediction job runs on a Dask cluster: choose workers or a scheduler")
    for what, path in (("image folder", spec.images), ("model run", spec.run_dir)):
        if not Path(path).is_dir():
            raise FileNotFoundError(f"{what} {path} does not exist")
    if table is None and spec.catalog is not None and not Path(spec.catalog).is_file():
        raise FileNotFoundError(f"catalogue {spec.catalog} does not exist")
    folder = Path(folder) if folder is not None else job_folder_for(spec.out, s)
    with jobs.JobLock(folder):
        if job_active(JobState.from_dict(jobs.read_json(folder / jobs.STATE_NAME))):
            raise jobs.JobBusy(f"a prediction job is already starting in {folder}")
        if table is not None:
            spec = PredictJobSpec(**{**spec.__dict__, "catalog": write_job_catalog(table, folder)})
        jobs.clear_cancel(folder)  # no worker runs here, so any CANCEL file is a leftover
        Path(spec.out).parent.mkdir(parents=True, exist_ok=True)
        jobs.write_state(folder, JobState(kind=KIND, status=JobStatus.STARTING, started_at=time.time(),
                                          settings=spec.to_dict(),
                                          progress={"engine": spec.engine.describe(), "out": str(spec.out)}
                                          ).to_dict())
    return jobs.start_detached(spec.cli_args(folder), folder, env=env)


def restart_predict_job(folder: Path, env: dict[str, str] | None = None):
    """Start the folder's last job again with the settings it stored (finished partitions are kept)."""
    state = jobs.read_job(folder)
    spec = stored_spec(state)
    if spec is None:
        raise ValueError(f"the last job in {folder} stored no usable settings; start a new one")
    return start_predict_job(spec, folder, env=env)


def stored_spec(state: JobState | None) -> PredictJobSpec | None:
    """The settings a job was started with (None when there are none or they are unusable)."""
    st = state.settings if state is not None else {}
    try:
        engine = engine_for(int(st.get("workers") or 0), str(st.get("scheduler") or ""))
        return PredictJobSpec(images=Path(st["images"]), run_dir=Path(st["run_dir"]), out=Path(st["out"]),
                              engine=engine, catalog=Path(st["catalog"]) if st.get("catalog") else None,
                              tta=bool(st.get("tta")), partition_rows=int(st.get("partition_rows")),
                              batch_size=int(st.get("batch_size") or 64))
    except (KeyError, TypeError, ValueError):
        return None


def record_failure(folder: Path, message: str) -> None:
    """Write a ``failed`` state (keeping the stored settings and progress) so the page shows why."""
    folder = Path(folder)
    try:
        with jobs.JobLock(folder):
            old = JobState.from_dict(jobs.read_json(folder / jobs.STATE_NAME)) or JobState(kind=KIND,
                                                                                              status=JobStatus.FAILED)
            old.status, old.message, old.kind = JobStatus.FAILED, message, KIND
            jobs.write_state(folder, old.to_dict())
    except (jobs.JobBusy, OSError):
        pass


def _count_failures(parts: Path, seen: dict[str, int]) -> int:
    """Images refused by the partitions finished so far (their ``*.failures.json`` beside the parts)."""
    try:
        names = [p for p in parts.glob("part-*.failures.json") if p.name not in seen]
    except OSError:
        names = []
    for path in names:
        data = jobs.read_json(path)
        seen[path.name] = len(data.get("failed") or []) if data else 0
    return sum(seen.values())


def run_predict_job(folder: Path, engine: Engine, run_dir: str | os.PathLike, gset, out_csv: str | os.PathLike, *,
                    tta: bool = False, crop_fraction: float | None = None, batch_size: int = 64,
                    partition_rows: int = DEFAULT_PARTITION_ROWS, job_settings: dict[str, Any] | None = None,
                    cancel_since: float | None = None) -> tuple[JobStatus, ClusterPrediction | None]:
    """Worker side: :func:`predict_on_cluster` holding the folder's lock and writing its ``state.json``.

    Returns (final status, result; None when cancelled). A CANCEL file older than ``cancel_since``
    (epoch seconds) is a leftover and removed. Raises :class:`core.jobs.JobBusy` when another
    worker holds the folder; other errors are recorded as a ``failed`` state and raised again.
    """
    folder, out_csv = Path(folder), Path(out_csv)
    with jobs.JobLock(folder):
        cancel = folder / jobs.CANCEL_NAME
        if cancel.exists() and cancel_since is not None and cancel.stat().st_mtime < cancel_since:
            cancel.unlink(missing_ok=True)
        old = JobState.from_dict(jobs.read_json(folder / jobs.STATE_NAME))
        settings = dict(job_settings or (old.settings if old is not None else {}))
        started = time.time()
        progress: dict[str, Any] = {"engine": engine.describe(), "out": str(out_csv), "dashboard": None,
                                    "galaxies": len(gset), "parts_done": 0, "parts_total": 0, "rows_done": 0,
                                    "rows_total": 0, "rows_start": None, "failures": 0, "first_progress_at": None}
        seen: dict[str, int] = {}

        def publish(status: JobStatus, message: str = "") -> None:
            jobs.write_state(folder, JobState(
                kind=KIND, status=status, message=message, done=int(progress["rows_done"]),
                total=int(progress["rows_total"]), failed=int(progress["failures"]),
                skipped=max(0, len(gset) - int(progress["rows_total"])) if progress["parts_total"] else 0,
                pid=os.getpid(), started_at=started, settings=settings, progress=dict(progress)).to_dict())

        def on_progress(rows: int, total: int, parts: int, n_parts: int) -> None:
            if progress["rows_start"] is None:
                progress["rows_start"], progress["first_progress_at"] = rows, time.time()
            progress.update(rows_done=rows, rows_total=total, parts_done=parts, parts_total=n_parts,
                            failures=_count_failures(parts_dir(out_csv), seen))
            publish(JobStatus.RUNNING)

        publish(JobStatus.RUNNING)
        try:
            try:
                result = _predict(engine, run_dir, gset, out_csv, progress, publish, tta=tta,
                                  crop_fraction=crop_fraction, batch_size=batch_size, partition_rows=partition_rows,
                                  on_progress=on_progress, should_stop=lambda: jobs.cancel_requested(folder))
            except PredictionCancelled:
                publish(JobStatus.CANCELLED, "cancelled; finished partitions are kept")
                return JobStatus.CANCELLED, None
            except KeyboardInterrupt:
                publish(JobStatus.CANCELLED, "interrupted")
                raise
            except Exception as exc:
                publish(JobStatus.FAILED, str(exc) or type(exc).__name__)
                raise
            progress.update(rows_done=progress["rows_total"], parts_done=progress["parts_total"],
                            failures=len(result.failed), predicted=result.predicted,
                            partitions_reused=result.partitions_reused,
                            refused=[list(f) for f in result.failed[:FAILURES_SHOWN]])
            words = (f"{result.predicted:,} predicted, {result.skipped:,} already in the file, "
                     f"{len(result.failed):,} refused")
            publish(JobStatus.FINISHED, words)
            return JobStatus.FINISHED, result
        finally:
            jobs.clear_cancel(folder)


def _predict(engine: Engine, run_dir, gset, out_csv: Path, progress: dict, publish, *, on_progress, **kw):
    """Hold the cluster (to know its dashboard before the first task), then predict on it."""
    with dask_client(engine) as client:
        progress["dashboard"] = dashboard_link(client)
        publish(JobStatus.RUNNING)
        # An embedded cluster stays up while predict_on_cluster joins it by its address.
        target = Engine(scheduler=client.scheduler.address) if engine.local_workers else engine
        return predict_on_cluster(target, run_dir, gset, out_csv, progress=on_progress, **kw)


@dataclass(frozen=True)
class PredictProgress:
    """A job's progress as the page shows it; rows are galaxies still to predict when the job started."""

    fraction: float               #: 0..1 of rows_total
    parts_done: int
    parts_total: int
    rows_done: int
    rows_total: int
    failures: int
    elapsed_s: float | None       #: since the job started (to the last update once it ended)
    eta_s: float | None           #: seconds left at this run's pace; None before a rate is known or once ended
    rows_per_s: float | None      #: this run's rate (rows of an earlier run not counted)
    dashboard: str | None
    engine: str
    out: str


def predict_progress(state: JobState, now: float | None = None) -> PredictProgress:
    """Figures of a predict job's ``state.json``: fraction done, counts, elapsed time and ETA.

    The ETA divides the rows left by the rows per second of this run (rows finished by an
    earlier, interrupted run are excluded from the rate); it is None until a first partition
    of this run finished, and once the job is no longer running.
    """
    p = state.progress or {}

    def num(key: str) -> int:
        value = p.get(key)
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0

    rows_done, rows_total = num("rows_done"), num("rows_total")
    finished = state.status == JobStatus.FINISHED
    fraction = min(1.0, rows_done / rows_total) if rows_total else float(finished)
    now = time.time() if now is None else now
    live = state.running or state.status in (JobStatus.RUNNING, JobStatus.STARTING)
    end = now if live else float(state.updated_at or now)
    elapsed = max(0.0, end - float(state.started_at)) if state.started_at else None
    rate = eta = None
    first, start_rows = p.get("first_progress_at"), num("rows_start")
    if isinstance(first, int | float) and rows_done > start_rows:
        span = float(state.updated_at or now) - float(first)
        rate = (rows_done - start_rows) / span if span > 0 else None
    if rate and state.running and rows_done < rows_total:
        eta = (rows_total - rows_done) / rate
    dashboard = p.get("dashboard") if isinstance(p.get("dashboard"), str) else None
    return PredictProgress(fraction, num("parts_done"), num("parts_total"), rows_done, rows_total, num("failures"),
                           elapsed, eta, rate, dashboard, str(p.get("engine") or ""), str(p.get("out") or ""))


def list_jobs(settings: Settings | None = None) -> list[tuple[Path, JobState]]:
    """Every predict job folder with a readable state, most recently started first."""
    root = jobs_root(settings)
    found: list[tuple[Path, JobState]] = []
    if root.is_dir():
        for folder in root.iterdir():
            state = jobs.read_job(folder) if folder.is_dir() else None
            if state is not None and state.kind == KIND:
                found.append((folder, state))
    return sorted(found, key=lambda fs: -float(fs[1].started_at or 0.0))


def pick_job(found: Sequence[tuple[Path, JobState]], preferred: Path | None = None) -> tuple[Path, JobState] | None:
    """The job to show: ``preferred``'s when it has one, else an active one, else the latest started."""
    for folder, state in found:
        if preferred is not None and folder == preferred:
            return folder, state
    active = [fs for fs in found if job_active(fs[1])]
    return (active or list(found) or [None])[0]
