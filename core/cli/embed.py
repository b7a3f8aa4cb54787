"""``python -m core embed``: the model's embedding (penultimate features) of every galaxy of a set.

    python -m core embed --model models/demo --images DIR [--catalog CSV] --out EMB.parquet
    python -m core embed --images DIR --out EMB.parquet --cluster 2
    python -m core embed --images DIR --out EMB.parquet --scheduler tcp://HOST:8786

writes one row per galaxy, ``ID`` then ``E0`` ... ``E<D-1>`` (float32), to a parquet file
whose metadata names the model (run path, SHA-256 of model.pt), the dimension D and the
views, so ``similar`` can refuse an index from another model. Chunks are kept in
EMB.parquet.parts/ as they finish: an interrupted run continues where it stopped.
With --cluster N (a Dask LocalCluster of N processes on 127.0.0.1) or --scheduler
ADDRESS (default $GZ_DASK_SCHEDULER) each partition of --partition-rows galaxies is one
Dask task writing one part (core.explain.embed_cluster); the result is the same file.
"""

from __future__ import annotations

import argparse
import sys

from core.cluster.engine import add_engine_arguments
from core.exit_codes import ExitCode, epilog
from core.explain.embed_cluster import DEFAULT_PARTITION_ROWS
from core.images.crop import add_crop_option


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "embed", help="embed every galaxy of a set (model features) into a parquet index",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""),
        epilog=epilog() + "\n\nA set with some unusable images exits 1: they are listed on stderr and the "
        "rest are written.", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", metavar="RUN", help="run folder, or a run's name (your runs first, then the shipped "
                   "models/); default: demo (yours if you trained one, else the shipped models/demo)")
    p.add_argument("--images", metavar="DIR", required=True, help="image folder; alone: every image in it")
    p.add_argument("--catalog", metavar="CSV", help="catalogue or label CSV: embed only its galaxies")
    p.add_argument("--out", metavar="EMB.parquet", required=True, help="index file to write or continue")
    p.add_argument("--views", type=int, choices=(1, 4), default=4,
                   help="1: the image as framed; 4 (default): mean over its four 90-degree rotations")
    add_crop_option(p, "centre crop, fraction of the shorter side (default: the model's framing)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="images per forward pass")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_arguments(p)
    p.add_argument("--partition-rows", type=int, metavar="N", default=DEFAULT_PARTITION_ROWS,
                   help=f"galaxies per Dask task with --cluster/--scheduler (default {DEFAULT_PARTITION_ROWS})")
    return p


def run(args) -> int:
    from core.cli.explain import load_model
    from core.cluster.engine import EngineError, engine_from_args
    from core.explain.embed_set import embed_set
    from core.explain.index_file import IndexFileError
    from core.images.reading import ImageInputError
    from core.inference.galaxy_sets import set_from_catalog_file, set_from_folder
    from core.labels.targets import LabelError
    from core.training.checkpoint import CheckpointError

    try:
        engine = engine_from_args(args)
        gset = set_from_catalog_file(args.catalog, args.images) if args.catalog else set_from_folder(args.images)
        if len(gset) == 0:
            raise ValueError(f"no images to embed in {args.images}")
        model = load_model(args.model)
        bar = None
        if not args.no_progress:
            from tqdm import tqdm

            bar = tqdm(unit="img", desc=f"embed {gset.name}")

        def show(done: int, total: int) -> None:
            if bar is not None:
                bar.total = total
                bar.update(done - bar.n)
        try:
            if engine.distributed:
                result = _on_cluster(args, engine, model, gset, show)
            else:
                result = embed_set(model, gset, args.out, views=args.views, batch_size=args.batch_size,
                                   crop_fraction=args.crop_fraction, progress=show)
        finally:
            if bar is not None:
                bar.close()
    except (IndexFileError, ImageInputError, CheckpointError, LabelError, FileNotFoundError, EngineError,
            ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except OSError as exc:
        print(f"error: cannot write {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.OUTPUT_FAILED
    where = f"; {result.partitions} partitions on {engine.describe()}" if engine.distributed else ""
    print(f"{result.embedded} embedded, {result.skipped} already in {args.out}, {len(result.failed)} refused; "
          f"{result.rows} rows x {model.model.raw_head.in_features} features; model {model.run_id}{where}",
          file=sys.stderr)
    for gid, msg in result.failed[:20]:
        print(f"  refused {gid}: {msg}", file=sys.stderr)
    return ExitCode.FAILED if result.failed else ExitCode.OK


def _on_cluster(args, engine, model, gset, show):
    """The embedding on Dask (core.explain.embed_cluster); the bar counts galaxies as partitions finish."""
    from core.explain.embed_cluster import embed_on_cluster

    print(f"embedding {len(gset)} galaxies on {engine.describe()}", file=sys.stderr)
    return embed_on_cluster(engine, model, gset, args.out, views=args.views, crop_fraction=args.crop_fraction,
                            batch_size=args.batch_size, partition_rows=args.partition_rows,
                            progress=lambda rows, total, parts, n_parts: show(rows, total))
