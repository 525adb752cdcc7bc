"""Each challenger version against the champion over the same window: predictions and metrics.

Both versions see the same time window, so what differs between them is the model, not the
traffic's season. A challenger is compared only once both sides have min_labeled labelled
predictions; the metrics of one challenger are corrected together (Benjamini-Hochberg), so a
challenger equal to the champion is flagged on some metric about as often as alpha says.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.performance import realised
from exporter.evaluate.probabilities import positive_scores, score_matrix
from exporter.evaluate.snapshot import DriftValue, VersionSnapshot, VersionsSnapshot
from exporter.stats.kinds import Task
from exporter.stats.versions import (
    Labelled,
    choose_champion,
    compare_versions,
    prediction_drift,
)
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView
from exporter.window.slices import column
from exporter.window.vocab import OTHER

CORRECTION = "fdr_bh"


def _labelled(model: ModelConfig, pairs: JoinedPairs) -> Labelled:
    """A version's labelled pairs as arrays; rows without a prediction or label are left out."""
    rows = [
        i
        for i, (p, a) in enumerate(zip(pairs.predicted, pairs.actual, strict=True))
        if p is not None and a is not None
    ]
    kind = float if model.task is Task.REGRESSION else str
    y_true = np.array([kind(pairs.actual[i]) for i in rows])
    y_pred = np.array([kind(pairs.predicted[i]) for i in rows])
    scores = [pairs.scores[i] for i in rows] if pairs.scores else []
    if not scores or all(s is None for s in scores):
        return Labelled(y_true, y_pred)
    if model.task is Task.BINARY and model.positive_class is not None:
        return Labelled(y_true, y_pred, positive_scores(scores, model.positive_class))
    classes = pairs.classes or model.classes or ()
    if model.task is Task.MULTICLASS and classes:
        return Labelled(y_true, y_pred, score_matrix(scores, classes))
    return Labelled(y_true, y_pred)


def _scored(model: ModelConfig, view: WindowView, rows: np.ndarray) -> bool:
    """Whether the version sent a positive-class score a binary model's drift can compare."""
    return model.task is Task.BINARY and not np.isnan(view.score[rows]).all()


def _predictions(view: WindowView, rows: np.ndarray, scores: bool, classes: bool) -> np.ndarray:
    """What the version predicted in the window: positive-class scores when both versions
    compared sent them, else class names of a classifier, numbers of a regressor."""
    if scores:
        return np.asarray(view.score[rows])
    values: np.ndarray = view.prediction[rows]
    if not classes:
        return values
    codes = values[~np.isnan(values)].astype(np.int64)
    names: np.ndarray = np.array(view.classes, dtype=object)[codes].astype(str)
    return names


def _drift(
    model: ModelConfig, view: WindowView, champion: np.ndarray, challenger: np.ndarray
) -> DriftValue | None:
    """Prediction drift of the challenger's rows from the champion's, both in one form: a
    challenger without scores is compared by class, not its classes against scores."""
    scores = _scored(model, view, champion) and _scored(model, view, challenger)
    classes = model.task.is_classification
    found = prediction_drift(
        _predictions(view, champion, scores, classes),
        _predictions(view, challenger, scores, classes),
        model.versions.alpha,
    )
    if found is None:
        return None
    r = found.result
    return DriftValue(found.method, r.score, r.p_value, r.threshold, r.drifted)


def evaluate_versions(
    model: ModelConfig, view: WindowView, pairs: JoinedPairs, previous: str | None = None
) -> VersionsSnapshot | None:
    """The champion and each version with traffic; None until two versions are seen.

    A configured champion without traffic in the window (a typo, a version retired) leaves
    the choice to the rule below rather than comparing nothing with everything.

    The champion stays the previous evaluation's while that version has traffic: chosen by
    traffic each time, a 50/50 split swapped it back and forth, a worse version was the
    champion (and so never called worse) in 12 of 30 evaluations, and MLMonChallengerWorse,
    which waits 30 minutes, could not fire.
    """
    codes, values = view.versions, view.version_values
    if codes is None:
        return None
    counts = np.bincount(codes[codes >= 0], minlength=len(values))
    traffic = {v: int(counts[i]) for i, v in enumerate(values) if counts[i] and v != OTHER}
    configured = model.versions.champion if model.versions.champion in traffic else None
    kept = previous if previous in traffic else None  # a configured one absent: a typo, gone
    champion = choose_champion(traffic, configured or kept)
    if champion is None or len(traffic) < 2:
        return None
    pair_codes = column(pairs.slices, len(model.segments))
    names = [champion, *sorted(v for v in traffic if v != champion)]
    return VersionsSnapshot(
        champion, tuple(_versions(model, view, pairs, names, values, codes, pair_codes))
    )


def _versions(
    model: ModelConfig,
    view: WindowView,
    pairs: JoinedPairs,
    names: list[str],
    values: Sequence[str],
    codes: np.ndarray,
    pair_codes: np.ndarray,
) -> list[VersionSnapshot]:
    """The champion's snapshot, then each challenger's against it."""
    settings = model.versions
    code = {v: i for i, v in enumerate(values)}
    out: list[VersionSnapshot] = []
    base: tuple[Labelled, np.ndarray] | None = None  # the champion's, and its window rows
    for name in names:
        at = code.get(name, -2)
        sub = pairs.subset(pair_codes == at)
        labelled = _labelled(model, sub)
        metrics = realised(model, sub.predicted, sub.actual, sub.scores, sub.classes).metrics
        performance = metrics if len(labelled) >= settings.min_labeled else ()
        rows = codes == at
        if base is None:
            base = (labelled, rows)
            out.append(VersionSnapshot(name, len(labelled), performance))
            continue
        comparisons = compare_versions(
            model.task, base[0], labelled, settings.alpha, settings.min_labeled,
            model.positive_class, pairs.classes or model.classes or (), CORRECTION,
        )  # fmt: skip
        drift = _drift(model, view, base[1], rows)
        out.append(VersionSnapshot(name, len(labelled), performance, drift, comparisons))
    return out
