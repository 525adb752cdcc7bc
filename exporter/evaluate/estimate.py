"""Performance estimated without labels from calibrated scores (confidence-based, as CBPE).

With calibrated probabilities p, the expected confusion matrix of a window is the sum of p over
the rows predicted positive (TP) and so on; ratios of these expectations estimate the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize  # type: ignore[import-untyped]

from exporter.config import ModelConfig
from exporter.evaluate.probabilities import ece, positive_scores, score_matrix
from exporter.reference.load import ReferenceData
from exporter.stats.kinds import Task
from exporter.window.classnames import Compact
from exporter.window.labels import Target

MIN_CALIBRATION_ROWS = 100
# Out-of-fold ECE must drop by more than this, so sampling noise does not buy a calibration.
CALIBRATION_MARGIN = 0.01


@dataclass(frozen=True)
class Calibration:
    """An isotonic map of positive-class scores: knots joined linearly, clipped at the ends."""

    x: np.ndarray
    y: np.ndarray

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities."""
        out: np.ndarray = np.interp(p, self.x, self.y)
        return out


def isotonic(score: np.ndarray, truth: np.ndarray) -> Calibration:
    """Fit a non-decreasing map from score to outcome rate by pooling adjacent violators.

    scipy's isotonic_regression does the pooling, but it fits a sequence and knows no x: rows
    sharing a score are first merged into one rate weighted by their count, so tied scores
    get one calibrated value and the knots are the distinct scores.
    """
    xs, inverse = np.unique(score, return_inverse=True)
    weights = np.bincount(inverse).astype(float)
    rates = np.bincount(inverse, weights=truth.astype(float)) / weights
    fitted = optimize.isotonic_regression(rates, weights=weights, increasing=True)
    return Calibration(xs.astype(float), np.asarray(fitted.x, dtype=float))


def fit_calibration(model: ModelConfig, data: ReferenceData) -> Calibration | None:
    """Isotonic calibration on the reference, kept only when it clearly lowers out-of-fold ECE."""
    if (
        model.task is not Task.BINARY
        or model.positive_class is None
        or data.score is None
        or data.label is None
    ):
        return None
    labels = np.array([str(v) for v in data.label])
    keep = ~np.isnan(data.score) & (labels != "None")
    score, truth = data.score[keep], labels[keep] == model.positive_class
    if score.size < MIN_CALIBRATION_ROWS or truth.all() or not truth.any():
        return None
    folds = np.arange(score.size) % 2 == 0
    raw = calibrated = 0.0
    for train in (folds, ~folds):
        test = ~train
        raw += ece(truth[test], score[test])
        calibrated += ece(truth[test], isotonic(score[train], truth[train]).apply(score[test]))
    return isotonic(score, truth) if (calibrated - raw) / 2 < -CALIBRATION_MARGIN else None


def expected_auc(p: np.ndarray) -> float | None:
    """The ROC AUC expected when each row is positive with probability p."""
    order = np.argsort(-p, kind="stable")
    sorted_p = p[order]
    positives, negatives = float(sorted_p.sum()), float((1 - sorted_p).sum())
    if positives <= 0 or negatives <= 0:
        return None
    last = np.r_[np.flatnonzero(np.diff(sorted_p)), sorted_p.size - 1]  # end of each tie group
    tpr = np.r_[0.0, np.cumsum(sorted_p)[last] / positives]
    fpr = np.r_[0.0, np.cumsum(1 - sorted_p)[last] / negatives]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def _ratios(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> dict[str, np.ndarray]:
    """Expected precision, recall and F1 per class; NaN where the expectation is zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "precision": np.where(tp + fp > 0, tp / (tp + fp), np.nan),
            "recall": np.where(tp + fn > 0, tp / (tp + fn), np.nan),
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan),
        }


def _binary(p: np.ndarray, hit: np.ndarray) -> list[tuple[str, float | None]]:
    tp, fp = np.sum(p[hit]), np.sum(1 - p[hit])
    fn, tn = np.sum(p[~hit]), np.sum(1 - p[~hit])
    ratios = _ratios(np.array([tp]), np.array([fp]), np.array([fn]))
    out: list[tuple[str, float | None]] = [("accuracy", float((tp + tn) / p.size))]
    out += [(name, float(v[0])) for name, v in ratios.items()]
    out.append(("roc_auc", expected_auc(p)))
    return out


def _multiclass(
    matrix: np.ndarray, predicted: np.ndarray, classes: Sequence[str]
) -> list[tuple[str, float | None]]:
    matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1e-12)
    chosen = predicted[:, None] == np.asarray(classes)[None, :]
    tp = np.sum(matrix * chosen, axis=0)
    fp = np.sum((1 - matrix) * chosen, axis=0)
    fn = np.sum(matrix * ~chosen, axis=0)
    out: list[tuple[str, float | None]] = [("accuracy", float(tp.sum() / len(predicted)))]
    for name, values in _ratios(tp, fp, fn).items():
        defined = values[~np.isnan(values)]
        out.append((f"{name}_macro", float(defined.mean()) if defined.size else None))
    aucs = [expected_auc(matrix[:, i]) for i in range(len(classes))]
    defined_auc = [a for a in aucs if a is not None]
    out.append(("roc_auc", float(np.mean(defined_auc)) if defined_auc else None))
    return out


def estimate(
    model: ModelConfig,
    calibration: Calibration | None,
    predicted: Sequence[Target],
    scores: Sequence[Compact],
) -> tuple[tuple[str, float], ...]:
    """Estimated metrics over the rows with scores; empty below min_samples of them."""
    scored = _scored(model, predicted, scores)
    if scored is None or scored[0].sum() < model.min_samples:
        return ()
    rows, values, classes = scored
    pred = np.array([str(v) for v in predicted])[rows]
    out: list[tuple[str, float | None]]
    if model.task is Task.BINARY and model.positive_class is not None:
        p = values[rows] if calibration is None else calibration.apply(values[rows])
        out = _binary(p, pred == model.positive_class)
    else:
        out = _multiclass(values[rows], pred, classes)
    return tuple((name, v) for name, v in out if v is not None and np.isfinite(v))


def scored_rows(
    model: ModelConfig, predicted: Sequence[Target], scores: Sequence[Compact]
) -> np.ndarray | None:
    """Which rows the estimate uses (those with usable scores); None for models without."""
    scored = _scored(model, predicted, scores)
    return None if scored is None else scored[0]


def _scored(
    model: ModelConfig, predicted: Sequence[Target], scores: Sequence[Compact]
) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """The rows with usable scores, and the scores: a binary model's positive-class
    probabilities (no classes), else a matrix over the classes; None for models without."""
    if not model.task.is_classification or not scores:
        return None
    if model.task is Task.BINARY and model.positive_class is not None:
        p = positive_scores(scores, model.positive_class)
        return ~np.isnan(p), p, []
    classes = _classes(predicted, scores)
    matrix = score_matrix(scores, classes)
    return ~np.isnan(matrix).any(axis=1), matrix, classes


def _classes(predicted: Sequence[Target], scores: Sequence[Compact]) -> list[str]:
    """Every class a score names or a row predicts, sorted."""
    keys = {k for s in scores if s is not None and not isinstance(s, float) for k in s[0]}
    return sorted(keys | {str(v) for v in predicted})
