"""One-sided tests that a challenger model version is worse than the champion, per metric.

Both versions are scored over the same window, so their labelled records are two independent
samples: a pooled two-proportion z-test for ratios of counts (accuracy, precision, recall),
DeLong's variance for ROC AUC, Welch's t-test on per-record errors and losses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from exporter.stats import make_method
from exporter.stats.base import DriftResult, present
from exporter.stats.correction import adjust_p_values
from exporter.stats.kinds import FeatureType, Task
from exporter.stats.lazy import scipy_stats

FloatArray = npt.NDArray[np.float64]

# Scores are clipped so log loss stays finite, as the realised metrics clip them.
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Comparison:
    """A challenger against the champion on one metric, with the evidence that it is worse."""

    metric: str
    champion: float
    challenger: float
    p_value: float
    test: str
    worse: bool


@dataclass(frozen=True)
class Labelled:
    """One version's labelled predictions in the window; `scores` per row is a binary model's
    positive-class probability (NaN: none) or a multiclass one's probabilities in `classes` order.
    """

    y_true: npt.NDArray[Any]
    y_pred: npt.NDArray[Any]
    scores: FloatArray | None = None

    def __len__(self) -> int:
        """Labelled records: the size min_labeled is compared with."""
        return int(np.asarray(self.y_true).size)


@dataclass(frozen=True)
class VersionDrift:
    """How far a challenger's predictions are from the champion's, under the method's label."""

    method: str
    result: DriftResult


def _decided(
    metric: str, pair: tuple[float, float], p: float, test: str, alpha: float
) -> Comparison:
    """A Comparison whose p-value is a number in [0, 1]; no evidence (NaN) reads as p = 1."""
    p_value = 1.0 if not np.isfinite(p) else float(np.clip(p, 0.0, 1.0))
    return Comparison(metric, pair[0], pair[1], p_value, test, p_value < alpha)


def proportion_worse(
    metric: str, champion: tuple[int, int], challenger: tuple[int, int], alpha: float = 0.05
) -> Comparison:
    """Pooled two-proportion z-test that the challenger's (hits, total) share is lower.

    z = (p_champion - p_challenger) / sqrt(p (1 - p) (1/n1 + 1/n2)) with the pooled p, and the
    p-value is the upper tail of z. Equal shares of 0 or 1 leave no variance: p = 1.
    """
    (k1, n1), (k2, n2) = champion, challenger
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"{metric}: a proportion needs a positive denominator on both sides")
    p1, p2 = k1 / n1, k2 / n2
    pooled = (k1 + k2) / (n1 + n2)
    se = float(np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)))
    p = float(scipy_stats().norm.sf((p1 - p2) / se)) if se > 0 else float("nan")
    return _decided(metric, (p1, p2), p, "two_proportion_z", alpha)


def delong(truth: npt.NDArray[np.bool_], scores: FloatArray) -> tuple[float, float]:
    """ROC AUC and DeLong's variance of it, from midranks (Sun and Xu's fast algorithm).

    The structural components are each positive's share of negatives it outscores (V10) and
    each negative's share of positives that outscore it (V01); the variance of the AUC is
    var(V10) / m + var(V01) / n. Needs at least two positives and two negatives.
    """
    truth, scores = np.asarray(truth, dtype=bool), np.asarray(scores, dtype=np.float64)
    pos, neg = scores[truth], scores[~truth]
    m, n = pos.size, neg.size
    if m < 2 or n < 2:
        raise ValueError("DeLong's variance needs at least two positives and two negatives")
    midranks = scipy_stats().rankdata  # ranks from 1, ties averaged, as Mann-Whitney counts
    everyone = midranks(np.concatenate([pos, neg]))
    v10 = (everyone[:m] - midranks(pos)) / n
    v01 = 1.0 - (everyone[m:] - midranks(neg)) / m
    return float(v10.mean()), float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)


def auc_worse(
    champion: tuple[npt.NDArray[np.bool_], FloatArray],
    challenger: tuple[npt.NDArray[np.bool_], FloatArray],
    alpha: float = 0.05,
) -> Comparison:
    """z-test that the challenger's ROC AUC is lower, with DeLong's variance for each sample.

    The samples are independent (different records), so the variance of the difference is the
    sum of the two; no covariance term as in DeLong's paired test.
    """
    (auc1, var1), (auc2, var2) = delong(*champion), delong(*challenger)
    se = float(np.sqrt(var1 + var2))
    p = float(scipy_stats().norm.sf((auc1 - auc2) / se)) if se > 0 else float("nan")
    return _decided("roc_auc", (auc1, auc2), p, "delong_z", alpha)


