"""Fit a model's reference once per load: drift methods, ranges, vocabularies, baselines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from exporter.config.model import DriftSpec, FeatureConfig, FeatureType, ModelConfig, Task
from exporter.evaluate.performance import performance
from exporter.evaluate.reference import ReferenceData, ReferenceError, categories
from exporter.ingest.window import Window
from exporter.stats import DEFAULT_METHOD, DriftMethod, make_method


@dataclass(frozen=True)
class FittedColumn:
    """One column's fitted drift method and the facts data quality checks need."""

    name: str
    type: FeatureType
    method: DriftMethod | None
    low: float | None = None
    high: float | None = None
    codes: Mapping[str, int] | None = None
    allowed: frozenset[str] | None = None


@dataclass(frozen=True)
class FittedReference:
    """A model's reference, ready to score windows against."""

    rows: int
    digest: str
    features: tuple[FittedColumn, ...]
    prediction: FittedColumn | None
    prediction_from_score: bool
    performance: tuple[tuple[str, float], ...]


def _method(spec: DriftSpec, ftype: FeatureType, bins: int, where: str) -> DriftMethod:
    try:
        return make_method(spec.method or DEFAULT_METHOD[ftype], ftype, spec.threshold, bins)
    except ValueError as exc:
        raise ReferenceError(f"{where}: {exc}") from None


def _numeric_column(name: str, values: np.ndarray, spec: DriftSpec, bins: int,
                    configured: tuple[float, float] | None, where: str) -> FittedColumn:
    present = values[~np.isnan(values)]
    method = _method(spec, FeatureType.NUMERIC, bins, where)
    if present.size == 0:
        return FittedColumn(name, FeatureType.NUMERIC, None, *(configured or (None, None)))
    low, high = configured or (float(present.min()), float(present.max()))
    return FittedColumn(name, FeatureType.NUMERIC, method.fit(present), low, high)


def _categorical_column(name: str, values: tuple[str | None, ...], spec: DriftSpec, bins: int,
                        allowed: tuple[str, ...] | None, where: str) -> FittedColumn:
    cats = categories(values)
    codes = {c: i for i, c in enumerate(cats)}
    ref = np.array([codes[v] for v in values if v is not None], dtype=np.int64)
    method = _method(spec, FeatureType.CATEGORICAL, bins, where)
    fitted = method.fit(ref, len(cats)) if ref.size else None
    return FittedColumn(name, FeatureType.CATEGORICAL, fitted, codes=codes,
                        allowed=frozenset(allowed if allowed is not None else cats))


def _feature(model: ModelConfig, f: FeatureConfig, data: ReferenceData) -> FittedColumn:
    where = f"model {model.name!r} feature {f.name!r}"
    if f.type is FeatureType.NUMERIC:
        return _numeric_column(f.name, data.numeric[f.name], f.drift, model.histogram_bins,
                               f.range, where)
    return _categorical_column(f.name, data.categorical[f.name], f.drift, model.histogram_bins,
                               f.allowed, where)


def _prediction(model: ModelConfig, data: ReferenceData) -> tuple[FittedColumn | None, bool]:
    """Drift on the positive-class score when both sides can have it, else on the prediction."""
    where = f"model {model.name!r} prediction"
    spec, bins = model.prediction_drift, model.histogram_bins
    if model.task is Task.BINARY and data.score is not None and model.positive_class:
        return _numeric_column("score", data.score, spec, bins, None, where), True
    if data.prediction is None:
        return None, False
    if model.task.is_classification:
        return _categorical_column("prediction", data.prediction, spec, bins, None, where), False
    values = np.array(data.prediction, dtype=float)
    return _numeric_column("prediction", values, spec, bins, None, where), False


def fit_reference(model: ModelConfig, data: ReferenceData, window: Window) -> FittedReference:
    """Fit every column and seed the window's vocabularies with the reference categories."""
    features = tuple(_feature(model, f, data) for f in model.features)
    for column in features:
        if column.codes is not None:
            window.vocabularies[column.name].seed(column.codes)
    prediction, from_score = _prediction(model, data)
    if prediction is not None and prediction.codes is not None:
        window.classes.seed(prediction.codes)
    baseline: tuple[tuple[str, float], ...] = ()
    if data.prediction is not None and data.label is not None:
        baseline = performance(model, data.prediction, data.label)
    return FittedReference(data.rows, data.digest, features, prediction, from_score, baseline)
