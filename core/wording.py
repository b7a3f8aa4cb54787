"""Counts in words, as every page, report and CLI message writes them ("1 galaxy", "1,234 galaxies")."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """``n`` with thousands separators and the noun in the right number (``many`` defaults to ``one + "s"``)."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
