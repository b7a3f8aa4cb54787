"""Shape limits a catalogue must meet before it is parsed: columns in the header, bytes in a line.

The memory bound of ``docs/SECURITY.md`` (peak <= 6x the decompressed text + 64 MB) holds for
tall files by construction; these limits make it hold for wide ones too. Every column costs
Arrow, pandas and the checks a fixed overhead (about 13 KB measured), so a 2.8 MB file of
300,000 one-character columns once peaked at 3.6 GB; and a line longer than Arrow's parse
block fails with an unhelpful message. Real catalogues have 3-40 columns and lines of a
few hundred bytes, so both limits are far above anything genuine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.catalog.result import CatalogReadError

#: Most columns a catalogue's header may name (GZ1 Table 2 has 16, a zooSpec export about 30).
MAX_COLUMNS = 1000
#: Longest line accepted, in bytes, line end excluded (a Table 2 row is about 110 bytes).
MAX_LINE_BYTES = 1 << 20
#: Bytes scanned at a time (bounds the scan's working memory to about 25 MB, whatever the lines).
_SCAN_BYTES = 1 << 20
_MB = 1 << 20


#: Measured worst-case memory the reader spends per data row and per cell, in bytes (Arrow offsets,
#: row numbers, the checks' arrays, the rejected-rows frame): a 20 MB file of ",,\n" rows (all
#: rejected) peaked at 1.02 GB, one of 20,000 rows x 1000 empty cells at 338 MB.
ROW_COST_BYTES = 110
CELL_COST_BYTES = 28
#: The stated bound (docs/SECURITY.md): peak memory <= PEAK_MULTIPLE x the text + PEAK_SLACK_BYTES.
PEAK_MULTIPLE = 6
PEAK_SLACK_BYTES = 64 << 20


@dataclass(frozen=True)
class TextShape:
    """Counts from one scan of a catalogue's text (before any parsing)."""

    lines: int  #: line ends, plus one for a last line without one
    commas: int  #: commas anywhere (an upper bound on the separators: quoted text may hold some)
    long_line: tuple[int, int] | None  #: (1-based line number, bytes) of the first line over the limit

    @property
    def cells(self) -> int:
        """An upper bound on the fields: one per line plus one per comma."""
        return self.lines + self.commas

    def estimated_peak(self) -> int:
        """The reader's worst-case memory for this text, in bytes (header row included, harmless)."""
        return ROW_COST_BYTES * self.lines + CELL_COST_BYTES * self.cells


def scan(data: bytes, limit: int = MAX_LINE_BYTES) -> TextShape:
    """Count lines and commas of ``data`` and find its first line longer than ``limit`` bytes.

    Works through the text in blocks of 1 MB with NumPy, so it costs at most about 25 MB, whatever the text's
    size in memory; it stops at the first line over the limit.
    """
    view = np.frombuffer(data, dtype=np.uint8)
    start, lines, commas = 0, 0, 0  # where the current line starts; lines ended so far
    for offset in range(0, len(view), _SCAN_BYTES):
        block = view[offset:offset + _SCAN_BYTES]
        commas += int(np.count_nonzero(block == 0x2C))
        ends = np.flatnonzero(block == 0x0A) + offset
        if len(ends):
            starts = np.empty_like(ends)
            starts[0], starts[1:] = start, ends[:-1] + 1
            long = np.flatnonzero(ends - starts > limit)
            if len(long):
                return TextShape(lines + int(long[0]), commas, (lines + int(long[0]) + 1, int(ends[long[0]] - starts[long[0]])))
            lines += len(ends)
            start = int(ends[-1]) + 1
    tail = len(view) - start
    long_line = (lines + 1, tail) if tail > limit else None
    return TextShape(lines + (tail > 0), commas, long_line)


def check_shape(data: bytes, name: str, limit: int = MAX_LINE_BYTES) -> TextShape:
    """Refuse, before parsing, text whose lines are too long or whose shape would break the memory bound.

    Raises :class:`CatalogReadError` naming the first line over ``limit`` bytes, or the row and
    cell counts when reading them would need more than ``PEAK_MULTIPLE`` x the text +
    ``PEAK_SLACK_BYTES`` (files of millions of nearly empty rows or cells; a real catalogue's rows
    of 25 bytes or more, with about 7 bytes a field, pass).
    """
    shape = scan(data, limit)
    if shape.long_line is not None:
        line, length = shape.long_line
        raise CatalogReadError(f"{name}: line {line:,} is {length:,} bytes long, more than the {limit:,} a "
                               "catalogue line may have; is this a catalogue?")
    allowed = PEAK_MULTIPLE * len(data) + PEAK_SLACK_BYTES
    if shape.estimated_peak() > allowed:
        raise CatalogReadError(
            f"{name}: {shape.lines:,} lines and up to {shape.cells:,} fields in {len(data) / _MB:,.1f} MB "
            f"(about {len(data) / max(1, shape.lines):,.0f} bytes a line): reading that many nearly empty "
            f"rows or fields would need about {shape.estimated_peak() / _MB:,.0f} MB, more than the "
            f"{allowed / _MB:,.0f} MB allowed for a file this size ({PEAK_MULTIPLE}x its size + "
            f"{PEAK_SLACK_BYTES >> 20} MB); is this a catalogue?")
    return shape


def check_column_count(n_columns: int, name: str, limit: int = MAX_COLUMNS) -> None:
    """Raise :class:`CatalogReadError` when the header names more than ``limit`` columns."""
    if n_columns > limit:
        raise CatalogReadError(f"{name}: the header names {n_columns:,} columns, more than the {limit:,} a "
                               "catalogue may have; keep only the columns you need")
