"""One evaluation of one model: drift, data quality and performance from a window copy."""

from __future__ import annotations

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.drift import score_column, summarise
from exporter.evaluate.estimate import Calibration
from exporter.evaluate.features import (
    reference_codes,
    score_embeddings,
    score_features,
    with_histogram,
)
from exporter.evaluate.fit import FittedReference
from exporter.evaluate.outcomes import assess
from exporter.evaluate.segments import evaluate_segments
from exporter.evaluate.snapshot import DriftValue, ModelSnapshot
from exporter.evaluate.versions import evaluate_versions
from exporter.stats.kinds import FeatureType
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView


def _prediction_drift(
    model: ModelConfig, fitted: FittedReference, view: WindowView
) -> DriftValue | None:
    column = fitted.prediction
    if column is None:
        return None
    source = view.score if fitted.prediction_from_score else view.prediction
    present = source[~np.isnan(source)]
    if column.type is FeatureType.CATEGORICAL:
        present = reference_codes(column, view.classes, present.astype(np.int64))
    return score_column(column, present, model.min_samples)


def evaluate(
    model: ModelConfig,
    fitted: FittedReference,
    view: WindowView,
    pairs: JoinedPairs,
    now: float,
    calibration: Calibration | None = None,
    previous: ModelSnapshot | None = None,
) -> ModelSnapshot:
    """Compute every per-model value the collector serves, from copies only: no I/O, no writes.

    The duration is left at 0: the caller times the whole run, reference check included;
    `previous`, the last snapshot, keeps the champion version.
    """
    champion = previous.versions.champion if previous and previous.versions else None
    raw = score_features(fitted.features, view, model.min_samples)
    raw += score_embeddings(fitted.embeddings, view, model.min_samples)
    summary = summarise(model, fitted, list(raw), view, pairs)
    outcome = assess(model, pairs, calibration)
    with_histograms = tuple(
        with_histogram(f, h, view)
        for f, h in zip(summary.features, fitted.histograms, strict=False)
    )
    features = with_histograms + summary.features[len(with_histograms) :]  # embeddings last
    return ModelSnapshot(
        model=model.name,
        evaluated_at=now,
        duration_seconds=0.0,
        window_samples=len(view),
        reference_samples=fitted.rows,
        features=features,
        drift_share=summary.share,
        dataset_drift=summary.detected,
        prediction_drift=_prediction_drift(model, fitted, view),
        performance=outcome.performance,
        reference_performance=fitted.performance,
        class_performance=outcome.class_performance,
        estimated_performance=outcome.estimated,
        estimation_error=outcome.estimation_error,
        label_coverage=pairs.coverage,
        multivariate_drift=summary.multivariate,
        target_drift=summary.target,
        multivariate_note=fitted.multivariate_note,
        segments=evaluate_segments(model, fitted, view, pairs, calibration),
        versions=evaluate_versions(model, view, pairs, champion),
    )
