"""``python -m core predict``: the nine GZ1 vote fractions for one image or a whole set.

One image (the original tool's form)::

    python -m core predict 587739156582301791 galaxy.jpg [--model models/RUN] [--out predictions.csv]

appends one row ``ID,IMAGE,P_EL,...,P_CS_DEBIASED`` to the output CSV (created
with a header if needed). The ID is kept exactly as typed, as text.

A set::

    python -m core predict --catalog CSV --images DIR --out FILE [--tta]
    python -m core predict --images DIR --out FILE          # every image in DIR, ID = file stem

streams one row per galaxy to FILE with a progress bar; IDs already in FILE
are skipped, so an interrupted run continues where it stopped.

A whole catalogue on Dask (same output, within 1e-5)::

    python -m core predict --catalog CSV --images DIR --out FILE --cluster 2
    python -m core predict --catalog CSV --images DIR --out FILE --scheduler tcp://HOST:8786

splits the galaxies into partitions (--partition-rows), one task and one
FILE.parts/part-NNNNN.csv each; a rerun keeps finished partitions; FILE is their
merge in catalogue order. Images and FILE must be on paths every worker sees.
With ``--job-folder DIR`` (how the dashboard starts it) the run is a background job:
progress in DIR/state.json, cancel with DIR/CANCEL or SIGTERM (core.cluster.predict_job).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.cluster.engine import add_engine_arguments
from core.cluster.predict import DEFAULT_PARTITION_ROWS
from core.exit_codes import ExitCode, epilog
from core.images.crop import add_crop_option

_STARTED_AT = time.time()  # a CANCEL file older than this process is a leftover of an earlier job


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        help="predict the nine vote fractions for images",
        description="Predict the nine GZ1 vote fractions (P_EL ... P_CS_DEBIASED, Table-2 order) for one image "
        "or a whole set. Fractions are shares of the human vote the model expects: the six raw answers sum "
        "to 1 and P_CS = P_CW + P_ACW + P_EDGE.\n\n" + __doc__.split("\n\n", 1)[1].replace("``", ""),
        epilog=epilog() + "\n\nA set with some unusable images exits 1: they are listed on stderr and the "
        "rest are written. Columns the model never learned are left blank in the CSV.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("id", nargs="?", metavar="ID",
                   help="galaxy ID for a single image (e.g. an 18-digit OBJID); kept as text")
    p.add_argument("image", nargs="?", metavar="IMAGE", help="a JPEG or PNG image of the galaxy")
    p.add_argument("--model", metavar="RUN",
                   help="run folder with config.json and model.pt, or a run's name (your runs first, then the "
                        "shipped models/); default: demo (yours if you trained one, else the shipped models/demo)")
    p.add_argument("--out", metavar="FILE", default=None,
                   help="CSV to append to (default: predictions.csv in the current folder)")
    p.add_argument("--catalog", metavar="CSV", help="catalogue or label CSV with an OBJID (or FILE) column")
    p.add_argument("--images", metavar="DIR", help="image folder (<OBJID>.jpg files); alone: predict every image in it")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the 8 rotations/flips (P_CW/P_ACW swapped back on flips)")
    add_crop_option(p, "centre crop, fraction of the shorter image side (default: the model's training crop)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N", help="images per forward pass (default 64)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_arguments(p)
    p.add_argument("--partition-rows", type=int, metavar="N", default=DEFAULT_PARTITION_ROWS,
                   help=f"galaxies per Dask task, one part file each (default {DEFAULT_PARTITION_ROWS})")
    p.add_argument("--job-folder", metavar="DIR", default=None,
                   help="run as a background job: hold DIR/job.lock, write progress to DIR/state.json, stop on "
                        "DIR/CANCEL or SIGTERM (the dashboard starts its jobs this way; needs --cluster/--scheduler)")
    return p


def _load(args) -> object:
    import torch

    from core.config import get_settings
    from core.inference.predict import load_run
    from core.inference.runs import resolve_run

    torch.set_num_threads(get_settings().torch_threads)
    run_dir = resolve_run(args.model)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"model run folder {run_dir} does not exist"
                                + ("" if args.model else " (train one, or pass --model models/RUN)"))
    return load_run(run_dir)


def _run_single(args) -> int:
    import numpy as np

    from core.inference.batch import predict_one
    from core.inference.learned import NOT_LEARNED
    from core.inference.predictions_csv import append_prediction, top_answer_codes
    from core.schema import VOTE_COLUMNS

    if not args.id.strip():
        raise ValueError("ID must not be empty")
    model = _load(args)
    image = Path(args.image)
    outputs = predict_one(model, image, tta=args.tta, crop_fraction=args.crop_fraction)
    out = Path(args.out or "predictions.csv")
    append_prediction(out, args.id, image.name, outputs, learned=model.learned)
    values, top_p, sd = outputs[:len(VOTE_COLUMNS)], outputs[len(VOTE_COLUMNS)], outputs[len(VOTE_COLUMNS) + 1:]
    shown = [(f"{c}={v:.3f}" + ("" if np.isnan(e) else f"±{e:.3f}")) if k else f"{c}=({NOT_LEARNED})"
             for c, v, e, k in zip(VOTE_COLUMNS, values, sd, model.learned, strict=True)]
    top = top_answer_codes(values)[0]
    sure = f"TOP_P={top_p:.3f}" if np.isfinite(top_p) else "TOP_P=(no calibration for this run)"
    print(f"{args.id} {image.name} " + " ".join(shown) + f" TOP_ANSWER={top} {sure}")
    print(f"appended to {out}", file=sys.stderr)
    return ExitCode.OK


def _run_set(args) -> int:
    from core.cluster.engine import engine_from_args
    from core.inference.batch import predict_set
    from core.inference.galaxy_sets import set_from_catalog_file, set_from_folder

    if not args.images:
        raise ValueError("--catalog needs --images DIR (the folder with the <OBJID>.jpg files)")
    if not args.out:
        raise ValueError("give --out FILE for a set of images")
    gset = (set_from_catalog_file(args.catalog, args.images) if args.catalog else set_from_folder(args.images))
    if args.catalog and gset.missing:
        print(f"{len(gset.missing)} catalogue IDs have no image in {args.images} "
              f"(first: {', '.join(gset.missing[:5])})", file=sys.stderr)
    if len(gset) == 0:
        raise ValueError(f"no images to predict in {args.images}")
    engine = engine_from_args(args)
    if args.job_folder and not engine.distributed:
        raise ValueError("--job-folder runs on Dask: give --cluster N or --scheduler ADDRESS")
    if engine.distributed:
        return _run_on_cluster(args, engine, gset)
    model = _load(args)
    result = predict_set(model, gset, tta=args.tta, out_csv=args.out, batch_size=args.batch_size,
                         crop_fraction=args.crop_fraction, progress=not args.no_progress)
    n_done = int(result.ok.sum())
    print(f"{n_done} predicted, {result.skipped} already in {args.out}, {len(result.failed)} refused; "
          f"model {model.run_dir.name}{' with TTA' if args.tta else ''}", file=sys.stderr)
    return _report_failures(result.failed)


def _report_failures(failed: list[tuple[str, str]]) -> int:
    for gid, msg in failed[:20]:
        print(f"  refused {gid}: {msg}", file=sys.stderr)
    if len(failed) > 20:
        print(f"  ... and {len(failed) - 20} more", file=sys.stderr)
    return ExitCode.FAILED if failed else ExitCode.OK


def _run_on_cluster(args, engine, gset) -> int:
    from core.cluster.predict import predict_on_cluster

    model = _load(args)  # checks the run here, before any worker is asked to load it
    if args.job_folder:
        return _run_job(args, engine, gset, model)

    def show(rows: int, total: int, parts: int, n_parts: int) -> None:
        if not args.no_progress:
            print(f"  {parts}/{n_parts} partitions, {rows}/{total} galaxies", file=sys.stderr)

    print(f"predicting {len(gset)} galaxies on {engine.describe()}", file=sys.stderr)
    result = predict_on_cluster(engine, model.run_dir, gset, args.out, tta=args.tta, crop_fraction=args.crop_fraction,
                                batch_size=args.batch_size, partition_rows=args.partition_rows, progress=show)
    if result.dashboard:
        print(f"Dask dashboard was at {result.dashboard}", file=sys.stderr)
    print(f"{result.predicted} predicted, {result.skipped} already in {args.out}, {len(result.failed)} refused; "
          f"{result.partitions} partitions ({result.partitions_reused} from an earlier run) on {engine.describe()}; "
          f"model {model.run_dir.name}{' with TTA' if args.tta else ''}", file=sys.stderr)
    return _report_failures(result.failed)


def _run_job(args, engine, gset, model) -> int:
    """The cluster prediction as a job in --job-folder (core.cluster.predict_job)."""
    from core import jobs
    from core.cluster.predict_job import run_predict_job
    from core.jobs import JobStatus

    folder = Path(args.job_folder)
    jobs.install_sigterm_as_cancel(folder)
    print(f"predicting {len(gset)} galaxies on {engine.describe()} as a job in {folder}", file=sys.stderr)
    try:
        status, result = run_predict_job(folder, engine, model.run_dir, gset, args.out, tta=args.tta,
                                         crop_fraction=args.crop_fraction, batch_size=args.batch_size,
                                         partition_rows=args.partition_rows, cancel_since=_STARTED_AT)
    except jobs.JobBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BUSY
    if status == JobStatus.CANCELLED:
        print(f"cancelled; finished partitions are kept in {args.out}.parts (run again to continue)",
              file=sys.stderr)
        return ExitCode.CANCELLED
    print(f"{result.predicted} predicted, {result.skipped} already in {args.out}, {len(result.failed)} refused; "
          f"{result.partitions} partitions ({result.partitions_reused} from an earlier run)", file=sys.stderr)
    return _report_failures(result.failed)


def run(args) -> int:
    from core.images.reading import ImageInputError
    from core.inference.predictions_csv import PredictionsFileError
    from core.labels.targets import LabelError
    from core.training.checkpoint import CheckpointError

    single = args.id is not None or args.image is not None
    try:
        if single and (args.catalog or args.images):
            raise ValueError("give either ID IMAGE (one image) or --catalog/--images (a set), not both")
        if single:
            if args.image is None:
                raise ValueError("give both ID and IMAGE (e.g. predict 587739156582301791 galaxy.jpg)")
            return _run_single(args)
        if args.catalog or args.images:
            return _run_set(args)
        raise ValueError("nothing to predict: give ID IMAGE, or --images DIR [--catalog CSV] --out FILE")
    # ValueError covers the engine options too (core.cluster.engine.EngineError).
    except (ImageInputError, CheckpointError, PredictionsFileError, LabelError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if getattr(args, "job_folder", None):  # let the dashboard see why its job did not run
            from core.cluster.predict_job import record_failure

            record_failure(Path(args.job_folder), str(exc))
        return ExitCode.BAD_INPUT
