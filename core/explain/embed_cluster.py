"""``gz embed`` on Dask: one task per partition, one atomically written part file per task.

The same engine as catalogue-wide prediction (:mod:`core.cluster.engine`: ``--cluster N`` for
a LocalCluster of our own, ``--scheduler ADDRESS`` / ``GZ_DASK_SCHEDULER`` to join one) and the
same part files as the single-process :func:`core.explain.embed_set.embed_set`: the galaxies
not yet in ``OUT`` or ``OUT.parts/`` are cut into partitions of ``partition_rows`` in set
order, partition i becomes ``OUT.parts/part-NNNNN.parquet`` (written whole or not at all, with
the model's metadata), and at the end :func:`core.explain.embed_set.merge_parts` merges
``OUT`` and the parts into ``OUT`` in that order. So a killed client, scheduler or worker
loses at most the partitions in flight: a rerun (on either engine) skips every ID already in a
part, and parts from another model are refused, never mixed. Workers load the run once per
process (:func:`core.cluster.predict._worker_model`) and read images from the paths the client
gives: on a real cluster, a shared filesystem.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.cluster.engine import Engine, dashboard_link, dask_client
from core.cluster.predict import _worker_model
from core.explain.embed_set import EmbedResult, _done_ids, _embed_chunk, index_meta, merge_parts, parts_dir
from core.explain.index_file import write_index
from core.inference.batch import _CropChooser, still_to_do
from core.inference.galaxy_sets import GalaxySet

#: Galaxies per task by default (a few seconds to a minute of work for one worker process).
DEFAULT_PARTITION_ROWS = 2000

#: ``progress(rows_done, rows_total, partitions_done, partitions_total)``.
ClusterProgress = Callable[[int, int, int, int], None]


@dataclass
class ClusterEmbedding(EmbedResult):
    """:class:`core.explain.embed_set.EmbedResult` plus the partitions and the Dask dashboard."""

    partitions: int = 0
    dashboard: str | None = None


def embed_partition(run_dir: str, gset: GalaxySet, part: str, views: int, crop_fraction: float | None,
                    batch_size: int) -> tuple[int, list[tuple[str, str]]]:
    """Worker task: embed ``gset`` into the part file ``part`` (whole or absent); (rows, refused images)."""
    run = _worker_model(run_dir)
    good, vectors, failed = _embed_chunk(run, gset, list(range(len(gset))), _CropChooser(run, crop_fraction),
                                         views, batch_size)
    if good:  # every image refused: no part (the IDs stay to do, as on one process)
        write_index(part, [gset.ids[i] for i in good], vectors, index_meta(run, views))
    return len(good), failed


def embed_on_cluster(engine: Engine, run, gset: GalaxySet, out: str | os.PathLike, *, views: int = 4,
                     crop_fraction: float | None = None, batch_size: int = 64,
                     partition_rows: int = DEFAULT_PARTITION_ROWS,
                     progress: ClusterProgress | None = None) -> ClusterEmbedding:
    """Embed every galaxy of ``gset`` not yet in ``out`` on ``engine`` and merge everything into ``out``.

    ``run`` is the LoadedModel (its folder is what the workers load; its metadata is checked
    against ``out`` and its parts here, before any task is sent).
    """
    if partition_rows < 1:
        raise ValueError(f"--partition-rows must be at least 1, got {partition_rows}")
    out = Path(out)
    meta = index_meta(run, views)
    done, parts = _done_ids(out, meta)
    todo = still_to_do(gset, None, done_ids=done)
    bounds = [(s, min(s + partition_rows, len(todo))) for s in range(0, len(todo), partition_rows)]
    result = ClusterEmbedding(embedded=0, skipped=len(gset) - len(todo), path=out, partitions=len(bounds))
    first = 1 + max((int(p.stem.split("-")[1]) for p in parts), default=-1)
    if progress:
        progress(0, len(todo), 0, len(bounds))
    if bounds:
        from distributed import as_completed

        run_dir = str(Path(run.run_dir).resolve())
        parts_dir(out).mkdir(parents=True, exist_ok=True)
        with dask_client(engine) as client:
            result.dashboard = dashboard_link(client)
            futures = {client.submit(embed_partition, run_dir, gset.subset(todo[s:e]),
                                     str(parts_dir(out) / f"part-{first + i:05d}.parquet"), views, crop_fraction,
                                     batch_size, key=f"gz-embed-part-{i:05d}-{os.getpid()}", pure=False): i
                       for i, (s, e) in enumerate(bounds)}
            rows_done = n_done = 0
            for future in as_completed(futures):
                n, failed = future.result()
                s, e = bounds[futures[future]]
                result.embedded += n
                result.failed += failed
                rows_done, n_done = rows_done + (e - s), n_done + 1
                if progress:
                    progress(rows_done, len(todo), n_done, len(bounds))
    result.rows = (merge_parts(out, meta) if (result.embedded or parts or not out.exists()) else len(done))
    return result
