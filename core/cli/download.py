"""``python -m core download``: fetch one SDSS cutout per galaxy of a catalogue.

Exit codes: 0 every galaxy has a valid image; 1 some galaxies failed (see the
failures CSV); 2 bad input (catalogue, settings); 3 cancelled; 4 another job
is already running in the image folder.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

from core import jobs
from core.config import get_settings
from core.images.cutouts import (
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    SDSS_NATIVE_SCALE,
    SOURCE_BASE_URLS,
    CutoutSettings,
    CutoutSettingsError,
)
from core.images.download import FAILURES_NAME, DownloadOptions, Outcome, run_download, targets_from_table

#: When this process started (close enough): a CANCEL file older than this is a leftover.
_STARTED_AT = time.time()

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_BUSY = 0, 1, 2, 3, 4


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    settings = get_settings()
    p = subparsers.add_parser(
        "download",
        help="download SDSS cutouts, one <OBJID>.jpg per galaxy",
        description=(
            "Download one SDSS JPEG cutout per galaxy into an image folder, named <OBJID>.jpg. "
            "The catalogue may be any form `catalog` reads that has positions (GZ1 Table 2, the "
            "13-column form, decimal degrees, zooSpec export) or a bare OBJID,RA,DEC list in decimal "
            "degrees or sexagesimal. Valid images already in the folder are skipped, so running the "
            "same command again resumes an interrupted job. Exit codes: 0 all images present, "
            "1 some failed (see the failures CSV), 2 bad input, 3 cancelled, 4 folder busy."),
    )
    p.add_argument("catalog", type=Path, help="catalogue CSV (.csv or .csv.gz) with OBJID, RA and DEC")
    p.add_argument("--images", type=Path, default=None,
                   help=f"image folder (default: {settings.images_dir}, or $GZ_IMAGES_DIR)")
    p.add_argument("--limit", type=int, default=None, help="only the first N galaxies of the catalogue")
    p.add_argument("--source", choices=sorted(SOURCE_BASE_URLS), default="dr18",
                   help="cutout service and URL style: dr18 (current SkyServer) or dr7 (original GZ1 tool)")
    p.add_argument("--base-url", default=None,
                   help="replace the service's base URL, keeping its URL style (also $GZ_CUTOUT_BASE_URL)")
    p.add_argument("--scale", type=float, default=SDSS_NATIVE_SCALE,
                   help=f"arcsec per pixel (SDSS native {SDSS_NATIVE_SCALE}; default %(default)s)")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE,
                   help=f"width and height in pixels, {MIN_SIZE}-{MAX_SIZE} (default %(default)s)")
    p.add_argument("--width", type=int, default=None, help="width in pixels (overrides --size)")
    p.add_argument("--height", type=int, default=None, help="height in pixels (overrides --size)")
    p.add_argument("--workers", type=int, default=settings.download_workers,
                   help="parallel requests (default %(default)s, $GZ_DOWNLOAD_WORKERS; please stay polite)")
    p.add_argument("--timeout", type=float, default=30.0, help="read timeout per request, seconds (default 30)")
    p.add_argument("--retries", type=int, default=3,
                   help="extra tries after timeouts, connection errors and 5xx, with backoff (default 3)")
    p.add_argument("--backoff", type=float, default=1.0,
                   help="first retry delay in seconds, doubled each further retry, with jitter (default 1)")
    p.add_argument("--min-interval", type=float, default=0.0,
                   help="minimum seconds between request starts across all workers (default 0)")
    p.add_argument("--failures", type=Path, default=None,
                   help=f"also copy the failures CSV here (it is always written to <images>/{FAILURES_NAME})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    return p


def _error(message: str, folder: Path | None = None) -> int:
    print(f"error: {message}", file=sys.stderr)
    if folder is not None:
        # Let the dashboard see why a job it started never ran.
        try:
            with jobs.JobLock(folder):
                jobs.write_state(folder, {"kind": "download", "status": "error", "message": message})
        except jobs.JobBusy:
            pass
    return EXIT_BAD_INPUT


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
    out = []
    for _, row in rejected.iterrows():
        out.append(Outcome(
            objid=str(row.get("OBJID", "")), ra=_nan_to_float(row.get("RA")), dec=_nan_to_float(row.get("DEC")),
            status="failed", reason=f"catalogue row {row.get('ROW', '?')} rejected: {row.get('PROBLEMS', '')}"))
    return out


def run(args: argparse.Namespace) -> int:
    from core.catalog.reader import CatalogReadError, load_catalog

    folder = (args.images or get_settings().images_dir).expanduser().resolve()
    try:
        cutout = CutoutSettings(
            source=args.source, base_url=args.base_url, scale=args.scale,
            width=args.width if args.width is not None else args.size,
            height=args.height if args.height is not None else args.size,
        ).validated()
        options = DownloadOptions.default(
            workers=args.workers, read_timeout=args.timeout, connect_timeout=min(10.0, args.timeout),
            max_attempts=args.retries + 1, backoff_base=args.backoff, min_interval=args.min_interval,
        ).validated()
    except (CutoutSettingsError, ValueError) as exc:
        return _error(str(exc), folder)
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
            f"{args.catalog} has no RA/DEC columns (detected form: {result.form}); a download needs "
            "OBJID, RA and DEC: use GZ1 Table 2, the 13-column form or an OBJID,RA,DEC list", folder)
    targets = targets_from_table(result.table, limit=args.limit)
    rejected = [] if args.limit is not None else _rejected_outcomes(result)
    if not targets and not rejected:
        return _error(f"{args.catalog} has no usable rows", folder)
    if rejected:
        print(f"warning: {len(rejected)} catalogue row(s) rejected by validation; listed as failures",
              file=sys.stderr)

    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=len(targets) + len(rejected), unit="img", desc="cutouts", file=sys.stderr)

    def on_progress(state: dict) -> None:
        if bar is not None:
            bar.n = state["processed"]
            bar.set_postfix(new=state["done"], skipped=state["skipped"], failed=state["failed"], refresh=False)
            bar.refresh()

    jobs.install_sigterm_as_cancel(folder)
    try:
        summary = run_download(targets, folder, cutout, options, on_progress=on_progress,
                               description=f"{args.catalog.name} -> {folder}", cancel_since=_STARTED_AT,
                               rejected=rejected)
    except jobs.JobBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BUSY
    finally:
        if bar is not None:
            bar.close()

    failures_path = folder / FAILURES_NAME
    if args.failures is not None:
        args.failures.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(failures_path, args.failures)
        failures_path = args.failures
    print(f"{summary.status}: {summary.total} galaxies, {summary.downloaded} downloaded, "
          f"{summary.skipped} already present, {summary.failed} failed, {summary.pending} not attempted "
          f"in {summary.elapsed_s:.1f} s ({summary.throughput:.2f} images/s) -> {folder}")
    if summary.failed:
        reasons: dict[str, int] = {}
        for f in summary.failures:
            reasons[f.reason.split(":")[0]] = reasons.get(f.reason.split(":")[0], 0) + 1
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {n} x {reason}")
        print(f"failures: {failures_path}")
    if summary.status == "cancelled":
        return EXIT_CANCELLED
    return EXIT_FAILED if summary.failed else EXIT_OK
