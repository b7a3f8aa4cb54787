"""Visitor votes as a training label source: the export paired with every image folder that holds voted galaxies.

The Train page's "Visitor votes" option and scripts use :func:`visitor_vote_sources`. The export
(:func:`core.votes.aggregate.export_csv_bytes`) is written to ``<home>/votes/visitor_votes_min<K>.csv``
only when its content changed, so a page rerun does not invalidate the label/image join. The
trainer reads it as vote fractions (not class-derived), each galaxy weighted by its NVOTE.
Image folders searched: the built-in demo folders and the downloaded images (``settings.images_dir``),
plus any ``extra_folders`` (e.g. a folder a visitor classified from).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from core.atomic import write_bytes_atomic
from core.config import Settings, get_settings
from core.images.folder import index_images
from core.training.train_config import Source
from core.votes.aggregate import export_csv_bytes


def export_path(min_votes: int, settings: Settings | None = None) -> Path:
    """Where the export for ``min_votes`` is kept (under GZ_HOME)."""
    s = settings or get_settings()
    return s.home / "votes" / f"visitor_votes_min{int(min_votes)}.csv"


def _folders(settings: Settings, extra: Sequence[Path]) -> list[Path]:
    demo = sorted(p for p in settings.demo_dir.iterdir() if p.is_dir()) if settings.demo_dir.is_dir() else []
    out: list[Path] = []
    for folder in [*demo, settings.images_dir, *extra]:
        folder = Path(folder).resolve()
        if folder.is_dir() and folder not in out:
            out.append(folder)
    return out


def visitor_vote_sources(engine: Engine, min_votes: int = 1, extra_folders: Sequence[Path] = (),
                         settings: Settings | None = None) -> tuple[list[Source], int]:
    """(training sources, galaxies exported): one Source per image folder holding at least one
    galaxy with ``min_votes`` or more votes; ([], 0) when no galaxy has that many."""
    s = settings or get_settings()
    data, n = export_csv_bytes(engine, min_votes)
    if n == 0:
        return [], 0
    path = export_path(min_votes, s)
    if not path.is_file() or path.read_bytes() != data:
        write_bytes_atomic(path, data)
    ids = set(pd.read_csv(path, dtype=str, usecols=["OBJID"])["OBJID"])
    sources = [Source(str(path), str(folder)) for folder in _folders(s, extra_folders)
               if ids & index_images(folder).keys()]
    return sources, n
