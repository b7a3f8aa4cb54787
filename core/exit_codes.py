"""The exit codes of every ``python -m core`` command (one table, shown in ``--help`` and the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit status; the docstring of each member is what ``--help`` prints."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    CANCELLED = 3
    BUSY = 4
    DISK_FULL = 5
    OUTPUT_FAILED = 6


#: What each code means, in the words ``--help`` and the README use.
MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.FAILED: "the work ran but some of it failed (downloads, refused images, rejected catalogue rows, a failed run)",
    ExitCode.BAD_INPUT: "bad input or usage: a file, column or option that cannot be used",
    ExitCode.CANCELLED: "cancelled (CANCEL file or SIGTERM); finished work is kept",
    ExitCode.BUSY: "another job already holds this folder's lock",
    ExitCode.DISK_FULL: "the disk is full; the job stopped at once and kept what it had written",
    ExitCode.OUTPUT_FAILED: "an output file could not be written",
}


def epilog() -> str:
    """The exit-code table as ``--help`` text."""
    lines = ["exit codes:"] + [f"  {int(code)}  {text}" for code, text in MEANINGS.items()]
    return "\n".join(lines)
