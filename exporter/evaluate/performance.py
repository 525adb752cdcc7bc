"""Realised model performance over predictions joined to their labels.

Undefined values (a ratio over nothing, AUC with one class) are left out, never NaN or 0; in
averages over classes they are skipped, as scikit-learn does with `zero_division=np.nan`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.probabilities import (
    binary_score_metrics,
    multiclass_score_metrics,
    positive_scores,
    score_matrix,
)
from exporter.reference.data import ReferenceData, missing
from exporter.stats.kinds import Task
from exporter.window.classnames import OTHER_MISMATCH, Compact
from exporter.window.vocab import OTHER

Pairs = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Realised:
    """Model-level metrics and (class, metric, value) triples for the bounded class list."""

    metrics: Pairs
    per_class: tuple[tuple[str, str, float], ...] = ()


@dataclass(frozen=True)
class ClassCounts:
    """Per-class confusion counts over the sorted union of actual and predicted classes."""

    classes: tuple[str, ...]
    tp: np.ndarray
    predicted: np.ndarray
    support: np.ndarray

    @classmethod
    def of(cls, actual: np.ndarray, predicted: np.ndarray) -> ClassCounts:
        """Count true positives, predictions and support of every class seen; a prediction
        OTHER_MISMATCH counts as one of `__other__` that missed, not as a class of its own
        (which added a class of precision 0 to the macro averages)."""
        named = _named(predicted)
        classes = tuple(sorted(set(actual.tolist()) | set(named.tolist())))
        names = np.asarray(classes)
        hits = actual == predicted
        tp = np.array([np.sum(hits & (actual == c)) for c in names], dtype=float)
        pred = np.array([np.sum(named == c) for c in names], dtype=float)
        sup = np.array([np.sum(actual == c) for c in names], dtype=float)
        return cls(classes, tp, pred, sup)

    def ratios(self) -> dict[str, np.ndarray]:
        """Per-class precision, recall and F1, NaN where the denominator is zero."""
        with np.errstate(divide="ignore", invalid="ignore"):
            fp, fn = self.predicted - self.tp, self.support - self.tp
            return {
                "precision": np.where(self.predicted > 0, self.tp / self.predicted, np.nan),
                "recall": np.where(self.support > 0, self.tp / self.support, np.nan),
                "f1": np.where(
                    2 * self.tp + fp + fn > 0, 2 * self.tp / (2 * self.tp + fp + fn), np.nan
                ),
            }


def _named(predicted: np.ndarray) -> np.ndarray:
    """Predictions as the class names they are exported under."""
    return np.where(predicted == OTHER_MISMATCH, OTHER, predicted)


def _mean(values: np.ndarray, weights: np.ndarray | None = None) -> float | None:
    """Average over the defined values; None when none is defined or weights sum to zero."""
    keep = ~np.isnan(values)
    if not keep.any():
        return None
    if weights is None:
        return float(np.mean(values[keep]))
    total = float(weights[keep].sum())
    return float(np.sum(values[keep] * weights[keep]) / total) if total > 0 else None


def _present(pairs: Sequence[tuple[str, float | None]]) -> list[tuple[str, float]]:
    return [(name, v) for name, v in pairs if v is not None and np.isfinite(v)]


def classification(
    model: ModelConfig,
    actual: np.ndarray,
    predicted: np.ndarray,
    scores: Sequence[Compact],
    classes: Sequence[str] = (),
) -> Realised:
    """Accuracy, averaged and per-class ratios, and score metrics where scores exist."""
    counts = ClassCounts.of(actual, predicted)
    ratios = counts.ratios()
    out: list[tuple[str, float | None]] = [("accuracy", float(np.mean(actual == predicted)))]
    positive = model.positive_class if model.task is Task.BINARY else None
    if positive is not None:
        at = counts.classes.index(positive) if positive in counts.classes else None
        for name in ("precision", "recall", "f1"):
            out.append((name, None if at is None else float(ratios[name][at])))
    for name, values in ratios.items():
        out.append((f"{name}_macro", _mean(values)))
        out.append((f"{name}_weighted", _mean(values, counts.support)))
    out += _score_metrics(actual, predicted, scores, positive)
    per_class = [
        (c, name, float(ratios[name][counts.classes.index(c)]))
        for c in classes
        if c in counts.classes
        for name in ratios
    ]
    return Realised(tuple(_present(out)), tuple(t for t in per_class if np.isfinite(t[2])))


def _score_metrics(
    actual: np.ndarray, predicted: np.ndarray, scores: Sequence[Compact], positive: str | None
) -> list[tuple[str, float | None]]:
    """Score-based metrics over the rows that carry scores."""
    if not scores or all(s is None for s in scores):
        return []
    if positive is not None:
        p = positive_scores(scores, positive)
        keep = ~np.isnan(p)
        if not keep.any():
            return []
        return list(binary_score_metrics(actual[keep] == positive, p[keep]))
    keys = {k for s in scores if s is not None and not isinstance(s, float) for k in s[0]}
    named = _named(predicted)
    classes = sorted(keys | set(actual.tolist()) | set(named.tolist()))
    matrix = score_matrix(scores, classes)
    keep = ~np.isnan(matrix).any(axis=1)
    if not keep.any():
        return []
    hits = (actual == predicted)[keep]
    return list(multiclass_score_metrics(actual[keep], named[keep], matrix[keep], classes, hits))


def regression(predicted: np.ndarray, actual: np.ndarray) -> Realised:
    """MAE, RMSE, R2 (absent for a constant target) and MAPE."""
    err = predicted - actual
    out: list[tuple[str, float | None]] = [
        ("mae", float(np.mean(np.abs(err)))),
        ("rmse", float(np.sqrt(np.mean(err**2)))),
    ]
    # A constant target has no r2; its computed variance may still be a rounding crumb
    # (150 labels of 0.1: 7.7e-34), which made r2 about -1e29.
    constant = actual.size == 0 or np.ptp(actual) == 0
    variance = float(np.sum((actual - actual.mean()) ** 2))
    out.append(("r2", None if constant else 1.0 - float(np.sum(err**2)) / variance))
    denominator = np.maximum(np.abs(actual), np.finfo(np.float64).eps)
    out.append(("mape", float(np.mean(np.abs(err) / denominator))))
    return Realised(tuple(_present(out)))


def realised(
    model: ModelConfig,
    predicted: Sequence[object],
    actual: Sequence[object],
    scores: Sequence[Compact] = (),
    classes: Sequence[str] = (),
) -> Realised:
    """Every realised metric for the model's task; empty when there is nothing to compare."""
    rows = [
        i
        for i, (p, a) in enumerate(zip(predicted, actual, strict=True))
        if p is not None and a is not None
    ]
    if not rows:
        return Realised(())
    if model.task is Task.REGRESSION:
        pred = np.array([float(predicted[i]) for i in rows])  # type: ignore[arg-type]
        true = np.array([float(actual[i]) for i in rows])  # type: ignore[arg-type]
        return regression(pred, true)
    kept = [scores[i] for i in rows] if scores else []
    return classification(
        model,
        np.array([str(actual[i]) for i in rows]),
        np.array([str(predicted[i]) for i in rows]),
        kept,
        classes or model.classes or (),
    )


