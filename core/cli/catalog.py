"""``python -m core catalog``: read, validate and convert a GZ1 catalogue; write its outputs.

Prints the validation report. Exit codes (:class:`core.exit_codes.ExitCode`): OK (0) every
row is clean; FAILED (1) some rows were rejected (as predict's "some images unusable": the
clean rows are still written, the rejected ones are listed in the report and, with
``--rejected``, written out); BAD_INPUT (2) the input cannot be read at all, or an asked-for output needs columns it
lacks (e.g. the training CSV from a table without all nine fractions); OUTPUT_FAILED (6)
an output file cannot be written (DISK_FULL (5) when the disk is full).
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from pathlib import Path

from core.atomic import write_bytes_atomic
from core.catalog.exports import (
    ExportError,
    clean_csv_bytes,
    image_list_files,
    rejected_csv_bytes,
    training_csv_bytes,
)
from core.catalog.reader import CatalogReadError, load_catalog
from core.exit_codes import ExitCode, epilog


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "catalog",
        help="read, validate and convert a GZ1 Table 2 CSV",
        description=(
            "Read a Galaxy Zoo 1 catalogue (.csv or .csv.gz: Table 2 with 16 or 13 columns, "
            "sexagesimal or decimal RA/DEC, a SkyServer zooSpec export, the 10-column training "
            "form, or an OBJID,RA,DEC list), print the validation report and write the outputs."
        ),
        epilog=(
            "example: python -m core catalog GalaxyZoo1_DR_table2.csv.gz --out clean.csv "
            "--image-list lists/ --training-out training.csv --report report.txt\n\n" + epilog()
            + "\n\nA catalogue with some rejected rows exits 1: the clean rows are still written, the rejected "
              "ones are listed in the report (and written with --rejected)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", metavar="IN", help="catalogue file (.csv or .csv.gz)")
    parser.add_argument("--out", metavar="CLEAN.csv", type=Path,
                        help="write the cleaned 13-column table (RA/DEC in decimal degrees)")
    parser.add_argument("--image-list", metavar="DIR", type=Path,
                        help="write SDSS Image List Tool files (name ra dec, at most 1000 per file) into DIR")
    parser.add_argument("--training-out", metavar="FILE", type=Path,
                        help="write the 10-column training CSV (OBJ_ID + nine vote fractions)")
    parser.add_argument("--report", metavar="FILE", type=Path,
                        help="also write the report to FILE (JSON when FILE ends in .json, else text)")
    parser.add_argument("--rejected", metavar="FILE", type=Path,
                        help="write the rejected rows (original values, ROW, PROBLEMS) as CSV")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return parser


def run(args: argparse.Namespace) -> int:
    if not Path(args.input).is_file():  # name the path as given, not just its file name
        print(f"error: cannot read catalogue: {args.input}: no such file", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        result = load_catalog(args.input)
    except CatalogReadError as exc:
        print(f"error: cannot read catalogue: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT

    report_text = result.report.to_text()
    if not args.quiet:
        print(report_text)
    try:
        written = _write_outputs(args, result, report_text)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except OSError as exc:
        print(f"error: cannot write {exc.filename or 'an output'}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.DISK_FULL if exc.errno == errno.ENOSPC else ExitCode.OUTPUT_FAILED
    if not args.quiet:
        for path in written:
            print(f"wrote {path}")
    return ExitCode.FAILED if len(result.rejected) else ExitCode.OK


def _write_outputs(args: argparse.Namespace, result, report_text: str) -> list[str]:
    """Write every output asked for; returns their paths. Raises ExportError or OSError."""
    written: list[str] = []
    if args.out:
        written.append(str(write_bytes_atomic(args.out, clean_csv_bytes(result.table))))
    if args.training_out:
        written.append(str(write_bytes_atomic(args.training_out, training_csv_bytes(result.table))))
    if args.image_list:
        files = image_list_files(result.table)
        for name, data in files:
            written.append(str(write_bytes_atomic(args.image_list / name, data)))
        # Parts left from an earlier, longer list would be mistaken for this one.
        current = {name for name, _ in files}
        for stale in args.image_list.glob("image_list*.txt"):
            if stale.name not in current:
                stale.unlink()
    if args.rejected:
        written.append(str(write_bytes_atomic(args.rejected, rejected_csv_bytes(result.rejected))))
    if args.report:
        if args.report.suffix.lower() == ".json":
            payload = json.dumps(result.report.to_dict(), indent=2) + "\n"
        else:
            payload = report_text + "\n"
        written.append(str(write_bytes_atomic(args.report, payload.encode("utf-8"))))
    return written
