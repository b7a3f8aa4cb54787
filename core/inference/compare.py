"""Model output next to the human vote, and models next to each other, on one set of galaxies.

Definitions used by the Predict and Compare pages:

* **disagreement** between two sets of fractions for a galaxy: the largest
  absolute difference over the columns both sides have, in fractions of the
  vote (0 = identical, 1 = one side says 100 % where the other says 0 %);
  ``NaN`` when no column is shared (an unlabelled galaxy). The column where it
  occurs is reported with it.
* **top answer**: the largest of the six raw answers (P_EL .. P_MG); for a
  class-derived label this is the class itself.
* Columns a run never learned (:mod:`core.inference.learned`) are blank on its side,
  so they take no part in a disagreement, a score or a comparison.
* Scores are :func:`core.scoring.score` (the same numbers as ``python -m core
  evaluate``): top-answer accuracy against the human majority, macro recall,
  clockwise-vs-anticlockwise accuracy, RMSE per column over vote-fraction labels.
* A **self-scored** run is one scored on galaxies it may have trained on
  (:func:`core.inference.held_out.trained_on_mask`): the leaderboard ranks only the
  other runs and lists self-scored ones below them, unranked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.inference.batch import SetPrediction, predict_set
from core.inference.galaxy_sets import GalaxySet
from core.inference.held_out import trained_on_mask
from core.inference.learned import blank_unlearned
from core.schema import CLASS_NAMES, RAW_INDEX, VOTE_COLUMNS
from core.scoring import score


def disagreement(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (max |a - b| over columns finite on both sides, index of that column); NaN/-1 if none."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    diff = np.abs(a - b)
    shared = ~np.isnan(diff)
    filled = np.where(shared, diff, -1.0)
    col = np.argmax(filled, axis=1) if len(diff) else np.zeros(0, dtype=int)
    value = filled[np.arange(len(diff)), col] if len(diff) else np.zeros(0)
    none = ~shared.any(axis=1)
    return np.where(none, np.nan, value), np.where(none, -1, col)


def top_answer(fractions: np.ndarray) -> np.ndarray:
    """Index into CLASS_NAMES of the largest raw answer per row; -1 where a raw answer is unknown."""
    f = np.asarray(fractions, dtype=float)[:, list(RAW_INDEX)]
    known = ~np.isnan(f).any(axis=1)
    return np.where(known, np.argmax(np.nan_to_num(f, nan=-1.0), axis=1), -1)


def _names(index: np.ndarray) -> list[str]:
    return [CLASS_NAMES[i] if i >= 0 else "" for i in index]


def _disagreement_frame(gset: GalaxySet, left: np.ndarray, right: np.ndarray,
                        extra: dict[str, list]) -> pd.DataFrame:
    """ID, IMAGE, LABEL_KIND, DISAGREEMENT and MOST_DIFFERENT of ``left`` vs ``right``, then ``extra``."""
    dis, col = disagreement(left, right)
    return pd.DataFrame({
        "ID": pd.array(gset.ids, dtype="string"),
        "IMAGE": [Path(f).name for f in gset.files],
        "LABEL_KIND": gset.label_kind(),
        "DISAGREEMENT": dis,
        "MOST_DIFFERENT": [VOTE_COLUMNS[c] if c >= 0 else "" for c in col],
        **extra,
    })


def galaxy_table(gset: GalaxySet, pred: np.ndarray, learned: np.ndarray | None = None,
                 top_p: np.ndarray | None = None) -> pd.DataFrame:
    """One row per galaxy: ID, IMAGE, LABEL_KIND, DISAGREEMENT (model vs human), MOST_DIFFERENT column,
    MODEL_TOP, TOP_P (calibrated probability that people agree with MODEL_TOP; NaN when unknown), HUMAN_TOP,
    then ``model P_*`` and ``human P_*`` for the nine columns (NaN = unknown or, on the model side, a
    column the run never learned: ``learned`` (9,) bool, default all)."""
    pred = blank_unlearned(pred, learned)
    df = _disagreement_frame(gset, pred, gset.targets, {
        "MODEL_TOP": _names(top_answer(pred)),
        "TOP_P": np.full(len(gset), np.nan) if top_p is None else np.asarray(top_p, dtype=float),
        "HUMAN_TOP": _names(top_answer(gset.targets)),
    })
    for j, c in enumerate(VOTE_COLUMNS):
        df[f"model {c}"] = pred[:, j]
    for j, c in enumerate(VOTE_COLUMNS):
        df[f"human {c}"] = gset.targets[:, j]
    return df


@dataclass
class RunEvaluation:
    """A run's predictions on a set and their scores (core.scoring.score over the usable images)."""

    run_id: str
    prediction: SetPrediction
    scores: dict
    #: Which galaxies were scored, in words (e.g. "held out from its training").
    scored_on: str = ""
    #: How many scored galaxies the run may have trained on (0 = an honest score).
    trained_on: int = 0

    @property
    def self_scored(self) -> bool:
        return self.trained_on > 0


