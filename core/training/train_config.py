"""The one definition of training settings: :class:`TrainConfig`, and everything derived from it.

Each field carries its reason in ``metadata["help"]`` (nanoGPT style). From that one
block come the ``python -m core train`` flags (:func:`add_config_arguments`), the
config a parsed command line gives (:func:`config_from_args`), the argv of the
detached job the Train page starts (:func:`config_argv`), the settings stored in
``config.json`` (:func:`config_json`) and read back for a resume
(:func:`config_from_json`), and the Train page's widget defaults and help
(:func:`default_of`, :func:`help_of`). Nothing restates a default elsewhere.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.config import get_settings
from core.images.crop import CROP_FLAG, CROP_RANGE, is_crop_fraction, stored_crop_fraction
from core.training.augment import AugmentSettings
from core.training.model import ARCHITECTURES, UNRECORDED_ARCH


class TrainingError(ValueError):
    """Training cannot start (bad input, no data, incompatible resume); the message says why."""


@dataclass
class Source:
    """One labelled image set: a label CSV, its image folder and an optional fixed centre crop.

    ``crop_fraction`` None (default): every image is framed by its central galaxy (core.images.framing);
    a number: the old fixed centred square, that fraction of the shorter side.
    """

    catalog: str
    images: str
    crop_fraction: float | None = None


def setting(default: Any, help: str, *, flag: str | None = None, choices: tuple | None = None,
            bounds: tuple[float, float] | None = None, kind: type | None = None, model: bool = False,
            resume: str = "same") -> Any:
    """A TrainConfig field: its default and the metadata the CLI, page and resume derive from.

    ``bounds`` is the closed range a value must lie in; ``resume`` says whether a resumed run
    must keep the value (``same``), may raise it (``extend``) or may change it (``free``);
    ``model`` puts the field in config.json's ``model`` section.
    """
    meta = {"help": help, "flag": flag, "choices": choices, "bounds": bounds, "kind": kind,
            "model": model, "resume": resume}
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Every training setting; one line and a reason each.

    The defaults are the recipe of the shipped models (trial T7 in docs/MODEL_TRIALS.md): a run
    started with no options reproduces ``models/demo`` on the same data.
    """

    sources: list[Source] = field(default_factory=list, metadata={"help": "labelled image sets", "cli": False,
                                                                    "resume": "same"})
    arch: str = setting("effnet_lite0", "architecture: effnet_lite0 is EfficientNet-Lite0 started from ImageNet "
                        "weights installed with the app (the shipped models); small is a compact CNN trained from "
                        "scratch, about 3x faster per image and far weaker; resnet18 is torchvision's ResNet-18 "
                        "(slower, more capacity)", flag="--model", choices=ARCHITECTURES, model=True)
    width: int = setting(32, "channels of the small CNN's first layer: more learns finer detail, but costs time",
                         bounds=(4, 256), model=True)
    dropout: float = setting(0.2, "share of features dropped while training, against memorising the training set",
                             bounds=(0.0, 0.9), model=True)
    pretrained: bool = setting(True, "resnet18 only: start from ImageNet weights if they are already on this "
                               "computer (nothing is downloaded)", model=True)
    image_size: int = setting(64, "side of the model input in pixels: larger sees more detail; time grows with "
                              "the square of the side", flag="--size", bounds=(16, 512))
    epochs: int = setting(30, "passes over the training images: more keeps learning until the model starts to "
                          "memorise (watch the validation loss)", bounds=(1, 1000), resume="extend")
    batch_size: int = setting(64, "images per optimiser step: smaller gives more, noisier steps per epoch",
                              bounds=(1, 4096))
    lr: float = setting(2e-3, "peak learning rate of the one-cycle schedule (30%% warm-up, then cosine down): "
                        "too high diverges, too low learns slowly", bounds=(1e-6, 1.0))
    weight_decay: float = setting(1e-4, "AdamW weight decay: a gentle pull of the weights towards zero",
                                  bounds=(0.0, 1.0))
    patience: int = setting(0, "stop after this many epochs without a better validation loss; 0 = never stop "
                            "early", bounds=(0, 1000), resume="free")
    val_fraction: float = setting(0.2, "share of galaxies held out to measure the model on images it never "
                                  "trained on (the same ID always lands on the same side for a seed)",
                                  bounds=(0.0, 0.95))
    seed: int = setting(0, "seeds the split, the shuffling, the augmentation and the first weights: same seed, "
                        "same run", bounds=(0, 2 ** 31 - 1))
    split_seed: int | None = setting(None, "seeds only the validation split (default: --seed): ensemble members "
                                     "share one split and differ in --seed", kind=int, bounds=(0, 2 ** 31 - 1))
    class_balance: float = setting(0.5, "weight of rare answers: 0 none, 1 inverse class frequency",
                                   bounds=(0.0, 1.0))
    spin_weight: float = setting(1.0, "weight of the clockwise-vs-anticlockwise share in the loss",
                                 bounds=(0.0, 100.0))
    augment: AugmentSettings = field(default_factory=AugmentSettings, metadata={
        "help": "random rotations, shifts, zooms and flips (a flip swaps P_CW and P_ACW)", "cli": False,
        "resume": "same"})
    threads: int | None = setting(None, "PyTorch threads (default: GZ_TORCH_THREADS)", kind=int,
                                  bounds=(1, 256), resume="free")
    max_minutes: float | None = setting(None, "stop after the epoch that passes this many minutes (default: no "
                                        "limit)", kind=float, bounds=(0.0, 1e6), resume="free")

    @property
    def split_seed_used(self) -> int:
        """The seed of the validation split: ``split_seed``, else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed

    def model_section(self) -> dict:
        """The ``model`` section of config.json (what build_model needs)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("model")}

    def check(self) -> TrainConfig:
        """Raise TrainingError naming the first setting outside its bounds or choices; return self."""
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None or isinstance(value, bool):
                continue
            if meta.get("choices") and value not in meta["choices"]:
                raise TrainingError(f"{_flag(f)} must be one of {', '.join(meta['choices'])}, got {value!r}")
            low, high = meta.get("bounds") or (None, None)
            if low is not None and not low <= value <= high:
                raise TrainingError(f"{_flag(f)} must be between {low:g} and {high:g}, got {value:g}")
        for s in self.sources:
            if s.crop_fraction is not None and not is_crop_fraction(s.crop_fraction):
                raise TrainingError(f"{CROP_FLAG} must be in {CROP_RANGE}, got {s.crop_fraction}")
        return self


