"""Which galaxies a run never trained on, so its scores are not measured on its own training set.

A run splits its training galaxies by ID with its recorded ``seed`` and ``val_fraction``
(:func:`core.training.prepare.is_validation`): an ID on the validation side was never
trained on, whatever set it appears in. A run with ``val_fraction`` 0 (e.g. the shipped
``models/demo``) held nothing out; it is scored on every galaxy and flagged as such.
Several runs are compared on the *intersection* of their held-out galaxies.

A score is *self-scored* when some scored galaxy may be one the run trained on
(:func:`trained_on_mask`): on the training side of its split and, where the run's recorded
training folders (config.json ``sources[].images``) can still be listed, among their images.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.config import REPO_ROOT
from core.images.folder import IMAGE_SUFFIXES

#: Wording placed beside a score measured on galaxies the run may have trained on.
SAW_EVERYTHING = "trained on every galaxy (nothing held out): this score is on its own training galaxies"


def held_out_mask(config: Mapping, ids: Sequence[str]) -> np.ndarray | None:
    """(N,) bool: True where the run (its config.json) held the ID out of training; None if it held out nothing."""
    from core.training.prepare import is_validation

    fraction = config.get("val_fraction")
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or fraction <= 0:
        return None
    seed = config.get("split_seed")
    if seed is None:
        seed = config.get("seed", 0)
    return is_validation([str(i) for i in ids], int(seed) if isinstance(seed, int | float) else 0, float(fraction))


@lru_cache(maxsize=32)
def _folder_stems(folder: str, mtime_ns: int) -> frozenset[str]:
    with os.scandir(folder) as entries:
        return frozenset(Path(e.name).stem for e in entries
                         if Path(e.name).suffix.lower() in IMAGE_SUFFIXES and not e.name.startswith("."))


def training_folder_ids(config: Mapping) -> frozenset[str] | None:
    """IDs (file stems) of the images in the run's recorded training folders (config.json
    ``sources[].images``; relative paths from the repository root, where training runs), or None
    when no folder is recorded or one cannot be listed any more (then any ID may be a training one)."""
    sources = config.get("sources")
    if not isinstance(sources, list) or not sources:
        return None
    ids: set[str] = set()
    for source in sources:
        images = source.get("images") if isinstance(source, Mapping) else None
        if not isinstance(images, str) or not images:
            return None
        folder = Path(images) if Path(images).is_absolute() else REPO_ROOT / images
        try:
            ids |= _folder_stems(str(folder), os.stat(folder).st_mtime_ns)
        except OSError:
            return None
    return frozenset(ids)


def trained_on_mask(config: Mapping, ids: Sequence[str]) -> np.ndarray:
    """(N,) bool: True where the run (its config.json) may have trained on the ID: not held out by
    its split, and among the images of its training folders when those can be listed."""
    held = held_out_mask(config, ids)
    training_side = np.ones(len(ids), dtype=bool) if held is None else ~held
    folders = training_folder_ids(config)
    if folders is not None:
        training_side &= np.asarray([str(i) in folders for i in ids], dtype=bool)
    return training_side


@dataclass
class ScoringSplit:
    """The galaxies several runs are scored on, and which runs held nothing out.

    ``mask``: (N,) bool over the set, the intersection of every run's held-out galaxies
    (runs without a split do not narrow it); ``saw_everything``: names of the runs that
    held nothing out, so their figures are on training galaxies.
    """

    mask: np.ndarray
    saw_everything: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.mask.sum())


def common_held_out(configs: Mapping[str, Mapping], ids: Sequence[str]) -> ScoringSplit:
    """:class:`ScoringSplit` of the runs ``configs`` (name -> config.json dict) over the galaxies ``ids``."""
    mask = np.ones(len(ids), dtype=bool)
    saw: list[str] = []
    for name, config in configs.items():
        held = held_out_mask(config, ids)
        if held is None:
            saw.append(name)
        else:
            mask &= held
    return ScoringSplit(mask, saw)


def all_galaxies(configs: Mapping[str, Mapping], ids: Sequence[str]) -> ScoringSplit:
    """Every galaxy, with every run that could have trained on some of them flagged (no held-out filter)."""
    return ScoringSplit(np.ones(len(ids), dtype=bool), list(configs))
