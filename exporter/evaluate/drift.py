"""Per-model drift decisions: learned thresholds, p-value correction, dataset, PCA and labels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from exporter.config import ModelConfig
from exporter.decode.wire import class_key
from exporter.evaluate.fit import FittedColumn, FittedReference
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot
from exporter.stats.correction import adjust_p_values
from exporter.stats.kinds import FeatureType
from exporter.stats.multivariate import METHOD as PCA_METHOD
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView


@dataclass(frozen=True)
class DriftSummary:
    """Corrected feature verdicts and the model-level drift values built on them."""

    features: tuple[FeatureSnapshot, ...]
    share: float | None
    detected: bool | None
    multivariate: DriftValue | None
    target: DriftValue | None


def score_column(column: FittedColumn, values: np.ndarray, min_samples: int) -> DriftValue | None:
    """Score a column (missing values included); too few usable values export nothing.

    The exported threshold is the one decided by: learned, or a fixed one raised to its noise
    floor where the window is too small for it (see NoiseFloor). Both are for the values the
    method scores: the present ones unless it counts missing values in a bucket.
    """
    method = column.method
    size = method.usable(values).shape[0] if method is not None else 0
    if method is None or size < max(min_samples, 1):
        return None
    try:
        result = method.score(values)
    except ValueError:
        return None
    cut = column.learned.for_size(size) if column.learned else None
    if cut is not None:
        return DriftValue(
            method.label, result.score, result.p_value, cut, result.score > cut, learned=True
        )
    floor = column.noise.for_size(size) if column.noise else None
    if floor is not None and floor > result.threshold:  # a small window: chance decides less
        return DriftValue(method.label, result.score, result.p_value, floor, result.score > floor)
    return DriftValue(method.label, result.score, result.p_value, result.threshold, result.drifted)


def correct(features: tuple[FeatureSnapshot, ...], how: str) -> tuple[FeatureSnapshot, ...]:
    """Re-decide p-value tests on adjusted p-values; the raw p-value stays what is exported."""
    tested = [
        i
        for i, f in enumerate(features)
        if f.drift is not None and f.drift.p_value is not None and not f.drift.learned
    ]
    raw = [features[i].drift.p_value for i in tested]  # type: ignore[union-attr]
    adjusted = adjust_p_values(np.array(raw, dtype=float), how)
    out = list(features)
    for i, p in zip(tested, adjusted, strict=True):
        drift = features[i].drift
        assert drift is not None
        out[i] = replace(features[i], drift=replace(drift, drifted=bool(p < drift.threshold)))
    return tuple(out)


def dataset_share(
    columns: tuple[FittedColumn, ...], features: tuple[FeatureSnapshot, ...]
) -> float | None:
    """Importance-weighted share of drifted features among those scored."""
    pairs = [
        (c.importance, f.drift.drifted)
        for c, f in zip(columns, features, strict=True)
        if f.drift is not None
    ]
    total = sum(w for w, _ in pairs)
    return sum(w for w, d in pairs if d) / total if pairs and total > 0 else None


def multivariate(
    model: ModelConfig, fitted: FittedReference, view: WindowView
) -> DriftValue | None:
    """PCA reconstruction error of the window against its reference-learned threshold."""
    pca = fitted.multivariate
    if pca is None or len(view) < max(model.min_samples, 1):
        return None
    rows = np.column_stack([view.numeric[n] for n in fitted.multivariate_features])
    score, cut = pca.decide(rows, model.learned_k)
    return DriftValue(PCA_METHOD, score, None, cut, pca.drifted(score, cut), learned=True)


def target(model: ModelConfig, fitted: FittedReference, pairs: JoinedPairs) -> DriftValue | None:
    """Joined labels against the reference label column."""
    column = fitted.target
    if column is None or len(pairs) < max(model.min_samples, 1):
        return None
    if column.type is FeatureType.CATEGORICAL:
        codes = column.codes or {}
        values = np.array(
            [codes.get(class_key(v), len(codes)) for v in pairs.actual], dtype=np.int64
        )
    else:
        values = np.array(pairs.actual, dtype=np.float64)
    return score_column(column, values, model.min_samples)


def summarise(
    model: ModelConfig,
    fitted: FittedReference,
    features: list[FeatureSnapshot],
    view: WindowView,
    pairs: JoinedPairs,
) -> DriftSummary:
    """Everything drift-related the snapshot needs beyond each feature's raw verdict."""
    corrected = correct(tuple(features), model.drift_correction)
    share = dataset_share(fitted.features + fitted.embeddings, corrected)
    return DriftSummary(
        corrected,
        share,
        None if share is None else share >= model.drift_share,
        multivariate(model, fitted, view),
        target(model, fitted, pairs),
    )
