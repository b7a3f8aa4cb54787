"""Load a trained run and predict the nine GZ1 vote fractions: the one inference path.

The Predict page, ``python -m core predict``, ``python -m core evaluate`` and
the per-epoch validation all go through :class:`LoadedModel`:

    run = load_run("models/demo")
    fractions = run.predict([pil_image, ...], tta=True)   # (N, 9), VOTE_COLUMNS order

``predict`` applies :func:`core.images.preprocess.prepare_image` (centre crop
``crop_fraction`` of the shorter side, resize to ``image_size`` px) to raw
images itself. Output rows are valid by construction: the six raw answers sum
to 1, P_CS = P_CW + P_ACW + P_EDGE, the debiased pair is in [0, 1].
With ``tta=True`` the prediction is averaged over the eight rotations/flips
of the square, with P_CW and P_ACW swapped back for the mirrored copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.images.crop import stored_crop_fraction
from core.images.preprocess import prepare_image
from core.inference.calibration import RunCalibration, load_calibration
from core.inference.ensemble import check_compatible, member_dirs
from core.inference.learned import learned_mask
from core.inference.uncertainty import MC_SAMPLES, head_masks, sample_prepared, spread
from core.schema import RAW_INDEX, VOTE_COLUMNS
from core.training.augment import DIHEDRAL_GROUP, dihedral, swap_spin
from core.training.checkpoint import (
    CONFIG_NAME,
    MODEL_NAME,
    CheckpointError,
    load_state_dict,
)
from core.training.model import GalaxyNet, build_model, count_parameters, fractions_from_logits, uint8_to_input
from core.training.run_config import UNRECORDED_CROP_FRACTION, RunConfig

#: Crop used when a run's config does not say (fraction of the shorter image side; see core.training.run_config).
DEFAULT_CROP_FRACTION = UNRECORDED_CROP_FRACTION


@dataclass
class LoadedModel:
    """A trained model ready for inference on the CPU.

    Attributes: ``run_dir`` (Path), ``config`` (dict from config.json), ``image_size``
    (px, side of the square input), ``crop_fraction`` (default centre crop, fraction of
    the shorter side), ``n_params``, ``model`` (the torch module, eval mode).
    """

    run_dir: Path
    config: dict
    model: GalaxyNet
    image_size: int
    crop_fraction: float | None  # None: frame each image by its galaxy
    n_params: int = field(default=0)
    #: (9,) bool in VOTE_COLUMNS order: the columns this run learned (core.inference.learned.learned_mask).
    learned: np.ndarray = field(default_factory=lambda: np.ones(9, dtype=bool))
    #: The other members its ensemble.json names (core.inference.ensemble); [] = a single run.
    members: list[LoadedModel] = field(default_factory=list)
    #: Its calibration.json (core.inference.calibration), or None: then TOP_P is left blank.
    calibration: RunCalibration | None = None
    #: Head-dropout masks per image for MC dropout (0 = off); on by default for a single run.
    mc_samples: int = 0

    @property
    def recorded(self) -> RunConfig:
        """``config`` read typed (architecture, image size, crop... with their fallbacks)."""
        return RunConfig.from_dict(self.config)

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    def prepare(self, images: Sequence[Image.Image] | np.ndarray,
                crop_fraction: float | None = None) -> np.ndarray:
        """Raw images (list of PIL images, or uint8 (N, H, W, 3)) -> prepared uint8 (N, S, S, 3)."""
        crop = self.crop_fraction if crop_fraction is None else crop_fraction
        if isinstance(images, np.ndarray):
            if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
                raise ValueError(f"expected a uint8 array (N, H, W, 3), got {images.dtype} {images.shape}")
            images = [Image.fromarray(a) for a in images]
        out = np.empty((len(images), self.image_size, self.image_size, 3), dtype=np.uint8)
        for i, img in enumerate(images):
            out[i] = prepare_image(img, self.image_size, crop)
        return out

    def predict(self, images: Sequence[Image.Image] | np.ndarray, tta: bool = False, batch_size: int = 64,
                crop_fraction: float | None = None) -> np.ndarray:
        """(N, 9) float fractions in VOTE_COLUMNS order for *raw* images (prepared here)."""
        return self.predict_prepared(self.prepare(images, crop_fraction), tta=tta, batch_size=batch_size)

    @property
    def nets(self) -> list[GalaxyNet]:
        """The networks that vote: this run's, then its members'."""
        return [self.model] + [m.model for m in self.members]

    @property
    def uncertainty_source(self) -> str:
        """Where SD and TOP_P come from, in words (e.g. "ensemble of 3 runs")."""
        parts = [f"ensemble of {len(self.nets)} runs"] if self.members else []
        if self.mc_samples:
            parts.append(f"MC dropout ({self.mc_samples} head-dropout masks)")
        return " + ".join(parts) or "none (one run, no dropout)"

    def head_dropout_masks(self) -> list[torch.Tensor]:
        """Per net, the (T, D) MC-dropout masks (core.inference.uncertainty.head_masks); [] when MC is off."""
        if not self.mc_samples:
            return []
        return [head_masks(net.raw_head.in_features, float(run.recorded.model.get("dropout", 0.0)), self.mc_samples)
                for net, run in zip(self.nets, [self, *self.members], strict=True)]

    def _check_prepared(self, prepared: np.ndarray) -> np.ndarray:
        prepared = np.asarray(prepared)
        if len(prepared) and prepared.shape[1:] != (self.image_size, self.image_size, 3):
            raise ValueError(f"prepared images must be ({self.image_size}, {self.image_size}, 3), "
                             f"got {prepared.shape[1:]}")
        return prepared

    def predict_outputs_prepared(self, prepared: np.ndarray, tta: bool = False,
                                 batch_size: int = 64) -> np.ndarray:
        """(N, 19) float32: the nine fractions, TOP_P, then one SD per fraction (OUTPUT_COLUMNS order).

        The fractions are the members' mean (:mod:`core.inference.uncertainty`); TOP_P is NaN
        without a calibrator for this way of predicting, SD is NaN where the run never learned
        the column or with a single sample.
        """
        prepared = self._check_prepared(prepared)
        result = sample_prepared(self.nets, prepared, tta=tta, masks=self.head_dropout_masks(), batch_size=batch_size)
        spread_ = spread(result)
        n_samples = result.samples.shape[0]
        calibrator = self.calibration.for_tta(tta) if self.calibration is not None else None
        top_p = calibrator.top_p(spread_) if calibrator is not None and len(prepared) else np.full(len(prepared), np.nan)
        sd = np.where(self.learned[None, :] & (n_samples > 1), spread_.sd, np.nan)
        return np.column_stack([result.point, top_p, sd]).astype(np.float32)

    @torch.inference_mode()
    def predict_prepared(self, prepared: np.ndarray, tta: bool = False, batch_size: int = 64) -> np.ndarray:
        """(N, 9) fractions for images already passed through prepare_image (uint8 (N, S, S, 3))."""
        prepared = self._check_prepared(prepared)
        if len(prepared) == 0:
            return np.zeros((0, 9), dtype=np.float32)
        if self.members:
            return sample_prepared(self.nets, prepared, tta=tta, batch_size=batch_size).point
        self.model.eval()
        outs = []
        transforms = DIHEDRAL_GROUP if tta else ((0, False),)
        for start in range(0, len(prepared), batch_size):
            x = uint8_to_input(prepared[start:start + batch_size])
            acc = torch.zeros((x.shape[0], 9))
            for k, flip in transforms:
                frac = fractions_from_logits(*self.model(dihedral(x, k, flip)))
                acc += swap_spin(frac) if flip else frac
            outs.append((acc / len(transforms)).numpy())
        return np.concatenate(outs).astype(np.float32)


def load_run(run_dir: str | Path, *, members: bool = True) -> LoadedModel:
    """Load ``<run_dir>/config.json`` and ``<run_dir>/model.pt`` (state dict, weights_only=True).

    Raises CheckpointError (a ValueError) naming the file when the folder is not
    a usable run, its config is out of bounds (:mod:`core.inference.run_config`, checked
    before any large allocation), or model.pt is anything but a plain state dict whose
    shapes fit the config.
    """
    from core.inference.run_config import check_run_config, check_weights_fit
    from core.inference.runs import read_json_object

    run_dir = Path(run_dir)
    config = check_run_config(read_json_object(run_dir / CONFIG_NAME), run_dir / CONFIG_NAME)
    state = load_state_dict(run_dir / MODEL_NAME)
    recorded = RunConfig.from_dict(config)
    check_weights_fit(dict(recorded.model), state, run_dir / MODEL_NAME)
    model = build_model({**recorded.model, "pretrained": False})
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{run_dir / MODEL_NAME}: weights do not fit the model in config.json ({exc})") from exc
    model.eval()
    run = LoadedModel(
        run_dir=run_dir,
        config=config,
        model=model,
        image_size=recorded.image_size,
        crop_fraction=recorded.crop_fraction,
        n_params=count_parameters(model),
        learned=learned_mask(config),
    )
    if members:
        for folder in member_dirs(run_dir):
            member = load_run(folder, members=False)
            check_compatible(run, member, run_dir / "ensemble.json")
            run.members.append(member)
    run.calibration = load_calibration(run_dir) if members else None
    has_dropout = 0.0 < float(recorded.model.get("dropout", 0.0) or 0.0) < 1.0 and recorded.arch != "resnet18"
    run.mc_samples = MC_SAMPLES if has_dropout and not run.members else 0
    return run


def crop_for_images(run: LoadedModel, images_dir: str | Path) -> float | None:
    """Centre crop for ``images_dir``.

    In order: the crop the run used for this very folder in training; the crop the
    folder declares in its ``imageset.json`` (:func:`core.images.preprocess.folder_crop_fraction`);
    the run's default ``crop_fraction``.
    """
    from core.images.preprocess import folder_crop_fraction

    target = Path(images_dir).resolve()
    for source in run.config.get("sources", []):
        if Path(source.get("images", "")).resolve() == target:
            return stored_crop_fraction(source, run.crop_fraction)
    declared = folder_crop_fraction(target)
    return run.crop_fraction if declared is None else declared


def evaluate_labelled_set(run: LoadedModel, catalog: str | Path, images_dir: str | Path,
                          crop_fraction: float | None = None, tta: bool = False,
                          ids: Sequence[str] | None = None) -> dict:
    """Score ``run`` on a labelled image set (any label form) through the inference path.

    Images are prepared with :func:`core.images.preprocess.prepare_image` (via the disk
    cache) and predicted with :meth:`LoadedModel.predict_outputs_prepared`, as ``gz predict`` does.
    ``ids`` restricts scoring to those IDs (e.g. a held-out split). Returns
    :func:`core.scoring.score`'s dict (no RMSE for columns the run never learned) plus
    ``join`` (the dataset summary), ``crop_fraction``, ``tta``, ``label_kinds`` and ``top_p``:
    how TOP_P fared on the galaxies with all six answers known (n, accuracy, ece,
    accuracy_at_80, auroc, ``calibrated_on`` in words, ``mix_shift`` from
    :func:`core.inference.calibration.mix_shift`), None without a calibration for this way of predicting.
    """
    from core.images.preprocess import cached_arrays
    from core.inference.calibration import mix_shift
    from core.inference.confidence_scores import confidence_report, top_answer_outcomes
    from core.labels.join import load_labelled_set
    from core.scoring import score

    join = load_labelled_set(catalog, images_dir)
    crop = crop_for_images(run, images_dir) if crop_fraction is None else float(crop_fraction)
    labels, files = join.labels, join.files
    if ids is not None:
        wanted = set(map(str, ids))
        keep = np.asarray([str(i) in wanted for i in labels.ids], dtype=bool)
        labels = labels.subset(np.flatnonzero(keep))
        files = [f for f, k in zip(files, keep, strict=False) if k]
    arrays = cached_arrays(files, run.image_size, crop)
    outputs = run.predict_outputs_prepared(arrays, tta=tta)
    pred, top_p = outputs[:, :len(VOTE_COLUMNS)], outputs[:, len(VOTE_COLUMNS)]
    result = score(pred, labels.targets, labels.class_derived, learned=run.learned)
    answered, conf, correct = top_answer_outcomes(top_p, pred, labels.targets)
    how_sure = None
    if len(conf):
        report = confidence_report(conf, correct)
        human = np.argmax(labels.targets[answered][:, list(RAW_INDEX)], axis=1)
        how_sure = {**{k: report[k] for k in ("n", "accuracy", "ece", "accuracy_at_80", "auroc")},
                    "calibrated_on": run.calibration.origin(),
                    "mix_shift": mix_shift(run.calibration.answer_mix(), human)}
    result.update(join=join.summary(), crop_fraction=crop, tta=tta, label_kinds=labels.counts(),
                  model=str(run.run_dir), top_p=how_sure)
    return result