def losses_worse(
    metric: str,
    champion: FloatArray,
    challenger: FloatArray,
    alpha: float = 0.05,
    root: bool = False,
) -> Comparison:
    """Welch's t-test that the challenger's mean per-record loss is higher (lower is better).

    scipy's ttest_ind(equal_var=False, alternative="greater") spelled out, because scipy warns
    on a constant side (all errors 0, say) and gives NaN when both are: two constant sides are
    certain either way, or no evidence when equal. The values reported are the mean losses, or
    their square roots when `root` (RMSE; the test compares the squared errors themselves).
    """
    a, b = np.asarray(champion, dtype=np.float64), np.asarray(challenger, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"{metric}: Welch's test needs at least two records a side")
    m1, m2 = float(a.mean()), float(b.mean())
    v1, v2 = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    if v1 + v2 > 0:
        df = (v1 + v2) ** 2 / (v1**2 / (a.size - 1) + v2**2 / (b.size - 1))
        p = float(scipy_stats().t.sf((m2 - m1) / np.sqrt(v1 + v2), df))
    else:
        p = float("nan") if m1 == m2 else float(m2 < m1)
    values = (float(np.sqrt(m1)), float(np.sqrt(m2))) if root else (m1, m2)
    return _decided(metric, values, p, "welch_t", alpha)


def _binary_losses(truth: npt.NDArray[np.bool_], p: FloatArray) -> dict[str, FloatArray]:
    """Per-record log loss and Brier score of positive-class probabilities."""
    clipped = np.clip(p, EPS, 1 - EPS)
    return {
        "log_loss": -np.where(truth, np.log(clipped), np.log(1 - clipped)),
        "brier": (p - truth) ** 2,
    }


def _multiclass_losses(
    y_true: npt.NDArray[Any], matrix: FloatArray, classes: Sequence[str]
) -> dict[str, FloatArray]:
    """Per-record log loss and Brier score (summed over classes) of class probability rows."""
    onehot = y_true[:, None] == np.asarray(classes)[None, :]
    p_true = np.where(onehot, np.clip(matrix, EPS, 1 - EPS), 1.0).prod(axis=1)
    p_true = np.where(onehot.any(axis=1), p_true, EPS)
    return {"log_loss": -np.log(p_true), "brier": np.sum((matrix - onehot) ** 2, axis=1)}


def _proportions(side: Labelled, positive: str | None) -> dict[str, tuple[int, int]]:
    """(hits, total) of accuracy, and for a positive class of precision and recall."""
    true, pred = np.asarray(side.y_true).astype(str), np.asarray(side.y_pred).astype(str)
    out = {"accuracy": (int(np.sum(true == pred)), true.size)}
    if positive is not None:
        tp = int(np.sum((true == positive) & (pred == positive)))
        out["precision"] = (tp, int(np.sum(pred == positive)))
        out["recall"] = (tp, int(np.sum(true == positive)))
    return out


def _scored(side: Labelled) -> tuple[npt.NDArray[np.str_], FloatArray] | None:
    """The truth (as class names) and scores of the rows that carry scores; None if none do."""
    if side.scores is None:
        return None
    scores = np.asarray(side.scores, dtype=np.float64)
    keep = ~np.isnan(scores) if scores.ndim == 1 else ~np.isnan(scores).any(axis=1)
    return (np.asarray(side.y_true)[keep].astype(str), scores[keep]) if keep.any() else None


def _score_comparisons(
    champion: Labelled,
    challenger: Labelled,
    alpha: float,
    positive: str | None,
    classes: Sequence[str],
) -> list[Comparison]:
    """ROC AUC (binary, each class at least twice a side) and per-record losses, from scores."""
    a, b = _scored(champion), _scored(challenger)
    if a is None or b is None or a[1].ndim != b[1].ndim:
        return []
    out = []
    if positive is not None and a[1].ndim == 1:
        ta, tb = a[0] == positive, b[0] == positive
        if min(ta.sum(), (~ta).sum(), tb.sum(), (~tb).sum()) >= 2:
            out.append(auc_worse((ta, a[1]), (tb, b[1]), alpha))
        la, lb = _binary_losses(ta, a[1]), _binary_losses(tb, b[1])
    elif a[1].ndim == 2 and classes:
        la, lb = _multiclass_losses(*a, classes), _multiclass_losses(*b, classes)
    else:
        return []
    return out + [losses_worse(name, la[name], lb[name], alpha) for name in la]


