"""Catalogue-wide prediction on Dask: one task per partition, one atomically written file per task.

The galaxies still to predict (IDs not yet in ``FILE``) are cut into partitions of
``partition_rows`` in catalogue order. Each partition is one task; its result is
``FILE.parts/part-00042.csv`` (a predictions CSV, renamed into place only when whole)
beside ``part-00042.failures.json`` (the images it refused). A rerun skips the
partitions whose file exists, so a killed client or scheduler is recovered by running
the same command again; a worker killed mid-task has its task rerun elsewhere by the
scheduler. When every partition is done, ``FILE`` becomes the merge of its previous
rows and the parts in catalogue order (written under a temporary name and renamed),
each ID once, and ``FILE.parts`` is removed.

Workers load the run once per process (:func:`_worker_model`), never per task, and
read images from the paths the client gives: on a real cluster, a shared filesystem.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import write_json_atomic
from core.cluster.engine import Engine, dashboard_link, dask_client
from core.inference.batch import predict_set, still_to_do
from core.inference.galaxy_sets import GalaxySet
from core.inference.predictions_csv import PREDICTION_HEADER, PredictionsFileError
from core.json_files import JsonObjectError, read_json_object

#: Galaxies per task by default: ~20-60 s of work for one worker process on the default model.
DEFAULT_PARTITION_ROWS = 2000
#: Records the partitioning, so a rerun with other settings cannot mix parts.
MANIFEST_NAME = "manifest.json"

#: Seconds between two looks at ``should_stop`` while no partition finishes.
STOP_POLL_S = 0.25

#: ``progress(rows_done, rows_total, partitions_done, partitions_total)``.
ClusterProgress = Callable[[int, int, int, int], None]


class PredictionCancelled(Exception):
    """``should_stop`` said stop: the unfinished tasks were cancelled, finished partition files are kept."""


@dataclass
class ClusterPrediction:
    """What :func:`predict_on_cluster` did; counts are galaxies unless named partitions."""

    predicted: int
    skipped: int                       #: IDs already in FILE before this run
    failed: list[tuple[str, str]] = field(default_factory=list)
    partitions: int = 0
    partitions_reused: int = 0         #: finished by an earlier, interrupted run
    dashboard: str | None = None


def parts_dir(out_csv: str | os.PathLike) -> Path:
    """``FILE.parts``: where the partition files of ``FILE`` are kept until the merge."""
    out_csv = Path(out_csv)
    return out_csv.with_name(out_csv.name + ".parts")


def part_path(parts: Path, index: int) -> Path:
    return parts / f"part-{index:05d}.csv"


def _failures_path(part: Path) -> Path:
    return part.with_suffix(".failures.json")


_MODELS: dict[tuple[str, int], object] = {}

#: glibc mallopt parameters and the values a prediction worker uses (bytes).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_BYTES, _MMAP_BYTES = 64 << 20, 32 << 20


def _keep_freed_memory() -> None:
    """Undo, in this worker process, the 64 KiB ``MALLOC_TRIM_THRESHOLD_`` Dask's nanny starts it with.

    That setting also fixes glibc's mmap threshold at 128 KiB, so every decoded image
    (~0.5 MB) is a fresh mmap whose pages are faulted in and zeroed: measured, 5 ms of
    system time per image, prediction 2.4x slower than in a plain process. Here freed
    memory up to 64 MiB stays in the heap for the next image. No-op off glibc.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)
    except (OSError, AttributeError):
        pass


def _worker_model(run_dir: str):
    """The run loaded once per worker process (keyed by folder and model.pt's mtime)."""
    from core.inference.predict import MODEL_NAME, load_run

    key = (run_dir, Path(run_dir, MODEL_NAME).stat().st_mtime_ns)
    if key not in _MODELS:
        import torch

        try:
            from distributed import get_worker

            torch.set_num_threads(max(1, int(get_worker().state.nthreads)))
        except (ImportError, ValueError, AttributeError):
            pass
        _keep_freed_memory()
        _MODELS.clear()
        _MODELS[key] = load_run(run_dir)
    return _MODELS[key]


def predict_partition(run_dir: str, gset: GalaxySet, part: str, tta: bool, crop_fraction: float | None,
                      batch_size: int) -> tuple[int, list[tuple[str, str]]]:
    """Worker task: predict ``gset`` into ``part`` (whole or absent); (rows predicted, refused images)."""
    part = Path(part)
    tmp = part.with_name(f".{part.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    result = predict_set(_worker_model(run_dir), gset, tta=tta, out_csv=tmp, batch_size=batch_size,
                         crop_fraction=crop_fraction)
    if not tmp.exists():  # every image refused: an empty part, header only
        tmp.write_text(",".join(PREDICTION_HEADER) + "\n", encoding="utf-8")
    write_json_atomic(_failures_path(part), {"failed": [list(f) for f in result.failed]})
    os.replace(tmp, part)
    return int(result.ok.sum()), result.failed


