"""A run's headline figures with the n behind each, next to what they must beat.

Accuracy means little without its n and a baseline: a run validated on 3 images
can show 100 %. :func:`run_figures` reads a run's config.json and last metrics row
and returns every figure with its count, the majority-class baseline (always
answering the most common human top answer of the run's own validation labels),
chance (1/6) and plain flags (too few images, below the baseline, below chance).
:func:`estimate_seconds` turns measured throughput into a time estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.scoring import CHANCE_ACCURACY as CHANCE
from core.scoring import MIN_RELIABLE_N as SMALL_N
from core.training.run_config import RunConfig


@dataclass
class RunFigures:
    """Validation figures of one run (fractions in [0, 1]; None = not measured) and their n."""

    n_val: int | None
    accuracy: float | None
    n_accuracy: int | None
    baseline: float | None
    macro_recall: float | None
    spin_accuracy: float | None
    n_spin: int | None
    chance: float = CHANCE

    @property
    def small(self) -> bool:
        """True when the accuracy (or, without one, the whole validation set) rests on < SMALL_N images."""
        n = self.n_accuracy if self.accuracy is not None else self.n_val
        return n is not None and 0 < n < SMALL_N  # 0: nothing held out, said elsewhere

    @property
    def below_baseline(self) -> bool:
        return self.accuracy is not None and self.baseline is not None and self.accuracy < self.baseline

    @property
    def below_chance(self) -> bool:
        return self.accuracy is not None and self.accuracy < self.chance

    def warnings(self) -> list[str]:
        """Plain sentences about what these figures cannot show."""
        out = []
        if self.small:
            n = self.n_accuracy if self.accuracy is not None else self.n_val
            out.append(f"measured on only {n} validation images: below {SMALL_N}, a figure can swing by many "
                       f"points on one image")
        if self.below_chance:
            out.append(f"the accuracy is below chance ({self.chance:.1%})")
        elif self.below_baseline:
            out.append(f"the accuracy is below the majority-class baseline ({self.baseline:.1%}: always "
                       f"answering the most common class)")
        return out


def _int(value) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _num(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def run_figures(config: dict, row: dict | None) -> RunFigures:
    """Figures of a run from its config.json dict and its last metrics.csv row (older runs lack some n)."""
    row = row or {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    baseline = config.get("baseline") if isinstance(config.get("baseline"), dict) else {}
    n_val = _int(row.get("val_n")) if row.get("val_n") is not None else _int(data.get("n_val"))
    base = _num(row.get("val_baseline_accuracy"))
    return RunFigures(
        n_val=n_val,
        accuracy=_num(row.get("val_accuracy")),
        n_accuracy=_int(row.get("val_n_top_answer")) if row.get("val_n_top_answer") is not None
        else _int(baseline.get("n_top_answer")),
        baseline=base if base is not None else _num(baseline.get("majority_accuracy")),
        macro_recall=_num(row.get("val_macro_recall")),
        spin_accuracy=_num(row.get("val_spin_accuracy")),
        n_spin=_int(row.get("val_n_spin")) if row.get("val_n_spin") is not None
        else _int(baseline.get("n_spin")),
    )


@dataclass
class TimeEstimate:
    """Expected wall time of a run, and what it rests on (in words)."""

    seconds: float
    images_per_s: float
    basis: str


def estimate_seconds(n_train: int, n_val: int, epochs: int, arch: str, image_size: int,
                     runs: list[dict]) -> TimeEstimate | None:
    """Seconds for ``epochs`` over ``n_train`` images (plus validation) from the throughput runs measured.

    ``runs`` are :func:`core.inference.runs.scan_runs` entries (config + last metrics row). The
    most recent run of the same architecture and size counts first; otherwise one of the same
    architecture, scaled by the pixel count (cost grows with the square of the side). Validation
    is taken as a third of a training pass per image. None when no run measured anything.
    """
    measured = []
    for run in sorted(runs, key=lambda r: -float(r.get("mtime") or 0)):
        ips = _num((run.get("final_metrics") or {}).get("images_per_s"))
        cfg = RunConfig.from_dict(run.get("config"))
        if ips:
            measured.append((run.get("run_id"), cfg.arch, cfg.image_size, ips))
    ranked = ([m for m in measured if m[1] == arch and m[2] == image_size] + [m for m in measured if m[1] == arch]
              + measured)
    if not ranked:
        return None
    run_id, run_arch, size, ips = ranked[0]
    scaled = ips * (size / image_size) ** 2
    basis = f"{ips:.0f} images/s measured by run {run_id} ({run_arch}, {size} px)"
    if size != image_size or run_arch != arch:
        basis += f", scaled to {image_size} px" + ("" if run_arch == arch else f" (a rough guess for {arch})")
    per_epoch = n_train / scaled + n_val / (3 * scaled)
    return TimeEstimate(seconds=epochs * per_epoch, images_per_s=scaled, basis=basis)
