"""A run's config.json read back typed: the one place that knows its layout and what a missing key means.

Training writes config.json (:func:`core.training.run_record.config_record`, every setting of
:class:`~core.training.train_config.TrainConfig`, the model ones in a ``model`` section). Whatever reads a
run back (loading it for inference, listing and comparing runs, the pages) takes :meth:`RunConfig.from_dict`
of the parsed file instead of digging into the dict, so each key has one meaning and one fallback.

Reading never raises: a key that is missing, null where null means nothing, or of the wrong type takes the
value a run that did not record it was trained with (the ``UNRECORDED_*`` constants below). Whether a model
may be *built* from a config (known architecture, sizes within bounds) is checked separately, by
:func:`core.inference.run_config.check_run_config`. No torch here: pages import this cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from core.images.crop import is_crop_fraction

#: Architecture of a run whose config.json records none (runs from before the choice existed: the small CNN).
UNRECORDED_ARCH = "small"
#: Input side in px of a run that records no ``image_size`` (the size every early run used).
UNRECORDED_IMAGE_SIZE = 64
#: Centre crop (fraction of the shorter side) of a run that records no ``crop_fraction``: the whole image.
#: A recorded null is different: it means each image framed by its galaxy (:mod:`core.images.framing`).
UNRECORDED_CROP_FRACTION = 1.0
#: Training processes of a run that records no ``world_size`` (a single process).
UNRECORDED_WORLD_SIZE = 1


def _number(value: object) -> float | None:
    """``value`` as a float when it is a JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _positive_int(value: object, fallback: int) -> int:
    number = _number(value)
    return int(number) if number is not None and number >= 1 else fallback


def _learned(value: object) -> tuple[str, ...] | None:
    """Names from a recorded ``learned_columns`` (a list of names, or a mapping name -> count > 0); None if absent."""
    if isinstance(value, Mapping):
        return tuple(str(k) for k, v in value.items() if (_number(v) or 0) > 0)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return None


@dataclass(frozen=True)
class RunConfig:
    """What a run's config.json says about the model, with the fallbacks above applied.

    ``arch``: the architecture (:data:`core.training.model.ARCHITECTURES` for a usable run);
    ``arch_recorded``: False when the file names none and ``arch`` is :data:`UNRECORDED_ARCH`;
    ``model``: the ``model`` section as recorded (what :func:`core.training.model.build_model` takes), read-only;
    ``image_size``: side of the square model input, px; ``crop_fraction``: the default centre crop, fraction of
    the shorter image side, or None (framed by the galaxy); ``learned_columns``: the vote columns the run had
    labels for, None when the run predates that record (see :mod:`core.inference.learned`);
    ``world_size``: training processes; ``run_id``/``n_params``: None when not recorded.
    """

    arch: str = UNRECORDED_ARCH
    arch_recorded: bool = False
    model: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    image_size: int = UNRECORDED_IMAGE_SIZE
    crop_fraction: float | None = UNRECORDED_CROP_FRACTION
    learned_columns: tuple[str, ...] | None = None
    world_size: int = UNRECORDED_WORLD_SIZE
    run_id: str | None = None
    n_params: int | None = None

    @classmethod
    def from_dict(cls, config: object) -> RunConfig:
        """The typed view of ``config`` (a parsed config.json; anything else reads as an empty one)."""
        cfg: Mapping[str, Any] = config if isinstance(config, Mapping) else {}
        model = cfg.get("model") if isinstance(cfg.get("model"), Mapping) else {}
        arch = model.get("arch")
        recorded = isinstance(arch, str) and bool(arch.strip())
        crop = cfg.get("crop_fraction", UNRECORDED_CROP_FRACTION)
        if crop is not None:
            crop = _number(crop)
            crop = crop if is_crop_fraction(crop) else UNRECORDED_CROP_FRACTION
        n_params = _number(cfg.get("n_params"))
        run_id = cfg.get("run_id")
        return cls(
            arch=arch.strip() if recorded else UNRECORDED_ARCH,
            arch_recorded=recorded,
            model=MappingProxyType(dict(model)),
            image_size=_positive_int(cfg.get("image_size"), UNRECORDED_IMAGE_SIZE),
            crop_fraction=crop,
            learned_columns=_learned(cfg.get("learned_columns")),
            world_size=_positive_int(cfg.get("world_size"), UNRECORDED_WORLD_SIZE),
            run_id=str(run_id) if isinstance(run_id, str | int) and not isinstance(run_id, bool) else None,
            n_params=int(n_params) if n_params is not None and n_params >= 0 else None,
        )


#: The keys of config.json a page shows as "Run details", in order.
DETAIL_KEYS = ("command", "model", "model_note", "image_size", "crop_fraction", "created_at", "data")
#: Those that hold server-side paths (the command line, the data sources), left out in the public mode.
PATH_KEYS = frozenset({"command", "data"})


def run_details(cfg: object, *, public: bool) -> dict:
    """The recorded settings worth showing for a run; without server-side paths when ``public``."""
    if not isinstance(cfg, dict):
        return {}
    return {k: cfg[k] for k in DETAIL_KEYS if k in cfg and not (public and k in PATH_KEYS)}