#: What each augmentation switch does (AugmentSettings' fields, as CLI flags).
AUGMENT_HELP = {
    "rotate": "rotate training images by random angles (galaxies have no up)",
    "flip": "mirror half the training images; a mirror turns a clockwise spiral anticlockwise, so P_CW and "
            "P_ACW swap",
    "max_shift": "largest random shift, fraction of the side",
    "max_zoom": "largest random zoom, fraction of the scale",
    "max_cut": "largest share of the side cut away around half the training images (sky outside), as a galaxy "
               "cut tighter than its frame arrives",
}


def _flag(f) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _cli_fields() -> list:
    return [f for f in fields(TrainConfig) if f.metadata.get("cli", True)]


def default_of(name: str) -> Any:
    """The default of TrainConfig field ``name`` (for page widgets)."""
    f = next(f for f in fields(TrainConfig) if f.name == name)
    return f.default if f.default is not MISSING else f.default_factory()


def help_of(name: str) -> str:
    """The help text of TrainConfig field ``name`` (for page widgets)."""
    f = next(f for f in fields(TrainConfig) if f.name == name)
    return f.metadata["help"].replace("%%", "%")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (and per augmentation switch), with its help and default."""
    for f in _cli_fields():
        meta = f.metadata
        if isinstance(f.default, bool):
            parser.add_argument(_flag(f), dest=f.name, action=argparse.BooleanOptionalAction, default=f.default,
                                help=meta["help"] + _on_off(f.default))
            continue
        suffix = "" if f.default is None else " (default: %(default)s)"
        parser.add_argument(_flag(f), dest=f.name, type=meta.get("kind") or type(f.default), default=f.default,
                            choices=meta.get("choices"), metavar=_flag(f)[2:].upper().replace("-", "_"),
                            help=meta["help"] + suffix)
    for f in fields(AugmentSettings):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(flag, dest=f"augment_{f.name}", action=argparse.BooleanOptionalAction,
                                default=f.default, help=AUGMENT_HELP.get(f.name, f.name) + _on_off(f.default))
        else:
            parser.add_argument(flag, dest=f"augment_{f.name}", type=type(f.default), default=f.default,
                                metavar=flag[2:].upper().replace("-", "_"),
                                help=AUGMENT_HELP.get(f.name, f.name) + " (default: %(default)s)")


def _on_off(default: bool) -> str:
    return " (default: on)" if default else " (default: off)"


def config_from_args(args: argparse.Namespace, sources: list[Source]) -> TrainConfig:
    """The TrainConfig a parsed command line asks for (checked against the bounds)."""
    values = {f.name: getattr(args, f.name) for f in _cli_fields()}
    augment = AugmentSettings(**{f.name: getattr(args, f"augment_{f.name}") for f in fields(AugmentSettings)})
    return TrainConfig(sources=sources, augment=augment, **values).check()


def config_argv(config: TrainConfig, out: Path) -> list[str]:
    """Arguments for ``python -m core`` that run ``config`` into ``out`` (the Train page's detached job)."""
    argv = ["train"]
    for s in config.sources:
        argv += ["--catalog", str(s.catalog), "--images", str(s.images)]
    if any(s.crop_fraction is not None for s in config.sources):  # a declared crop per set (1.0 = whole image)
        for s in config.sources:
            argv += [CROP_FLAG, str(1.0 if s.crop_fraction is None else s.crop_fraction)]
    items = [(_flag(f), getattr(config, f.name)) for f in _cli_fields()]
    items += [("--" + f.name.replace("_", "-"), getattr(config.augment, f.name)) for f in fields(AugmentSettings)]
    for flag, value in items:
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        elif value is not None:
            argv += [flag, str(value)]
    return argv + ["--out", str(out), "--no-progress"]


def config_json(config: TrainConfig) -> dict:
    """The settings part of config.json: every field, the model ones in a ``model`` section."""
    out: dict[str, Any] = {"sources": [asdict(s) for s in config.sources], "model": config.model_section()}
    for f in fields(config):
        if f.name != "sources" and not f.metadata.get("model"):
            value = getattr(config, f.name)
            out[f.name] = value.as_dict() if isinstance(value, AugmentSettings) else value
    return out


def config_from_json(stored: dict) -> TrainConfig:
    """The TrainConfig a run's config.json records (to resume it); TrainingError if it has none."""
    if not isinstance(stored, dict) or not isinstance(stored.get("sources"), list) or not stored["sources"]:
        raise TrainingError("the run's config.json records no labelled sets; it cannot be resumed")
    model = stored.get("model") if isinstance(stored.get("model"), dict) else {}
    values: dict[str, Any] = {"arch": UNRECORDED_ARCH}  # as build_model reads a run that names none
    for f in fields(TrainConfig):
        where = model if f.metadata.get("model") else stored
        if f.name in where and f.name not in ("sources", "augment"):
            values[f.name] = where[f.name]
    try:
        sources = [Source(str(s["catalog"]), str(s["images"]), stored_crop_fraction(s)) for s in stored["sources"]]
        augment = AugmentSettings.from_recorded(stored.get("augment") or {})
        return TrainConfig(sources=sources, augment=augment, **values).check()
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"the run's config.json cannot be read as training settings ({exc})") from exc


def resume_conflicts(old: dict, new: dict) -> list[str]:
    """Settings (config_json form) that differ in a way a resume cannot accept."""
    changed = []
    for f in fields(TrainConfig):
        rule = f.metadata.get("resume", "same")
        if f.metadata.get("model"):
            a, b = (old.get("model") or {}).get(f.name), new["model"].get(f.name)
        else:
            a, b = old.get(f.name), new.get(f.name)
        if rule == "same" and a != b:
            changed.append(f.name)
        elif rule == "extend" and (a is None or b < a):
            changed.append(f"{f.name} (may only grow)")
    return changed


def demo_sources(demo_dir: Path | None = None) -> list[Source]:
    """The built-in demo set (data/demo): GZ1 class-labelled images + spin-labelled cutouts."""
    demo_dir = Path(demo_dir) if demo_dir is not None else get_settings().demo_dir
    return [
        Source(str(demo_dir / "gz1" / "labels.csv"), str(demo_dir / "gz1")),  # framed by the galaxy
        Source(str(demo_dir / "spin" / "labels.csv"), str(demo_dir / "spin")),
    ]
