"""``python -m core download``: fetch one SDSS cutout per galaxy of a catalogue.

The cutout and network flags are derived from :class:`core.images.download_config.DownloadConfig`;
exit codes are :class:`core.exit_codes.ExitCode`.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

from core import jobs
from core.cluster.engine import EngineError, add_engine_arguments, engine_from_args
from core.config import get_settings
from core.exit_codes import ExitCode, epilog
from core.images.cutouts import CutoutSettingsError, check_cutout_host
from core.images.download import DiskFull, DownloadSummary, run_download
from core.images.download_config import DownloadConfig, add_arguments
from core.images.failures import FAILURES_NAME, Outcome, OutcomeStatus
from core.images.selection import targets_from_table
from core.jobs import JobKind, JobState, JobStatus

#: When this process started (close enough): a CANCEL file older than this is a leftover.
_STARTED_AT = time.time()


def _default_partition_rows() -> int:
    from core.cluster.download import DEFAULT_PARTITION_ROWS

    return DEFAULT_PARTITION_ROWS


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    settings = get_settings()
    defaults = DownloadConfig()
    p = subparsers.add_parser(
        "download",
        help="download SDSS cutouts, one <OBJID>.jpg per galaxy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=epilog(),
        description=(
            "Download one SDSS JPEG cutout per galaxy into an image folder, named <OBJID>.jpg.\n"
            "The catalogue may be any form `catalog` reads that has positions (GZ1 Table 2, the\n"
            "13-column form, decimal degrees, zooSpec export) or a bare OBJID,RA,DEC list in decimal\n"
            "degrees or sexagesimal. Valid images already in the folder are skipped, so running the\n"
            "same command again resumes an interrupted job and retries its failures.\n\n"
            f"Time bound (defaults): {defaults.worst_case_text()}.\n"
            "In general: (retries + 1) x max(deadline, connect-timeout) + the retry delays (backoff doubled\n"
            f"per retry, at most {defaults.backoff_max:g} s each). Raise --deadline or --retries only for a slow service.\n\n"
            "On Dask (--cluster N or --scheduler ADDRESS): the galaxies are split into partitions, one task\n"
            "each, and --workers bounds the requests in flight across the WHOLE cluster (a Dask semaphore),\n"
            "whatever the number of Dask workers; the image folder must be on a filesystem every worker sees."),
    )
    p.add_argument("catalog", type=Path, help="catalogue CSV (.csv or .csv.gz) with OBJID, RA and DEC")
    p.add_argument("--images", type=Path, default=None,
                   help=f"image folder (default: {settings.images_dir}, or $GZ_IMAGES_DIR)")
    p.add_argument("--limit", type=int, default=None, help="only the first N galaxies of the catalogue")
    add_arguments(p)
    p.add_argument("--failures", type=Path, default=None,
                   help=f"also copy the failures CSV here (it is always written to <images>/{FAILURES_NAME})")
    p.add_argument("--selection", default="", help="words describing which galaxies these are, kept with the job")
    p.add_argument("--only-allowed-hosts", action="store_true",
                   help="refuse cutout hosts other than SDSS's, $GZ_CUTOUT_BASE_URL's and $GZ_CUTOUT_HOSTS "
                        "(the dashboard starts its jobs this way)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    add_engine_arguments(p)
    p.add_argument("--partition-rows", type=int, metavar="N", default=None,
                   help=f"galaxies per Dask task (default {_default_partition_rows()})")
    return p


def _error(message: str, folder: Path | None = None, code: ExitCode = ExitCode.BAD_INPUT) -> int:
    print(f"error: {message}", file=sys.stderr)
    if folder is not None:
        # Let the dashboard see why a job it started never ran.
        try:
            with jobs.JobLock(folder):
                jobs.write_state(folder, JobState(kind=JobKind.DOWNLOAD, status=JobStatus.FAILED,
                                                  message=message).to_dict())
        except (jobs.JobBusy, OSError):
            pass
    return int(code)


def _nan_to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _rejected_outcomes(result) -> list[Outcome]:
    """Catalogue rows that failed validation become failures, so no galaxy disappears silently."""
    rejected = getattr(result, "rejected", None)
    if rejected is None or len(rejected) == 0:
        return []
    return [Outcome(objid=str(row.get("OBJID", "")), ra=_nan_to_float(row.get("RA")),
                    dec=_nan_to_float(row.get("DEC")), status=OutcomeStatus.FAILED,
                    reason=f"catalogue row {row.get('ROW', '?')} rejected: {row.get('PROBLEMS', '')}")
            for _, row in rejected.iterrows()]


def _load(args: argparse.Namespace, folder: Path):
    """(targets, rejected) from the catalogue, or an exit code after reporting the problem."""
    from core.catalog.reader import CatalogReadError, load_catalog

    if args.limit is not None and args.limit < 1:
        return _error(f"--limit must be at least 1, got {args.limit}", folder)
    if not args.catalog.exists():
        return _error(f"catalogue file not found: {args.catalog}", folder)
    try:
        result = load_catalog(args.catalog)
    except (CatalogReadError, ValueError, OSError) as exc:
        return _error(str(exc), folder)
    if not result.has_positions:
        return _error(
            f"{args.catalog} has no RA/DEC columns (detected form: {result.form_label}); a download needs "
            "OBJID, RA and DEC: use GZ1 Table 2, the 13-column form or an OBJID,RA,DEC list", folder)
    targets = targets_from_table(result.table, limit=args.limit)
    rejected = [] if args.limit is not None else _rejected_outcomes(result)
    if not targets and not rejected:
        return _error(f"{args.catalog} has no usable rows", folder)
    if rejected:
        print(f"warning: {len(rejected)} catalogue row(s) rejected by validation; listed as failures",
              file=sys.stderr)
    return targets, rejected


def run(args: argparse.Namespace) -> int:
    folder = (args.images or get_settings().images_dir).expanduser().resolve()
    try:
        config = DownloadConfig.from_args(args).validated().resolved()
        if args.only_allowed_hosts:
            check_cutout_host(config.cutout().resolved_base_url())
    except (CutoutSettingsError, ValueError) as exc:
        return _error(str(exc), folder)
    try:
        engine = engine_from_args(args)
    except EngineError as exc:
        return _error(str(exc), folder)
    loaded = _load(args, folder)
    if isinstance(loaded, int):
        return loaded
    targets, rejected = loaded
    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(targets) + len(rejected), unit="img", desc="cutouts", file=sys.stderr)

    def on_progress(state: JobState) -> None:
        if bar is not None:
            bar.n = state.progress["processed"]
            bar.set_postfix(new=state.done, skipped=state.skipped, failed=state.failed, refresh=False)
            bar.refresh()

    jobs.install_sigterm_as_cancel(folder)
    job_settings = {"catalog": str(args.catalog.expanduser().resolve()), "limit": args.limit,
                    "selection": args.selection, "engine_args": []}
    if engine.distributed:
        rows = _default_partition_rows() if args.partition_rows is None else args.partition_rows
        job_settings["engine_args"] = [*engine.cli_args(), "--partition-rows", str(rows)]
    try:
        if engine.distributed:
            summary = _run_on_cluster(args, engine, targets, folder, config, on_progress, job_settings, rejected)
        else:
            summary = run_download(targets, folder, config, on_progress=on_progress, job_settings=job_settings,
                                   cancel_since=_STARTED_AT, rejected=rejected)
    except EngineError as exc:
        return _error(str(exc), folder)
    except jobs.JobBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(ExitCode.BUSY)
    except DiskFull as exc:
        return _error(f"the disk is full: {exc.strerror}", None, ExitCode.DISK_FULL)
    finally:
        if bar is not None:
            bar.close()
    return _report(summary, folder, args.failures)


def _run_on_cluster(args, engine, targets, folder, config, on_progress, job_settings, rejected) -> DownloadSummary:
    from core.cluster.download import describe_partitions, download_on_cluster

    rows = _default_partition_rows() if args.partition_rows is None else args.partition_rows
    if rows < 1:
        raise EngineError(f"--partition-rows must be at least 1, got {rows}")
    print(f"downloading {len(targets)} galaxies on {engine.describe()}, {describe_partitions(len(targets), rows)}, "
          f"at most {config.workers} requests in flight", file=sys.stderr)
    return download_on_cluster(engine, targets, folder, config, on_progress=on_progress, job_settings=job_settings,
                               cancel_since=_STARTED_AT, rejected=rejected, partition_rows=rows)


def _report(summary: DownloadSummary, folder: Path, copy_to: Path | None) -> int:
    failures_path = folder / FAILURES_NAME
    if copy_to is not None and summary.status != JobStatus.DISK_FULL:
        try:
            copy_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(failures_path, copy_to)
            failures_path = copy_to
        except OSError as exc:
            print(f"error: could not copy the failures CSV to {copy_to}: {exc.strerror or exc}", file=sys.stderr)
            return int(ExitCode.OUTPUT_FAILED)
    print(f"{summary.status}: {summary.total} galaxies, {summary.downloaded} downloaded, "
          f"{summary.skipped} already present, {summary.failed} failed, {summary.pending} not attempted "
          f"in {summary.elapsed_s:.1f} s ({summary.throughput:.2f} images/s) -> {folder}")
    if summary.failed:
        reasons: dict[str, int] = {}
        for f in summary.failures:
            key = f.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {n} x {reason}")
        print(f"failures: {failures_path}")
    if summary.status == JobStatus.DISK_FULL:
        print(f"error: the disk is full ({summary.message}); the job stopped", file=sys.stderr)
        return int(ExitCode.DISK_FULL)
    if summary.status == JobStatus.CANCELLED:
        return int(ExitCode.CANCELLED)
    return int(ExitCode.FAILED if summary.failed else ExitCode.OK)
