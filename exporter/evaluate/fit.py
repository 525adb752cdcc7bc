"""Fit a model's reference once per load: drift methods, ranges, vocabularies, baselines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from exporter.config import DriftSpec, FeatureConfig, ModelConfig
from exporter.evaluate.baselines import Baseline, measure
from exporter.evaluate.fitembed import embedding_method, segment_embedding_rows
from exporter.evaluate.fitpca import fit_multivariate
from exporter.evaluate.histograms import ReferenceHistogram, SortedColumns, fit_histograms
from exporter.evaluate.performance import error_baseline
from exporter.evaluate.refchecks import check_reference
from exporter.evaluate.segmentrows import Pool, reference_groups, segment_rows
from exporter.reference.load import ReferenceData, ReferenceError, categories
from exporter.stats import DEFAULT_METHOD, DriftMethod, make_method, resolve
from exporter.stats.kinds import FeatureType, Task
from exporter.stats.multivariate import PCAReconstruction
from exporter.stats.thresholds import LearnedThreshold, NoiseFloor, expected_unseen, size_rules
from exporter.window.vocab import OTHER


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
    learned: LearnedThreshold | None = None
    importance: float = 1.0
    noise: NoiseFloor | None = None  # a fixed distance threshold's floor at small windows
    missing: float | None = None  # share of the reference rows without a value
    unseen: float | None = None  # share of healthy rows expected outside `allowed`


@dataclass(frozen=True)
class SegmentFit:
    """A segment value's own reference: its fitted features and their histograms."""

    columns: tuple[FittedColumn, ...]
    histograms: tuple[ReferenceHistogram, ...]
    baseline: Baseline = field(default_factory=Baseline)  # its rows' own metrics, if labelled
    embeddings: tuple[FittedColumn, ...] = ()  # on its share of the key's sample (fitembed)
    pool: Pool | None = None  # `__other__`'s: which values its rows are of


@dataclass(frozen=True)
class FittedReference:
    """A model's reference, ready to score windows against."""

    rows: int
    digest: str
    features: tuple[FittedColumn, ...]
    prediction: FittedColumn | None
    prediction_from_score: bool
    performance: tuple[tuple[str, float], ...]
    target: FittedColumn | None = None
    multivariate: PCAReconstruction | None = None
    multivariate_features: tuple[str, ...] = ()
    histograms: tuple[ReferenceHistogram, ...] = ()
    multivariate_note: str = ""  # why there is no multivariate drift, for the model page
    # Per feature segment key, per value with enough reference rows: its own fitted features.
    segments: Mapping[str, Mapping[str, SegmentFit]] = field(default_factory=dict)
    # (cut, share): a record "errs" when its error (a classifier's 0/1 miss, a regressor's
    # absolute error) is above cut; share is how often the reference errs. Change detection
    # measures rises of that share, whatever the errors' distribution.
    error_baseline: tuple[float, float] | None = None
    embeddings: tuple[FittedColumn, ...] = ()  # after the features in every snapshot
    noise: Baseline = field(default_factory=Baseline)  # `performance` with its spread

    @property
    def categories(self) -> dict[str, tuple[str, ...]]:
        """Reference categories per categorical feature, to seed the window's vocabularies."""
        return {c.name: tuple(c.codes) for c in self.features if c.codes is not None}

    @property
    def classes(self) -> tuple[str, ...]:
        """Reference classes of a classifier's prediction, to seed the class vocabulary."""
        codes = self.prediction.codes if self.prediction is not None else None
        return tuple(codes) if codes is not None else ()


@dataclass(frozen=True)
class _Fit:
    """What a column's fit needs besides its values."""

    spec: DriftSpec
    bins: int
    k: float
    where: str


def _fitted_method(
    fit: _Fit, ftype: FeatureType, values: np.ndarray, n_categories: int | None
) -> tuple[DriftMethod, LearnedThreshold | None, NoiseFloor | None]:
    """Build, fit and resolve `auto`; errors name the model and column."""
    try:
        method = make_method(
            fit.spec.method or DEFAULT_METHOD[ftype], ftype, fit.spec.threshold, fit.bins
        )
        fitted = resolve(method.fit(values, n_categories))
    except ValueError as exc:
        raise ReferenceError(f"{fit.where}: {exc}") from None
    return (fitted, *size_rules(fitted, values, fit.k, fit.spec.learned))


def _numeric_column(
    name: str,
    values: np.ndarray,
    fit: _Fit,
    configured: tuple[float, float] | None,
    importance: float = 1.0,
) -> FittedColumn:
    blank = np.isnan(values)
    present = values[~blank]
    missing = share(blank)
    if present.size == 0:
        low, high = configured or (None, None)
        return FittedColumn(name, FeatureType.NUMERIC, None, low, high, missing=missing)
    low, high = configured or (float(present.min()), float(present.max()))
    method, learned, noise = _fitted_method(fit, FeatureType.NUMERIC, values, None)
    return FittedColumn(
        name,
        FeatureType.NUMERIC,
        method,
        low,
        high,
        learned=learned,
        importance=importance,
        noise=noise,
        missing=missing,
    )


def share(mask: np.ndarray) -> float | None:
    """The share of True in mask; None when empty: reference and window ratios alike."""
    return float(mask.mean()) if mask.size else None