def _check_manifest(parts: Path, manifest: dict) -> None:
    path = parts / MANIFEST_NAME
    if path.exists():
        try:
            old = read_json_object(path, what="partition manifest")
        except JsonObjectError as exc:
            raise PredictionsFileError(f"{exc}; delete {parts} to start the partitions again") from None
        if old != manifest:
            raise PredictionsFileError(
                f"{parts} holds partitions of another run (rows {old.get('rows')}, --partition-rows "
                f"{old.get('partition_rows')}, model {old.get('model')}, tta {old.get('tta')}); rerun with "
                f"those settings to finish it, or delete {parts}")
    else:
        parts.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, manifest)


def merge_parts(out_csv: Path, parts: Path, n_parts: int) -> int:
    """Write ``out_csv`` = its previous rows + parts 0..n-1 in order (atomic); rows added."""
    header = ",".join(PREDICTION_HEADER) + "\n"
    tmp = out_csv.with_name(f".{out_csv.name}.merge.tmp")
    added = 0
    with open(tmp, "w", encoding="utf-8", newline="") as dst:
        if out_csv.exists() and out_csv.stat().st_size:  # checked (header, cut last line) by still_to_do
            with open(out_csv, encoding="utf-8", newline="") as src:
                shutil.copyfileobj(src, dst)
        else:
            dst.write(header)
        for i in range(n_parts):
            with open(part_path(parts, i), encoding="utf-8", newline="") as src:
                if src.readline() != header:
                    raise PredictionsFileError(f"{part_path(parts, i)}: not a predictions part (header differs)")
                for line in src:
                    dst.write(line)
                    added += 1
    os.replace(tmp, out_csv)
    return added


def _stored_failures(part: Path) -> list[tuple[str, str]]:
    path = _failures_path(part)
    if not path.exists():
        return []
    try:
        failed = read_json_object(path, what="partition failures").get("failed", [])
    except JsonObjectError as exc:
        raise PredictionsFileError(str(exc)) from None
    return [tuple(f) for f in failed]


def predict_on_cluster(engine: Engine, run_dir: str | os.PathLike, gset: GalaxySet, out_csv: str | os.PathLike, *,
                       tta: bool = False, crop_fraction: float | None = None, batch_size: int = 64,
                       partition_rows: int = DEFAULT_PARTITION_ROWS,
                       progress: ClusterProgress | None = None,
                       should_stop: Callable[[], bool] | None = None) -> ClusterPrediction:
    """Predict every galaxy of ``gset`` not yet in ``out_csv`` on ``engine``; merge into ``out_csv``.

    ``should_stop`` is asked every :data:`STOP_POLL_S` seconds while tasks run; once it returns
    True the tasks still running are cancelled and :class:`PredictionCancelled` is raised.
    """
    if partition_rows < 1:
        raise ValueError(f"--partition-rows must be at least 1, got {partition_rows}")
    out_csv, run_dir = Path(out_csv), str(Path(run_dir).resolve())
    todo = still_to_do(gset, out_csv)
    skipped = len(gset) - len(todo)
    bounds = [(s, min(s + partition_rows, len(todo))) for s in range(0, len(todo), partition_rows)]
    result = ClusterPrediction(predicted=0, skipped=skipped, partitions=len(bounds))
    if not bounds:
        return result
    parts = parts_dir(out_csv)
    _check_manifest(parts, {"rows": len(todo), "partition_rows": partition_rows, "model": run_dir,
                            "tta": tta, "crop_fraction": crop_fraction, "first": gset.ids[todo[0]],
                            "last": gset.ids[todo[-1]]})
    finished = [i for i in range(len(bounds)) if part_path(parts, i).exists()]
    pending = sorted(set(range(len(bounds))) - set(finished))
    result.partitions_reused = len(finished)
    rows_done = sum(bounds[i][1] - bounds[i][0] for i in finished)
    for i in finished:
        result.failed += _stored_failures(part_path(parts, i))
    if progress:
        progress(rows_done, len(todo), result.partitions_reused, len(bounds))
    if pending:
        from distributed import as_completed

        with dask_client(engine) as client:
            result.dashboard = dashboard_link(client)
            futures = {client.submit(predict_partition, run_dir, gset.subset(todo[s:e]), str(part_path(parts, i)),
                                     tta, crop_fraction, batch_size, key=f"gz-predict-part-{i:05d}-{os.getpid()}",
                                     pure=False): i
                       for i in pending for s, e in [bounds[i]]}
            n_done = result.partitions_reused
            finishing = as_completed(futures)
            while not finishing.is_empty():
                if should_stop is not None and should_stop():
                    client.cancel(list(futures))
                    raise PredictionCancelled(f"cancelled with {n_done} of {len(bounds)} partitions finished")
                batch = finishing.next_batch(block=False)
                if not batch:
                    time.sleep(STOP_POLL_S)
                for future in batch:
                    _, failed = future.result()
                    s, e = bounds[futures[future]]
                    result.failed += failed
                    rows_done, n_done = rows_done + (e - s), n_done + 1
                    if progress:
                        progress(rows_done, len(todo), n_done, len(bounds))
    result.predicted = merge_parts(out_csv, parts, len(bounds))
    shutil.rmtree(parts, ignore_errors=True)
    return result
