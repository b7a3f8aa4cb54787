"""``python -m core votes``: the visitors' votes from the Classify page.

    python -m core votes export OUT.csv [--min-votes K]   # GZ1 Table-2 rows for training
    python -m core votes stats [--json]                  # votes, galaxies, sessions, clients, votes per galaxy

The database is ``GZ_VOTES_URL`` (default: the SQLite file ``<GZ_HOME>/votes.sqlite``) or
``--db URL``. The export has one row per galaxy with at least K votes: OBJID (text), NVOTE,
P_EL, P_CW, P_ACW, P_EDGE, P_DK, P_MG (fractions of the votes) and P_CS = P_CW + P_ACW +
P_EDGE; ``python -m core train --catalog OUT.csv`` reads it as vote fractions weighted by NVOTE.
One client (visitor address, kept only as a keyed hash) votes at most once per galaxy, so
NVOTE counts distinct clients and K is the least number of different visitors per label.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.exit_codes import ExitCode, epilog
from core.wording import count

DB_HELP = "SQLAlchemy URL of the votes database (default: GZ_VOTES_URL or <GZ_HOME>/votes.sqlite)"


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "votes", help="export or summarise the visitors' votes",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""),
        epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--db", metavar="URL", default=None, help=DB_HELP)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write the aggregated votes as a GZ1 Table-2 CSV",
                            epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("out", metavar="OUT.csv", help="output CSV (written atomically; its folder must exist)")
    export.add_argument("--min-votes", type=int, default=1, metavar="K",
                        help="only galaxies with at least K votes, i.e. K different clients (default 1)")
    stats = sub.add_parser("stats", help="print how many votes, galaxies, sessions and clients there are",
                           epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    stats.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    for action in (export, stats):  # --db before or after the action; SUPPRESS keeps the one given before
        action.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=DB_HELP)
    return p


def _print_stats(stats: dict) -> None:
    spread = stats["votes_per_galaxy"]
    print(f"votes     {stats['votes']}")
    print(f"galaxies  {stats['galaxies']}")
    print(f"sessions  {stats['sessions']}")
    print(f"clients   {stats['clients']}")
    print(f"votes per galaxy: min {spread['min']}, median {spread['median']:g}, mean {spread['mean']:g}, "
          f"max {spread['max']}")
    for answer, n in stats["answers"].items():
        print(f"  {answer:<22}{n}")


def run(args: argparse.Namespace) -> int:
    from core.votes.aggregate import summary, write_export
    from core.votes.store import get_engine

    if args.action == "export":  # usage checked before the database is opened (or created)
        if args.min_votes < 1:
            print(f"error: --min-votes must be at least 1, got {args.min_votes}", file=sys.stderr)
            return ExitCode.BAD_INPUT
        if not Path(args.out).resolve().parent.exists():  # never create folders; a file in the way: exit 6
            print(f"error: cannot write {args.out}: its folder {Path(args.out).parent} does not exist",
                  file=sys.stderr)
            return ExitCode.BAD_INPUT
    try:
        engine = get_engine(args.db)
    except Exception as exc:  # a bad URL or an unreachable server: say which, without a traceback
        print(f"error: cannot open the votes database: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
              file=sys.stderr)
        return ExitCode.BAD_INPUT
    if args.action == "stats":
        stats = summary(engine)
        print(json.dumps(stats, sort_keys=True)) if args.json else _print_stats(stats)
        return ExitCode.OK
    try:
        n = write_export(engine, args.out, args.min_votes)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.OUTPUT_FAILED
    print(f"wrote {count(n, 'galaxy', 'galaxies')} with at least {count(args.min_votes, 'vote')} to {args.out}")
    return ExitCode.OK