#: Wording of "scored on" for a self-scored run (followed by "(k of n)").
SELF_SCORED = "its own training galaxies"
HELD_OUT = "held out from its training"
NOT_TRAINED_ON = "none of its training galaxies"


def short_scored_on(text: str) -> str:
    """A "scored on" wording in a few words, for narrow tables: held out, unseen, trained on k/n."""
    if text.startswith(SELF_SCORED):
        return "trained on" + text.removeprefix(SELF_SCORED).replace("(", "").replace(")", "").replace(" of ", "/")
    return {HELD_OUT: "held out", NOT_TRAINED_ON: "unseen"}.get(text, text)


def score_prediction(run_id: str, prediction: SetPrediction, gset: GalaxySet, learned: np.ndarray | None = None,
                     config: Mapping | None = None) -> RunEvaluation:
    """Score ``prediction`` (aligned with ``gset``) against the set's human labels, over the usable images.

    With the run's ``config`` (config.json), also count the scored galaxies it may have trained on
    (:func:`trained_on_mask`) and say in ``scored_on`` what it was scored on; without one, nothing is known.
    """
    ok = prediction.ok
    scores = score(prediction.fractions[ok], gset.targets[ok], gset.class_derived[ok], learned=learned)
    if config is None:
        return RunEvaluation(run_id, prediction, scores)
    trained = int(trained_on_mask(config, gset.ids).sum())
    held = isinstance(config.get("val_fraction"), int | float) and (config.get("val_fraction") or 0) > 0
    scored_on = (f"{SELF_SCORED} ({trained:,} of {len(gset):,})" if trained
                 else HELD_OUT if held else NOT_TRAINED_ON)
    return RunEvaluation(run_id, prediction, scores, scored_on, trained)


def evaluate_run(model, gset: GalaxySet, *, tta: bool = False, batch_size: int = 64,
                 config: Mapping | None = None) -> RunEvaluation:
    """Predict ``gset`` with ``model`` (a LoadedModel) and score it against the set's human labels
    (:func:`score_prediction`; ``config`` = the run's config.json to detect self-scoring)."""
    pred = predict_set(model, gset, tta=tta, batch_size=batch_size)
    return score_prediction(model.run_dir.name, pred, gset, model.learned, config)


def training_seconds(run_dir: str | Path) -> float | None:
    """Total training time of a run: sum of the per-epoch ``seconds`` in metrics.csv (validation excluded)."""
    from core.training.checkpoint import read_metrics

    rows = read_metrics(Path(run_dir))
    secs = [r.get("seconds") for r in rows if isinstance(r.get("seconds"), (int, float))]
    return float(sum(secs)) if secs else None


#: The leaderboard's columns, in the order they are shown.
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "rank", "run", "accuracy", "baseline accuracy", "below baseline", "scored on", "n top answer", "macro recall",
    "spin accuracy", "n spin", "arch", "image size (px)", "parameters", "training time (s)", "n",
    *(f"RMSE {c}" for c in VOTE_COLUMNS), "not learned", "self-scored")


