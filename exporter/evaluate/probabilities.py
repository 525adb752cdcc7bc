"""Score-based metrics shared by realised and estimated performance: AUC, log loss, Brier, ECE."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exporter.stats.lazy import scipy_stats
from exporter.window.classnames import Compact

ECE_BINS = 10
EPS = float(np.finfo(np.float64).eps)


def positive_scores(scores: Sequence[Compact], positive: str) -> np.ndarray:
    """The positive-class probability per row; NaN where the row has none."""
    out = np.full(len(scores), np.nan)
    for i, s in enumerate(scores):
        if isinstance(s, float):
            out[i] = s
        elif s is not None and positive in s[0]:
            out[i] = s[1][s[0].index(positive)]
    return out


def score_matrix(scores: Sequence[Compact], classes: Sequence[str]) -> np.ndarray:
    """Rows of class probabilities in `classes` order (absent classes 0); NaN rows lack scores."""
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(scores), len(classes)))
    for i, s in enumerate(scores):
        if s is None or isinstance(s, float):
            out[i] = np.nan
            continue
        for key, p in zip(s[0], s[1], strict=True):
            if key in index:
                out[i, index[key]] = p
    return out


def binary_auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC from ranks (Mann-Whitney U, ties as midranks); None with a single class."""
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = scipy_stats().rankdata(score)  # imported on first use: it costs a second
    u = float(ranks[truth].sum()) - positives * (positives + 1) / 2.0
    return u / (positives * negatives)


def ovr_auc(actual: np.ndarray, matrix: np.ndarray, classes: Sequence[str]) -> float | None:
    """One-vs-rest macro ROC AUC over the classes that have both positives and negatives."""
    values = [binary_auc(actual == c, matrix[:, i]) for i, c in enumerate(classes)]
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def ece(hit: np.ndarray, confidence: np.ndarray) -> float:
    """Expected calibration error over equal-width bins: mean |hit rate - confidence|, weighted."""
    edges = np.linspace(0.0, 1.0, ECE_BINS + 1)
    ids = np.searchsorted(edges[1:-1], confidence)
    total = np.bincount(ids, minlength=ECE_BINS)
    gap = np.abs(
        np.bincount(ids, weights=hit.astype(float), minlength=ECE_BINS)
        - np.bincount(ids, weights=confidence, minlength=ECE_BINS)
    )
    return float(gap.sum() / total.sum())


def binary_score_metrics(truth: np.ndarray, p: np.ndarray) -> list[tuple[str, float]]:
    """AUC (when both classes occur), log loss, Brier and ECE of positive-class scores."""
    out: list[tuple[str, float]] = []
    auc = binary_auc(truth, p)
    if auc is not None:
        out.append(("roc_auc", auc))
    clipped = np.clip(p, EPS, 1 - EPS)
    loss = -np.mean(np.where(truth, np.log(clipped), np.log(1 - clipped)))
    out += [
        ("log_loss", float(loss)),
        ("brier", float(np.mean((p - truth) ** 2))),
        ("ece", ece(truth, p)),
    ]
    return out


def multiclass_score_metrics(
    actual: np.ndarray,
    predicted: np.ndarray,
    matrix: np.ndarray,
    classes: Sequence[str],
    hits: np.ndarray | None = None,
) -> list[tuple[str, float]]:
    """OvR macro AUC, log loss, Brier (summed over classes) and top-label ECE; `hits` where
    a prediction named as its label is still wrong (two classes folded into one name)."""
    out: list[tuple[str, float]] = []
    auc = ovr_auc(actual, matrix, classes)
    if auc is not None:
        out.append(("roc_auc", auc))
    onehot = actual[:, None] == np.asarray(classes)[None, :]
    p_true = np.where(onehot, np.clip(matrix, EPS, 1 - EPS), 1.0).prod(axis=1)
    p_true = np.where(onehot.any(axis=1), p_true, EPS)
    out.append(("log_loss", float(-np.mean(np.log(p_true)))))
    out.append(("brier", float(np.mean(np.sum((matrix - onehot) ** 2, axis=1)))))
    column = np.searchsorted(np.asarray(classes), predicted)
    confidence = matrix[np.arange(len(predicted)), column]
    out.append(("ece", ece(predicted == actual if hits is None else hits, confidence)))
    return out
