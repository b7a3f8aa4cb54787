"""TOP_P: the calibrated probability that the volunteers' top answer is the model's top answer.

A calibrator is a logistic regression (scikit-learn) from a few numbers of a
:class:`core.inference.uncertainty.Spread` to "the top answer is right", fitted on a
run's own validation galaxies (never on a test set) and stored as plain numbers in the
run folder's ``calibration.json`` (data only; nothing is unpickled). One calibrator per
way of predicting (``plain`` and ``tta``), because test-time augmentation changes the
numbers it reads. Features (:data:`FEATURES`):

* ``logit_p_top``: logit of the point prediction's top raw fraction (clipped to
  [1e-4, 1 - 1e-4]); alone, this is Platt scaling of the obvious baseline;
* ``margin``: top raw fraction minus the second;
* ``logit_agreement``: logit of the share of samples agreeing on the top answer,
  smoothed as (a S + 0.5) / (S + 1) for S samples;
* ``log_sd_top``: log(0.001 + the top answer's standard deviation over the samples);
* ``logit_p_second``: logit of the second largest raw fraction;
* ``top_is_<ANSWER>``: 1 where the top answer is that raw answer (CW, ACW, EDGE, DK, MG; EL is
  the reference), so each kind of answer may be trusted differently.

A calibration holds for the mix of answers it was fitted on: each calibrator records the
volunteers' answer mix of its galaxies (``fitted["answer_mix"]``), and :func:`mix_shift` says
when a scored set's mix lies further than :data:`MIX_SHIFT_LIMIT` from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.atomic import write_json_atomic
from core.inference.uncertainty import Spread
from core.json_files import JsonObjectError, read_json_object
from core.schema import ANSWER_CODES, RAW_COLUMNS

#: The file in a run folder that holds its calibrators.
CALIBRATION_NAME = "calibration.json"
#: Format version of calibration.json.
CALIBRATION_VERSION = 1
#: Keys of calibration.json's ``calibrators``: one per way of predicting.
PLAIN, TTA = "plain", "tta"


def _logit(p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    return np.log(p / (1 - p))


def _agreement(s: Spread, n_samples: int) -> np.ndarray:
    return _logit((s.agreement * n_samples + 0.5) / (n_samples + 1))


FEATURES: dict[str, Callable[[Spread, int], np.ndarray]] = {
    "logit_p_top": lambda s, n: _logit(s.p_top),
    "margin": lambda s, n: np.asarray(s.margin, dtype=float),
    "logit_agreement": _agreement,
    "log_sd_top": lambda s, n: np.log(1e-3 + s.sd[:, :6][np.arange(len(s.top)), s.top].astype(float)),
    "logit_p_second": lambda s, n: _logit(np.asarray(s.p_top, dtype=float) - np.asarray(s.margin, dtype=float)),
}
#: The one-hot top-answer features, as one group (EL, the first raw answer, is the reference).
TOP_ANSWER_FEATURES: tuple[str, ...] = tuple(f"top_is_{ANSWER_CODES[c]}" for c in RAW_COLUMNS[1:])
FEATURES.update({name: (lambda s, n, k=k: (np.asarray(s.top) == k).astype(float))
                 for k, name in enumerate(TOP_ANSWER_FEATURES, start=1)})
#: The features a new calibrator uses: chosen by cross-validation inside the calibration half alone
#: (``benchmarks/calibrator_features.py``; the four of the first version were logit_p_top, margin,
#: logit_agreement and log_sd_top, which calibration files written before may still name).
DEFAULT_FEATURES: tuple[str, ...] = ("logit_p_top", *TOP_ANSWER_FEATURES)


class CalibrationError(ValueError):
    """A calibration.json that cannot be used, or too little data to fit one; the message names the file."""


def feature_matrix(s: Spread, n_samples: int, names: Sequence[str]) -> np.ndarray:
    """(N, len(names)) float features of a spread (see :data:`FEATURES`)."""
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise CalibrationError(f"unknown calibration feature(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    return np.column_stack([FEATURES[n](s, n_samples) for n in names]) if len(s.top) else np.zeros((0, len(names)))


@dataclass
class Calibrator:
    """Logistic regression on standardised features: TOP_P = sigmoid(((x - mean) / scale) . coef + intercept)."""

    features: tuple[str, ...]
    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    n_samples: int  # samples per galaxy the features were computed from (members x views x (1 + MC))
    fitted: dict = field(default_factory=dict)  # what it was fitted on: n, accuracy, ece, when

    def top_p(self, s: Spread) -> np.ndarray:
        """(N,) float32 calibrated probabilities that the top answer is the volunteers' top answer."""
        x = (feature_matrix(s, self.n_samples, self.features) - self.mean) / self.scale
        return (1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))).astype(np.float32)

    def as_dict(self) -> dict:
        return {"method": "logistic regression (scikit-learn), standardised features",
                "features": list(self.features), "coef": self.coef.tolist(), "intercept": float(self.intercept),
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "n_samples": int(self.n_samples),
                "fitted": self.fitted}

    @classmethod
    def from_dict(cls, d: Mapping, where: str) -> Calibrator:
        try:
            names = tuple(str(n) for n in d["features"])
            arrays = [np.asarray(d[k], dtype=float) for k in ("coef", "mean", "scale")]
            cal = cls(names, *arrays[:1], float(d["intercept"]), arrays[1], arrays[2], int(d["n_samples"]),
                      dict(d.get("fitted") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{where}: not a calibrator ({exc})") from exc
        if any(a.shape != (len(names),) for a in arrays) or not np.isfinite(np.concatenate(arrays)).all() \
                or (cal.scale <= 0).any() or not np.isfinite(cal.intercept):
            raise CalibrationError(f"{where}: calibrator arrays must be {len(names)} finite numbers each "
                                   "(scale > 0)")
        unknown = [n for n in names if n not in FEATURES]
        if unknown:
            raise CalibrationError(f"{where}: unknown calibration feature(s) {', '.join(unknown)}")
        return cal


#: Fewest validation galaxies with a top answer, and fewest wrong/right ones, a calibrator is fitted on.
MIN_FIT_GALAXIES, MIN_FIT_CLASS = 50, 5
#: Total-variation distance between the volunteers' answer mix a calibrator was fitted on and a scored
#: set's, from which TOP_P is said not to carry over. A calibration holds for the mix it was fitted on
#: (under label shift the same TOP_P is right more or less often); a set picked to balance the answers,
#: like the built-in demo set (18 % elliptical against 68 % in GZ1's validation galaxies), lies far from it.
MIX_SHIFT_LIMIT = 0.2


def answer_mix(human_top) -> dict[str, float]:
    """Share of each raw answer among ``human_top`` (indices into RAW_COLUMNS), keyed by code (EL, CW, ...)."""
    top = np.asarray(human_top, dtype=int).ravel()
    n = max(1, len(top))
    return {ANSWER_CODES[c]: float((top == k).sum() / n) for k, c in enumerate(RAW_COLUMNS)}


def mix_distance(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Total-variation distance of two answer mixes: half the summed absolute differences (0 same, 1 disjoint)."""
    return 0.5 * sum(abs(float(a.get(k, 0.0)) - float(b.get(k, 0.0))) for k in ANSWER_CODES.values())


def largest_answers(mix: Mapping[str, float], k: int = 3) -> list[str]:
    """The codes of the ``k`` largest shares of ``mix``, largest first."""
    return sorted(mix, key=lambda c: -mix[c])[:k]


def mix_shift(fitted: Mapping[str, float] | None, human_top) -> dict | None:
    """``{"distance", "fitted", "scored"}`` when the volunteers' top answers ``human_top`` (indices into
    RAW_COLUMNS) lie more than :data:`MIX_SHIFT_LIMIT` from the mix TOP_P was fitted on; None when the mixes
    are alike, the fitted mix is unrecorded, or there is nothing scored."""
    if not fitted or len(human_top) == 0:
        return None
    scored = answer_mix(human_top)
    distance = mix_distance(fitted, scored)
    return {"distance": distance, "fitted": dict(fitted), "scored": scored} if distance > MIX_SHIFT_LIMIT else None


def fit_logistic(x: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """(coef, intercept, mean, scale) of the calibrator's model on features ``x`` (N, F) and ``correct`` (N,).

    Scikit-learn's logistic regression (C = 1) on the features standardised by their own mean and SD
    (an SD of 0 is taken as 1); TOP_P = sigmoid(((x - mean) / scale) . coef + intercept).
    """
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, correct)
    return model.coef_[0].astype(float), float(model.intercept_[0]), mean, scale


def fit_calibrator(s: Spread, n_samples: int, correct: np.ndarray,
                   names: Sequence[str] = DEFAULT_FEATURES, human_top: np.ndarray | None = None) -> Calibrator:
    """Fit TOP_P on galaxies whose ``correct`` (top answer right) is known; CalibrationError if too few.

    ``human_top`` (the volunteers' top answers, indices into RAW_COLUMNS), when given, is recorded as
    ``fitted["answer_mix"]``, so a set scored later can be told whether it shares that mix.
    """
    from core.inference.confidence_scores import expected_calibration_error

    correct = np.asarray(correct, dtype=bool)
    n, n_right = len(correct), int(correct.sum())
    if n < MIN_FIT_GALAXIES or min(n_right, n - n_right) < MIN_FIT_CLASS:
        raise CalibrationError(f"calibration needs at least {MIN_FIT_GALAXIES} validation galaxies with a top "
                               f"answer, {MIN_FIT_CLASS} right and {MIN_FIT_CLASS} wrong; got {n} ({n_right} right)")
    coef, intercept, mean, scale = fit_logistic(feature_matrix(s, n_samples, names), correct)
    cal = Calibrator(tuple(names), coef, intercept, mean, scale, int(n_samples))
    cal.fitted = {"n": n, "accuracy": n_right / n, "ece_on_fit": expected_calibration_error(cal.top_p(s), correct),
                  "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if human_top is not None:
        cal.fitted["answer_mix"] = answer_mix(human_top)
    return cal


@dataclass
class RunCalibration:
    """A run's calibration.json: calibrators by way of predicting (``plain``, ``tta``) and where they came from."""

    calibrators: dict[str, Calibrator]
    source: dict  # e.g. {"run": "gz1-heldout", "galaxies": "validation split", "members": 3, "mc_samples": 16}

    def for_tta(self, tta: bool) -> Calibrator | None:
        return self.calibrators.get(TTA if tta else PLAIN)

    def answer_mix(self) -> dict[str, float] | None:
        """The volunteers' answer mix of the galaxies TOP_P was fitted on (code -> share), or None where the file
        does not record it (files written before it was recorded)."""
        for c in self.calibrators.values():
            mix = c.fitted.get("answer_mix")
            if isinstance(mix, Mapping) and set(mix) <= set(ANSWER_CODES.values()) \
                    and all(isinstance(v, int | float) and 0 <= v <= 1 for v in mix.values()):
                return {k: float(v) for k, v in mix.items()}
        return None

    def origin(self) -> str:
        """Where TOP_P was fitted, in words: "the 1,060 validation galaxies of its twin gz1-heldout (demo held
        none out)" for a copied calibration, else "its 1,060 validation galaxies"."""
        n = next((int(c.fitted["n"]) for c in self.calibrators.values() if c.fitted.get("n")), None)
        galaxies = f"{n:,} validation galaxies" if n else "validation galaxies"
        if self.source.get("copied_to") and self.source.get("run"):
            return (f"the {galaxies} of its twin {self.source['run']} "
                    f"({self.source['copied_to']} held none out)")
        return f"its {galaxies}"


def save_calibration(run_dir: str | Path, calibration: RunCalibration) -> Path:
    """Write ``<run_dir>/calibration.json`` atomically."""
    return write_json_atomic(Path(run_dir) / CALIBRATION_NAME, {
        "version": CALIBRATION_VERSION, "source": calibration.source,
        "calibrators": {k: c.as_dict() for k, c in calibration.calibrators.items()}})


def load_calibration(run_dir: str | Path) -> RunCalibration | None:
    """The run's calibration, or None when it has none; CalibrationError naming the file when it is unusable."""
    path = Path(run_dir) / CALIBRATION_NAME
    if not path.is_file():
        return None
    try:
        data = read_json_object(path, what="calibration file")
    except JsonObjectError as exc:
        raise CalibrationError(str(exc)) from None
    if data.get("version") != CALIBRATION_VERSION \
            or not isinstance(data.get("calibrators"), dict):
        raise CalibrationError(f"{path}: not a calibration file of version {CALIBRATION_VERSION}")
    unknown = set(data["calibrators"]) - {PLAIN, TTA}
    if unknown:
        raise CalibrationError(f"{path}: unknown calibrator key(s) {', '.join(sorted(unknown))} "
                               f"(expected {PLAIN!r}, {TTA!r})")
    cals = {k: Calibrator.from_dict(v, f"{path} [{k}]") for k, v in data["calibrators"].items()
            if isinstance(v, dict)}
    return RunCalibration(cals, dict(data.get("source") or {}))
