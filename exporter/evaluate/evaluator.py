"""One evaluation of one model: drift, data quality and performance from a window copy."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.drift import score_column, summarise
from exporter.evaluate.estimate import Calibration
from exporter.evaluate.fit import FittedColumn, FittedReference
from exporter.evaluate.histograms import ReferenceHistogram, categorical_window, numeric_window
from exporter.evaluate.outcomes import assess
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot
from exporter.ingest.labels import JoinedPairs
from exporter.ingest.vocab import Vocabulary
from exporter.ingest.window import Window, WindowView
from exporter.stats.kinds import FeatureType


def _drift(column: FittedColumn, values: np.ndarray, min_samples: int) -> DriftValue | None:
    """Score only windows big enough to say something; small ones export nothing."""
    return score_column(column, values, min_samples)


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
        _drift(column, values, min_samples),
        _ratio(missing),
        out_of_range_ratio=out_of_range,
    )


def _reference_codes(column: FittedColumn, vocab: Vocabulary, codes: np.ndarray) -> np.ndarray:
    """Window codes re-expressed as reference codes; unseen values share the last code."""
    assert column.codes is not None
    table = vocab.translate(dict(column.codes), len(column.codes))
    out: np.ndarray = table[codes]
    return out


def _categorical(
    column: FittedColumn, vocab: Vocabulary, codes: np.ndarray, min_samples: int
) -> FeatureSnapshot:
    missing = codes < 0
    present = codes[~missing].astype(np.int64)
    allowed = column.allowed or frozenset()
    known = np.array([v in allowed for v in vocab.values] or [False])
    unseen = _ratio(~known[present])
    with_missing = np.where(missing, -1, _reference_codes(column, vocab, np.maximum(codes, 0)))
    drift = _drift(column, with_missing.astype(np.int64), min_samples)
    return FeatureSnapshot(column.name, drift, _ratio(missing), unseen_category_ratio=unseen)


def _prediction_drift(
    model: ModelConfig, fitted: FittedReference, window: Window, view: WindowView
) -> DriftValue | None:
    column = fitted.prediction
    if column is None:
        return None
    source = view.score if fitted.prediction_from_score else view.prediction
    present = source[~np.isnan(source)]
    if column.type is FeatureType.CATEGORICAL:
        present = _reference_codes(column, window.classes, present.astype(np.int64))
    return _drift(column, present, model.min_samples)


def _with_histogram(
    feature: FeatureSnapshot, ref: ReferenceHistogram, window: Window, view: WindowView
) -> FeatureSnapshot:
    """Attach the reference-versus-window picture the drill-down page draws."""
    if ref.numeric:
        histogram = numeric_window(ref, view.numeric[feature.name])
    else:
        histogram = categorical_window(
            ref, window.vocabularies[feature.name], view.categorical[feature.name]
        )
    return replace(feature, histogram=histogram)


def evaluate(
    model: ModelConfig,
    fitted: FittedReference,
    window: Window,
    view: WindowView,
    pairs: JoinedPairs,
    now: float,
    duration: float,
    calibration: Calibration | None = None,
) -> ModelSnapshot:
    """Compute every per-model value the collector serves."""
    features = []
    for column in fitted.features:
        if column.type is FeatureType.NUMERIC:
            features.append(_numeric(column, view.numeric[column.name], model.min_samples))
        else:
            features.append(
                _categorical(
                    column,
                    window.vocabularies[column.name],
                    view.categorical[column.name],
                    model.min_samples,
                )
            )
    summary = summarise(model, fitted, features, view, pairs)
    outcome = assess(model, pairs, calibration)
    with_histograms = tuple(
        _with_histogram(f, h, window, view)
        for f, h in zip(summary.features, fitted.histograms, strict=False)
    )
    return ModelSnapshot(
        model=model.name,
        evaluated_at=now,
        duration_seconds=duration,
        window_samples=len(view),
        reference_samples=fitted.rows,
        features=with_histograms or summary.features,
        drift_share=summary.share,
        dataset_drift=summary.detected,
        prediction_drift=_prediction_drift(model, fitted, window, view),
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