def _categorical_column(
    name: str,
    values: tuple[str | None, ...],
    fit: _Fit,
    allowed: tuple[str, ...] | None,
    importance: float = 1.0,
) -> FittedColumn:
    cats = categories(values)
    codes = {c: i for i, c in enumerate(cats)}
    code_of: dict[str | None, int] = {None: -1}  # missing
    code_of.update(codes.items())  # mapped in C below: twice a Python loop's speed
    ref = np.fromiter(map(code_of.__getitem__, values), dtype=np.int64, count=len(values))
    method, learned, noise = (
        _fitted_method(fit, FeatureType.CATEGORICAL, ref, len(cats)) if cats else (None,) * 3
    )
    return FittedColumn(
        name,
        FeatureType.CATEGORICAL,
        method,
        codes=codes,
        allowed=frozenset(allowed if allowed is not None else cats),
        learned=learned,
        importance=importance,
        noise=noise,
        missing=share(ref < 0),
        unseen=expected_unseen(ref[ref >= 0], cats, allowed),
    )


def fit_segments(model: ModelConfig, data: ReferenceData) -> dict[str, dict[str, SegmentFit]]:
    """Each feature segment's most common reference values and `__other__`, fitted on their
    own rows; others are compared with the whole reference. They split one embedding sample."""
    out: dict[str, dict[str, SegmentFit]] = {}
    for segment in model.segments:
        if segment.feature is None:
            continue
        groups = reference_groups(segment, data)
        kept = segment_embedding_rows(model, data.embeddings, groups.masks)
        others = [i for i, f in enumerate(model.features) if f.name != segment.feature]
        out[segment.name] = {}
        for value, mask, quota in zip(groups.values, groups.masks, kept, strict=True):
            rows = segment_rows(data, mask)
            histograms = fit_histograms(model, rows)
            out[segment.name][value] = SegmentFit(
                tuple(_feature(model, model.features[i], rows) for i in others),
                tuple(histograms[i] for i in others),
                measure(model, data, np.flatnonzero(mask).tolist(), segment.min_samples),
                tuple(_embedding(model, f, rows, quota[f.name]) for f in model.embeddings),
                groups.pool if value == OTHER else None,
            )
    return out


def _feature(model: ModelConfig, f: FeatureConfig, data: ReferenceData) -> FittedColumn:
    fit = _Fit(
        f.drift, model.histogram_bins, model.learned_k, f"model {model.name!r} feature {f.name!r}"
    )
    if f.type is FeatureType.NUMERIC:
        return _numeric_column(f.name, data.numeric[f.name], fit, f.range, f.importance)
    return _categorical_column(f.name, data.categorical[f.name], fit, f.allowed, f.importance)


def _embedding(
    model: ModelConfig, f: FeatureConfig, data: ReferenceData, rows: int | None = None
) -> FittedColumn:
    """An embedding's method fitted on a sample of (at most rows) reference vectors."""
    vectors = data.embeddings[f.name]
    method = embedding_method(model, f, vectors, rows)
    missing = share(~np.isfinite(vectors).all(axis=1))
    return FittedColumn(
        f.name, FeatureType.EMBEDDING, method, importance=f.importance, missing=missing
    )


def _prediction(model: ModelConfig, data: ReferenceData) -> tuple[FittedColumn | None, bool]:
    """Drift on the positive-class score when both sides can have it, else on the prediction.

    Fitted on the present values only, as the window's are scored: a binned method kept the
    reference's null share in its missing bucket, which a window never fills.
    """
    fit = _Fit(
        model.prediction_drift,
        model.histogram_bins,
        model.learned_k,
        f"model {model.name!r} prediction",
    )
    if model.task is Task.BINARY and data.score is not None and model.positive_class:
        return _numeric_column("score", data.score[~np.isnan(data.score)], fit, None), True
    if data.prediction is None:
        return None, False
    if model.task.is_classification:
        present = tuple(p for p in data.prediction if p is not None)
        return _categorical_column("prediction", present, fit, None), False
    values = np.array(data.prediction, dtype=float)
    return _numeric_column("prediction", values[~np.isnan(values)], fit, None), False


def _target(model: ModelConfig, data: ReferenceData) -> FittedColumn | None:
    """Label drift against the reference `label` column, with `auto` and fixed thresholds."""
    if data.label is None:
        return None
    fit = _Fit(DriftSpec(), model.histogram_bins, model.learned_k, f"model {model.name!r} label")
    if model.task.is_classification:
        return _categorical_column("label", data.label, fit, None)
    return _numeric_column("label", np.array(data.label, dtype=float), fit, None)


def fit_reference(model: ModelConfig, data: ReferenceData) -> FittedReference:
    """Fit every column; a pure function, so `reference load` and reload fit the same way."""
    check_reference(model, data)
    features = tuple(_feature(model, f, data) for f in model.features)
    prediction, from_score = _prediction(model, data)
    errors = None
    if data.prediction is not None and data.label is not None:
        errors = error_baseline(model, data.prediction, data.label)
    pca, pca_names, pca_note = fit_multivariate(model, data)
    measured = measure(model, data)
    return FittedReference(
        data.rows,
        data.digest,
        features,
        prediction,
        from_score,
        measured.metrics,
        _target(model, data),
        pca,
        pca_names,
        fit_histograms(model, replace(data, numeric=SortedColumns(data.numeric))),
        pca_note,
        fit_segments(model, data),
        errors,
        tuple(_embedding(model, f, data) for f in model.embeddings),
        measured,
    )
