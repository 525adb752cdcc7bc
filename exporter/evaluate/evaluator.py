"""One evaluation of one model: drift, data quality and performance from a window copy."""

from __future__ import annotations

import numpy as np

from exporter.config.model import FeatureType, ModelConfig
from exporter.evaluate.fit import FittedColumn, FittedReference
from exporter.evaluate.performance import performance
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot
from exporter.ingest.labels import JoinedPairs
from exporter.ingest.vocab import Vocabulary
from exporter.ingest.window import Window, WindowView


def _drift(column: FittedColumn, values: np.ndarray, min_samples: int) -> DriftValue | None:
    """Score only windows big enough to say something; small ones export nothing."""
    if column.method is None or values.size < min_samples:
        return None
    result = column.method.score(values)
    return DriftValue(column.method.name, result.score, result.p_value, result.threshold,
                      result.drifted)


def _ratio(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def _numeric(column: FittedColumn, values: np.ndarray, min_samples: int) -> FeatureSnapshot:
    missing = np.isnan(values)
    present = values[~missing]
    out_of_range = None
    if column.low is not None and column.high is not None:
        out_of_range = _ratio((present < column.low) | (present > column.high))
    return FeatureSnapshot(column.name, _drift(column, present, min_samples), _ratio(missing),
                           out_of_range_ratio=out_of_range)


def _reference_codes(column: FittedColumn, vocab: Vocabulary, codes: np.ndarray) -> np.ndarray:
    """Window codes re-expressed as reference codes; unseen values share the last code."""
    assert column.codes is not None
    table = vocab.translate(dict(column.codes), len(column.codes))
    out: np.ndarray = table[codes]
    return out


def _categorical(column: FittedColumn, vocab: Vocabulary, codes: np.ndarray,
                 min_samples: int) -> FeatureSnapshot:
    missing = codes < 0
    present = codes[~missing].astype(np.int64)
    allowed = column.allowed or frozenset()
    known = np.array([v in allowed for v in vocab.values] or [False])
    unseen = _ratio(~known[present])
    drift = _drift(column, _reference_codes(column, vocab, present), min_samples)
    return FeatureSnapshot(column.name, drift, _ratio(missing), unseen_category_ratio=unseen)


def _prediction_drift(model: ModelConfig, fitted: FittedReference, window: Window,
                      view: WindowView) -> DriftValue | None:
    column = fitted.prediction
    if column is None:
        return None
    source = view.score if fitted.prediction_from_score else view.prediction
    present = source[~np.isnan(source)]
    if column.type is FeatureType.CATEGORICAL:
        present = _reference_codes(column, window.classes, present.astype(np.int64))
    return _drift(column, present, model.min_samples)


def evaluate(model: ModelConfig, fitted: FittedReference, window: Window, view: WindowView,
             pairs: JoinedPairs, now: float, duration: float) -> ModelSnapshot:
    """Compute every per-model value the collector serves."""
    features = []
    for column in fitted.features:
        if column.type is FeatureType.NUMERIC:
            features.append(_numeric(column, view.numeric[column.name], model.min_samples))
        else:
            features.append(_categorical(column, window.vocabularies[column.name],
                                         view.categorical[column.name], model.min_samples))
    scored = [f.drift for f in features if f.drift is not None]
    share = sum(d.drifted for d in scored) / len(scored) if scored else None
    realised = (performance(model, pairs.predicted, pairs.actual)
                if len(pairs) >= model.min_samples else ())
    return ModelSnapshot(
        model=model.name,
        evaluated_at=now,
        duration_seconds=duration,
        window_samples=len(view),
        reference_samples=fitted.rows,
        features=tuple(features),
        drift_share=share,
        dataset_drift=None if share is None else share >= model.drift_share,
        prediction_drift=_prediction_drift(model, fitted, window, view),
        performance=realised,
        reference_performance=fitted.performance,
    )