def leaderboard(models: Sequence, evaluations: Sequence[RunEvaluation]) -> pd.DataFrame:
    """One row per run in :data:`LEADERBOARD_COLUMNS` order: the runs with honest scores first, ranked
    1, 2, ... by top-answer accuracy, then the self-scored runs (``self-scored`` True, ``rank`` NaN),
    also by accuracy; a self-scored accuracy is no evidence and never outranks an honest one.

    Columns: rank (honest runs only), self-scored (bool), run, arch, image size (px), parameters, training time (s), n (galaxies scored),
    accuracy, macro recall, spin accuracy, ``RMSE <column>`` for the nine columns (over
    vote-fraction labels; NaN where the set has none for that column or the run never learned
    it), then n top answer and n spin (the n behind accuracy and spin accuracy), baseline
    accuracy (majority class), below baseline (bool), scored on (``RunEvaluation.scored_on``)
    and not learned (the columns the run never had labels for).
    """
    rows = []
    for model, ev in zip(models, evaluations, strict=False):
        s = ev.scores
        row = {
            "run": ev.run_id,
            "arch": model.recorded.arch,
            "image size (px)": int(model.image_size),
            "parameters": int(model.n_params),
            "training time (s)": training_seconds(model.run_dir),
            "n": s["n"],
            "accuracy": s["accuracy"],
            "macro recall": s["macro_recall"],
            "spin accuracy": s["spin_accuracy"],
        }
        for c in VOTE_COLUMNS:
            row[f"RMSE {c}"] = s["rmse"].get(c)
        acc, base = s["accuracy"], s.get("baseline_accuracy")
        row.update({
            "n top answer": s["n_top_answer"],
            "n spin": s["n_spin"],
            "baseline accuracy": base,
            "below baseline": bool(acc is not None and base is not None and acc < base),
            "scored on": ev.scored_on,
            "not learned": ", ".join(s.get("not_learned", [])),
            "self-scored": ev.self_scored,
        })
        rows.append(row)
    df = pd.DataFrame(rows, columns=[c for c in LEADERBOARD_COLUMNS if c != "rank"])
    if len(df):
        num = [c for c in df.columns
               if c not in ("run", "arch", "below baseline", "scored on", "not learned", "self-scored")]
        df[num] = df[num].apply(pd.to_numeric, errors="coerce")
        df["self-scored"] = df["self-scored"].astype(bool)
        df = df.sort_values(["self-scored", "accuracy", "spin accuracy"], ascending=[True, False, False],
                            na_position="last", kind="stable")
    df = df.reset_index(drop=True)
    honest = ~df["self-scored"].astype(bool)
    df.insert(0, "rank", pd.array([i + 1 if h else None for i, h in enumerate(honest)], dtype="Int64"))
    return df[list(LEADERBOARD_COLUMNS)]


def side_by_side(gset: GalaxySet, pred_a: np.ndarray, pred_b: np.ndarray, name_a: str = "A",
                 name_b: str = "B", learned_a: np.ndarray | None = None,
                 learned_b: np.ndarray | None = None) -> pd.DataFrame:
    """Per galaxy, two models' fractions and where they disagree most; largest disagreement first.

    Columns: ID, IMAGE, LABEL_KIND, DISAGREEMENT (A vs B), MOST_DIFFERENT, ``<A> top``,
    ``<B> top``, HUMAN_TOP, ``<A> P_*``, ``<B> P_*``. Rows without a prediction on both sides are left out.
    A column either run never learned (``learned_a``/``learned_b``, (9,) bool) is blank on that side
    and takes no part in the disagreement.
    """
    a = blank_unlearned(pred_a, learned_a)
    b = blank_unlearned(pred_b, learned_b)
    df = _disagreement_frame(gset, a, b, {
        f"{name_a} top": _names(top_answer(a)),
        f"{name_b} top": _names(top_answer(b)),
        "HUMAN_TOP": _names(top_answer(gset.targets)),
    })
    for j, c in enumerate(VOTE_COLUMNS):
        df[f"{name_a} {c}"] = a[:, j]
    for j, c in enumerate(VOTE_COLUMNS):
        df[f"{name_b} {c}"] = b[:, j]
    df = df[df["DISAGREEMENT"].notna()]
    return df.sort_values("DISAGREEMENT", ascending=False, kind="stable").reset_index(drop=True)


def agreement_summary(pred_a: np.ndarray, pred_b: np.ndarray, learned_a: np.ndarray | None = None,
                      learned_b: np.ndarray | None = None) -> dict:
    """How often two models give the same top answer, and their mean/max disagreement (fractions of the vote)
    over the columns both learned; ``n`` counts galaxies predicted by both."""
    a, b = np.asarray(pred_a, dtype=float), np.asarray(pred_b, dtype=float)
    both = ~np.isnan(a).any(axis=1) & ~np.isnan(b).any(axis=1)
    a, b = blank_unlearned(a, learned_a), blank_unlearned(b, learned_b)
    if not both.any():
        return {"n": 0, "same_top_answer": None, "mean_disagreement": None, "max_disagreement": None}
    dis, _ = disagreement(a[both], b[both])
    return {
        "n": int(both.sum()),
        "same_top_answer": float(np.mean(top_answer(a[both]) == top_answer(b[both]))),
        "mean_disagreement": float(np.mean(dis)),
        "max_disagreement": float(np.max(dis)),
    }