def corrected(comparisons: Sequence[Comparison], how: str, alpha: float) -> tuple[Comparison, ...]:
    """p-values adjusted across a challenger's metrics, so its family of tests keeps alpha."""
    if how == "none" or not comparisons:
        return tuple(comparisons)
    adjusted = adjust_p_values([c.p_value for c in comparisons], how)
    return tuple(
        replace(c, p_value=float(p), worse=bool(p < alpha))
        for c, p in zip(comparisons, adjusted, strict=True)
    )


def compare_versions(
    task: Task,
    champion: Labelled,
    challenger: Labelled,
    alpha: float = 0.05,
    min_labeled: int = 200,
    positive: str | None = None,
    classes: Sequence[str] = (),
    correction: str = "none",
) -> tuple[Comparison, ...]:
    """Every comparison that applies to the task; none when either side has < min_labeled.

    Classification: accuracy (and precision and recall for a binary model's `positive`) as
    proportions, then ROC AUC, log loss and Brier where both sides carry scores (`classes`
    orders a multiclass model's score rows). Regression: MAE and RMSE on per-record errors.
    """
    if len(champion) < min_labeled or len(challenger) < min_labeled:
        return ()
    if task is Task.REGRESSION:
        err_a = np.asarray(champion.y_pred, float) - np.asarray(champion.y_true, float)
        err_b = np.asarray(challenger.y_pred, float) - np.asarray(challenger.y_true, float)
        out = [
            losses_worse("mae", np.abs(err_a), np.abs(err_b), alpha),
            losses_worse("rmse", err_a**2, err_b**2, alpha, root=True),
        ]
        return corrected(out, correction, alpha)
    pos = positive if task is Task.BINARY else None
    shares_a, shares_b = _proportions(champion, pos), _proportions(challenger, pos)
    out = [
        proportion_worse(name, shares_a[name], shares_b[name], alpha)
        for name in shares_a
        if shares_a[name][1] > 0 and shares_b[name][1] > 0
    ]
    out += _score_comparisons(champion, challenger, alpha, pos, classes)
    return corrected(out, correction, alpha)


def prediction_drift(
    champion: npt.NDArray[Any],
    challenger: npt.NDArray[Any],
    alpha: float = 0.05,
    method: str = "ks",
) -> VersionDrift | None:
    """Whether the two versions' predictions come from one distribution; None if a side is empty.

    Numbers (regression outputs, scores) go through a registered numeric method (KS: its
    statistic already weighs both sample sizes). Classes go through Pearson's chi-square test
    of homogeneity on the 2 x classes table, not the registered goodness of fit, which takes
    the champion's shares as exact: with versions of equal size that flagged 17 % of equal
    pairs at alpha 0.05 (docs/versions.md).
    """
    a, b = np.asarray(champion), np.asarray(challenger)
    numeric = a.dtype.kind == "f"
    if numeric:
        a, b = present(a), present(b.astype(np.float64))
    if a.size == 0 or b.size == 0:
        return None
    if numeric:
        fitted = make_method(method, FeatureType.NUMERIC, alpha).fit(a)
        return VersionDrift(fitted.label, fitted.score(b))
    names, codes = np.unique(np.concatenate([a.astype(str), b.astype(str)]), return_inverse=True)
    table = [np.bincount(side, minlength=names.size) for side in (codes[: a.size], codes[a.size :])]
    if names.size < 2:
        return VersionDrift("chisquare", DriftResult(0.0, 1.0, alpha, False))
    stat, p = scipy_stats().chi2_contingency(np.array(table), correction=False)[:2]
    return VersionDrift("chisquare", DriftResult(float(stat), float(p), alpha, bool(p < alpha)))


def choose_champion(traffic: Mapping[str, int], configured: str | None = None) -> str | None:
    """The configured champion, else the busiest version (ties: by name), never `__other__`."""
    if configured is not None:
        return configured
    ranked = sorted((-n, v) for v, n in traffic.items() if v != "__other__" and n > 0)
    return ranked[0][1] if ranked else None