def performance(
    model: ModelConfig,
    predicted: Sequence[object],
    actual: Sequence[object],
    scores: Sequence[Compact] = (),
) -> Pairs:
    """The model-level metrics only, as the reference baseline needs them."""
    return realised(model, predicted, actual, scores).metrics


def baseline(
    model: ModelConfig, data: ReferenceData, at: list[int] | None = None, count: int = 1
) -> Pairs:
    """Realised metrics of the reference rows `at` (None: all), scores too for roc_auc, when
    at least `count` of them are labelled: a segment value's baseline from 8 labelled rows
    of its 2,000 (accuracy 1.0) broke max_drop on a healthy window."""
    if data.prediction is None or data.label is None:
        return ()
    prediction: Sequence[Any] = data.prediction
    label: Sequence[Any] = data.label
    score = data.score
    labelled = labelled_rows(data, at)
    if next(islice(labelled, count - 1, None), None) is None:  # fewer than count
        return ()
    if at is not None:  # the rows' own columns; all rows need no copy
        prediction, label = [prediction[i] for i in at], [label[i] for i in at]
        score = None if score is None else score[at]
    scores = () if score is None else [None if v != v else float(v) for v in score.tolist()]
    return performance(model, prediction, label, scores)


def labelled_rows(data: ReferenceData, at: Sequence[int] | None = None) -> Iterator[int]:
    """The reference rows `at` (None: all) with both a prediction and a label."""
    label, prediction = data.label or (), data.prediction or ()
    rows = range(data.rows) if at is None else at
    return (i for i in rows if not missing(label[i]) and not missing(prediction[i]))


def error_baseline(
    model: ModelConfig, predicted: Sequence[object], actual: Sequence[object]
) -> tuple[float, float] | None:
    """The reference's error level for change detection: (cut, share of records past it). A
    regressor's cut is the 90th percentile of its absolute errors, so a tenth of it errs."""
    pairs = [(p, a) for p, a in zip(predicted, actual, strict=True) if p is not None]
    pairs = [(p, a) for p, a in pairs if a is not None]
    if not pairs:
        return None
    if model.task.is_classification:
        errors = np.array([str(p) != str(a) for p, a in pairs], dtype=float)
        cut = 0.5
    else:
        errors = np.abs(np.array([float(p) - float(a) for p, a in pairs]))  # type: ignore[arg-type]
        cut = float(np.quantile(errors, 0.9))
    return cut, float((errors > cut).mean())
