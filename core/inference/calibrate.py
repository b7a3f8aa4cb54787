"""Fit a run's TOP_P calibrators on its own validation galaxies and store them (``calibration.json``).

The validation galaxies are those the run's split held out (:func:`core.inference.held_out.held_out_mask`)
in the labelled sets its config.json records (``sources``; relative paths from the repository
root), with all six raw answers known (vote fractions or class-derived: the class stands for
the volunteers' top answer). They are predicted exactly as ``gz predict`` predicts (members,
MC dropout, with and without TTA) and one calibrator is fitted per way
(:mod:`core.inference.calibration`). A run with nothing held out (``val_fraction`` 0, like
``models/demo``) has no validation galaxies: it can take the calibrators of a twin trained
the same way with a held-out split (``copy_calibration``), which says so in the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from core.config import REPO_ROOT
from core.images.preprocess import cached_arrays
from core.inference.calibration import (
    PLAIN,
    TTA,
    CalibrationError,
    RunCalibration,
    fit_calibrator,
    load_calibration,
    save_calibration,
)
from core.inference.held_out import held_out_mask
from core.inference.predict import LoadedModel, crop_for_images, load_run
from core.inference.uncertainty import sample_prepared, spread
from core.labels.join import load_labelled_set
from core.schema import RAW_INDEX


def _source_path(value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else REPO_ROOT / p


def validation_arrays(run: LoadedModel) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(prepared uint8 images, human top answer index into RAW_COLUMNS, IDs) of the run's validation galaxies."""
    sources = run.config.get("sources") if isinstance(run.config.get("sources"), list) else []
    if held_out_mask(run.config, ["x"]) is None:
        raise CalibrationError(f"{run.run_dir.name} held out no galaxies (val_fraction 0): it has no validation "
                               "data to calibrate on; copy the calibration of a twin trained with a held-out "
                               "split (--from RUN)")
    arrays, human, ids = [], [], []
    for source in sources:
        if not isinstance(source, Mapping):
            continue
        catalog, images = _source_path(str(source.get("catalog", ""))), _source_path(str(source.get("images", "")))
        if not catalog.is_file() or not images.is_dir():
            raise CalibrationError(f"{run.run_dir.name}: its training set {source.get('catalog')} / "
                                   f"{source.get('images')} is not on this machine, so its validation galaxies "
                                   "cannot be predicted")
        join = load_labelled_set(catalog, images)
        raw = join.labels.targets[:, list(RAW_INDEX)]
        keep = np.flatnonzero(held_out_mask(run.config, join.labels.ids) & ~np.isnan(raw).any(axis=1))
        if not len(keep):
            continue
        files = [join.files[i] for i in keep]
        arrays.append(cached_arrays(files, run.image_size, crop_for_images(run, images)))
        human.append(np.argmax(raw[keep], axis=1))
        ids += [str(join.labels.ids[i]) for i in keep]
    if not arrays:
        raise CalibrationError(f"{run.run_dir.name}: none of its validation galaxies has all six answers known")
    return np.concatenate(arrays), np.concatenate(human), ids


def calibrate_run(run_dir: str | Path, progress: Callable[[str], None] = lambda _: None) -> RunCalibration:
    """Fit the ``plain`` and ``tta`` calibrators of ``run_dir`` on its validation galaxies and save them."""
    run = load_run(run_dir)
    arrays, human, _ids = validation_arrays(run)
    calibrators = {}
    for key, tta in ((PLAIN, False), (TTA, True)):
        progress(f"predicting {len(human)} validation galaxies ({key})")
        result = sample_prepared(run.nets, arrays, tta=tta, masks=run.head_dropout_masks())
        s = spread(result)
        calibrators[key] = fit_calibrator(s, result.samples.shape[0], s.top == human, human_top=human)
    cal = RunCalibration(calibrators, {"run": run.run_dir.name, "galaxies": "its validation split",
                                       "uncertainty": run.uncertainty_source, "members": len(run.nets),
                                       "mc_samples": run.mc_samples})
    save_calibration(run.run_dir, cal)
    return cal


def copy_calibration(run_dir: str | Path, twin_dir: str | Path) -> RunCalibration:
    """Give ``run_dir`` the calibrators of ``twin_dir`` (same recipe, with a held-out split); saved, and said so."""
    run, twin = load_run(run_dir), load_run(twin_dir)
    cal = load_calibration(twin.run_dir)
    if cal is None:
        raise CalibrationError(f"{twin.run_dir.name} has no calibration.json: calibrate it first")
    if (len(run.nets), run.mc_samples) != (len(twin.nets), twin.mc_samples):
        raise CalibrationError(f"{run.run_dir.name} predicts with {run.uncertainty_source}, {twin.run_dir.name} "
                               f"with {twin.uncertainty_source}: their calibrators do not carry over")
    copied = RunCalibration(cal.calibrators, {**cal.source, "copied_to": run.run_dir.name,
                                              "why": f"{run.run_dir.name} held nothing out; {twin.run_dir.name} "
                                                     "is its twin trained the same way with a held-out split"})
    save_calibration(run.run_dir, copied)
    return copied
