"""Realised model performance over predictions joined to their labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exporter.config.model import ModelConfig, Task

METRICS_BY_TASK: dict[Task, tuple[str, ...]] = {
    Task.BINARY: ("accuracy", "precision", "recall", "f1"),
    Task.MULTICLASS: ("accuracy",),
    Task.REGRESSION: ("mae", "rmse", "r2"),
}


def performance(model: ModelConfig, predicted: Sequence[object],
                actual: Sequence[object]) -> tuple[tuple[str, float], ...]:
    """Metrics for the model's task; empty when there is nothing to compare."""
    pairs = [(p, a) for p, a in zip(predicted, actual, strict=True)
             if p is not None and a is not None]
    if not pairs:
        return ()
    if model.task is Task.REGRESSION:
        pred = np.array([float(p) for p, _ in pairs])  # type: ignore[arg-type]
        true = np.array([float(a) for _, a in pairs])  # type: ignore[arg-type]
        return _regression(pred, true)
    pred_s = np.array([str(p) for p, _ in pairs])
    true_s = np.array([str(a) for _, a in pairs])
    out = [("accuracy", float(np.mean(pred_s == true_s)))]
    if model.task is Task.BINARY and model.positive_class is not None:
        out.extend(_binary(pred_s == model.positive_class, true_s == model.positive_class))
    return tuple(out)


def _binary(pred: np.ndarray, true: np.ndarray) -> list[tuple[str, float]]:
    """Precision, recall and F1 of the positive class; undefined ratios are left out."""
    tp = float(np.sum(pred & true))
    out = []
    precision = tp / float(np.sum(pred)) if pred.any() else None
    recall = tp / float(np.sum(true)) if true.any() else None
    if precision is not None:
        out.append(("precision", precision))
    if recall is not None:
        out.append(("recall", recall))
    if precision is not None and recall is not None:
        out.append(("f1", 0.0 if tp == 0 else 2 * precision * recall / (precision + recall)))
    return out


def _regression(pred: np.ndarray, true: np.ndarray) -> tuple[tuple[str, float], ...]:
    err = pred - true
    out = [("mae", float(np.mean(np.abs(err)))), ("rmse", float(np.sqrt(np.mean(err ** 2))))]
    variance = float(np.sum((true - true.mean()) ** 2))
    if variance > 0:
        out.append(("r2", 1.0 - float(np.sum(err ** 2)) / variance))
    return tuple(out)
