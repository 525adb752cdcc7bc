"""One evaluation of one model: drift, data quality and performance from a window copy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.drift import score_column, summarise
from exporter.evaluate.estimate import Calibration
from exporter.evaluate.fit import FittedColumn, FittedReference
from exporter.evaluate.histograms import ReferenceHistogram, categorical_window, numeric_window
from exporter.evaluate.outcomes import assess
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot
from exporter.stats.kinds import FeatureType
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView
from exporter.window.vocab import translate


def _ratio(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def _numeric(column: FittedColumn, values: np.ndarray, min_samples: int) -> FeatureSnapshot:
    missing = np.isnan(values)
    present = values[~missing]
    out_of_range = None
    if column.low is not None and column.high is not None:
        out_of_range = _ratio((present < column.low) | (present > column.high))
    return FeatureSnapshot(
        column.name,
        score_column(column, values, min_samples),
        _ratio(missing),
        out_of_range_ratio=out_of_range,
    )


def _reference_codes(column: FittedColumn, values: Sequence[str], codes: np.ndarray) -> np.ndarray:
    """Window codes re-expressed as reference codes; unseen values share the last code."""
    assert column.codes is not None
    table = translate(values, column.codes, len(column.codes))
    out: np.ndarray = table[codes]
    return out


def _categorical(
    column: FittedColumn, values: Sequence[str], codes: np.ndarray, min_samples: int
) -> FeatureSnapshot:
    missing = codes < 0
    present = codes[~missing].astype(np.int64)
    allowed = column.allowed or frozenset()
    known = np.array([v in allowed for v in values] or [False])
    unseen = _ratio(~known[present])
    with_missing = np.where(missing, -1, _reference_codes(column, values, np.maximum(codes, 0)))
    drift = score_column(column, with_missing.astype(np.int64), min_samples)
    return FeatureSnapshot(column.name, drift, _ratio(missing), unseen_category_ratio=unseen)


def _prediction_drift(
    model: ModelConfig, fitted: FittedReference, view: WindowView
) -> DriftValue | None:
    column = fitted.prediction
    if column is None:
        return None
    source = view.score if fitted.prediction_from_score else view.prediction
    present = source[~np.isnan(source)]
    if column.type is FeatureType.CATEGORICAL:
        present = _reference_codes(column, view.classes, present.astype(np.int64))
    return score_column(column, present, model.min_samples)


def _with_histogram(
    feature: FeatureSnapshot, ref: ReferenceHistogram, view: WindowView
) -> FeatureSnapshot:
    """Attach the reference-versus-window picture the drill-down page draws."""
    if ref.numeric:
        histogram = numeric_window(ref, view.numeric[feature.name])
    else:
        histogram = categorical_window(
            ref, view.categories[feature.name], view.categorical[feature.name]
        )
    return replace(feature, histogram=histogram)


def _features(
    model: ModelConfig, fitted: FittedReference, view: WindowView
) -> list[FeatureSnapshot]:
    """Each feature's drift and data quality, before the multiple-testing correction."""
    out = []
    for column in fitted.features:
        if column.type is FeatureType.NUMERIC:
            out.append(_numeric(column, view.numeric[column.name], model.min_samples))
        else:
            codes = view.categorical[column.name]
            values = view.categories[column.name]
            out.append(_categorical(column, values, codes, model.min_samples))
    return out


def evaluate(
    model: ModelConfig,
    fitted: FittedReference,
    view: WindowView,
    pairs: JoinedPairs,
    now: float,
    calibration: Calibration | None = None,
) -> ModelSnapshot:
    """Compute every per-model value the collector serves, from copies only: no I/O, no writes.

    The duration is left at 0: the caller times the whole run, reference check included.
    """
    summary = summarise(model, fitted, _features(model, fitted, view), view, pairs)
    outcome = assess(model, pairs, calibration)
    with_histograms = tuple(
        _with_histogram(f, h, view)
        for f, h in zip(summary.features, fitted.histograms, strict=False)
    )
    return ModelSnapshot(
        model=model.name,
        evaluated_at=now,
        duration_seconds=0.0,
        window_samples=len(view),
        reference_samples=fitted.rows,
        features=with_histograms or summary.features,
        drift_share=summary.share,
        dataset_drift=summary.detected,
        prediction_drift=_prediction_drift(model, fitted, view),
        performance=outcome.performance,
        reference_performance=fitted.performance,
        class_performance=outcome.class_performance,
        estimated_performance=outcome.estimated,
        estimation_error=outcome.estimation_error,
        label_coverage=outcome.label_coverage,
        multivariate_drift=summary.multivariate,
        target_drift=summary.target,
        multivariate_note=fitted.multivariate_note,
    )
