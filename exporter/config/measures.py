"""Parsers for what gets measured: drift methods with thresholds, and performance metric bounds."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass

from exporter.config.model import Bounds, DriftSpec, MultivariateConfig
from exporter.config.values import (
    ConfigError,
    choice,
    describe,
    fraction,
    join,
    mapping,
    number,
    optional,
    positive_number,
)
from exporter.stats.kinds import FeatureType, Task

DRIFT_SPEC_KEYS = ("method", "threshold")
DRIFT_TYPE_KEYS = tuple(t.value for t in FeatureType)
DRIFT_OPTION_KEYS = ("correction", "learned_k")
DRIFT_KEYS = DRIFT_TYPE_KEYS + DRIFT_OPTION_KEYS
CORRECTIONS = ("fdr_bh", "bonferroni", "none")
LEARNED = "learned"
MULTIVARIATE_KEYS = ("enabled", "variance")
BOUNDS_KEYS = ("min", "max", "max_drop")


@dataclass(frozen=True)
class Metric:
    """Which models a performance metric is computed for, so bounds on it can ever fire."""

    tasks: frozenset[Task]
    needs_positive_class: bool = False


_BINARY = frozenset({Task.BINARY})
_CLASSIFIERS = frozenset({Task.BINARY, Task.MULTICLASS})
_REGRESSION = frozenset({Task.REGRESSION})
# Every performance metric the evaluator computes; add one here and the loader accepts it.
PERFORMANCE_METRICS: Mapping[str, Metric] = {
    "accuracy": Metric(_CLASSIFIERS),
    "precision": Metric(_BINARY, needs_positive_class=True),
    "recall": Metric(_BINARY, needs_positive_class=True),
    "f1": Metric(_BINARY, needs_positive_class=True),
    **{
        f"{m}_{avg}": Metric(_CLASSIFIERS)
        for m in ("precision", "recall", "f1")
        for avg in ("macro", "weighted")
    },
    "roc_auc": Metric(_CLASSIFIERS),
    "log_loss": Metric(_CLASSIFIERS),
    "brier": Metric(_CLASSIFIERS),
    "ece": Metric(_CLASSIFIERS),
    "mae": Metric(_REGRESSION),
    "rmse": Metric(_REGRESSION),
    "r2": Metric(_REGRESSION),
    "mape": Metric(_REGRESSION),
}


@dataclass(frozen=True)
class MethodInfo:
    """What the loader needs to know about a drift method to validate its config."""

    feature_types: frozenset[FeatureType]
    is_test: bool  # the threshold is a p-value, so it cannot exceed 1


# Used only when exporter.stats (the real method registry) cannot be imported.
_FALLBACK_METHODS: Mapping[str, MethodInfo] = {
    "ks": MethodInfo(frozenset({FeatureType.NUMERIC}), is_test=True),
    "psi": MethodInfo(frozenset({FeatureType.NUMERIC, FeatureType.CATEGORICAL}), is_test=False),
    "chisquare": MethodInfo(frozenset({FeatureType.CATEGORICAL}), is_test=True),
}


def _method_info(entry: object) -> MethodInfo:
    """Read one registry entry: a {feature type: class} mapping, or a class with feature_types."""
    if isinstance(entry, Mapping):
        types, classes = list(entry), list(entry.values())
    else:
        types, classes = list(getattr(entry, "feature_types", ())), [entry]
    is_test = any(getattr(c, "is_test", False) is True for c in classes)
    return MethodInfo(frozenset(FeatureType(t) for t in types), is_test)


def drift_methods() -> Mapping[str, MethodInfo]:
    """The drift method table: exporter.stats.METHODS when importable, else a fixed fallback."""
    try:
        stats = importlib.import_module("exporter.stats")
    except ModuleNotFoundError as exc:
        if exc.name not in ("exporter", "exporter.stats"):
            raise
        return _FALLBACK_METHODS
    methods = getattr(stats, "METHODS", None)
    if not isinstance(methods, Mapping):
        return _FALLBACK_METHODS
    return {str(name): _method_info(entry) for name, entry in methods.items()}


def drift_method(value: object, path: str) -> str:
    """The name of a known drift method."""
    known = ", ".join(sorted(drift_methods()))
    if not isinstance(value, str) or value not in drift_methods():
        raise ConfigError(path, f"unknown drift method {value!r} (expected one of: {known})")
    return value


def check_method(
    method: str | None, path: str, types: frozenset[FeatureType], subject: str
) -> None:
    """Reject a method that can compare none of types; subject says where it was set."""
    known = drift_methods()
    if method is None or known[method].feature_types & types:
        return
    usable = sorted(name for name, info in known.items() if info.feature_types & types)
    hint = f"use one of: {', '.join(usable)}" if usable else "no known method applies"
    raise ConfigError(path, f"{method!r} does not apply to {subject} ({hint})")


def resolve_drift(own: DriftSpec, fallback: DriftSpec) -> DriftSpec:
    """own over fallback; a different method drops fallback's threshold, meant for another scale."""
    if own.method is not None and own.method != fallback.method:
        return own
    if own.threshold is not None or own.learned:
        return DriftSpec(own.method or fallback.method, own.threshold, own.learned)
    return DriftSpec(own.method or fallback.method, fallback.threshold, fallback.learned)


def drift_threshold(value: object, path: str) -> float | str:
    """A positive number, or `learned` (mean + k sd of the score over reference chunks)."""
    if value == LEARNED:
        return LEARNED
    return positive_number(value, path)


def drift_spec(
    raw: Mapping[str, object],
    path: str,
    feature_type: FeatureType | None,
    subject: str,
    fallback: DriftSpec,
) -> DriftSpec:
    """raw's method/threshold over fallback; the method is checked if the feature type is known."""
    threshold = optional(raw, path, "threshold", drift_threshold, None)
    own = DriftSpec(
        method=optional(raw, path, "method", drift_method, None),
        threshold=threshold if isinstance(threshold, float) else None,
        learned=threshold == LEARNED,
    )
    if feature_type is not None:
        check_method(own.method, join(path, "method"), frozenset({feature_type}), subject)
    spec = resolve_drift(own, fallback)
    info = drift_methods().get(spec.method or "")
    if own.threshold is not None and info is not None and info.is_test and own.threshold > 1:
        raise ConfigError(
            join(path, "threshold"),
            f"is a p-value for {spec.method!r}, so it must be at most 1, got {own.threshold}",
        )
    return spec


def parse_drift_spec(
    value: object, path: str, feature_type: FeatureType | None, subject: str, fallback: DriftSpec
) -> DriftSpec:
    """A {method, threshold} mapping layered over fallback."""
    return drift_spec(mapping(value, path, DRIFT_SPEC_KEYS), path, feature_type, subject, fallback)


def parse_drift_by_type(
    value: object, path: str, base: Mapping[FeatureType, DriftSpec]
) -> dict[FeatureType, DriftSpec]:
    """A drift section ({numeric: spec, categorical: spec}) layered over base."""
    raw = mapping(value, path, DRIFT_KEYS)
    result = dict(base)
    for key, item in raw.items():
        if key in DRIFT_OPTION_KEYS:
            continue  # parse_drift_options reads these
        kind = FeatureType(key)
        fallback = base.get(kind, DriftSpec())
        result[kind] = parse_drift_spec(item, join(path, key), kind, f"{key} features", fallback)
    return result


def parse_drift_options(
    value: object, path: str, correction: str, learned_k: float
) -> tuple[str, float]:
    """The drift section's model-wide keys: p-value correction and the k of learned thresholds."""
    raw = mapping(value, path, DRIFT_KEYS)
    return (
        optional(raw, path, "correction", choice(CORRECTIONS), correction),
        optional(raw, path, "learned_k", positive_number, learned_k),
    )


def parse_multivariate(value: object, path: str, base: MultivariateConfig) -> MultivariateConfig:
    """PCA reconstruction drift: enabled (bool) and the share of variance kept, in (0, 1)."""
    raw = mapping(value, path, MULTIVARIATE_KEYS)
    enabled = raw.get("enabled", base.enabled)
    if not isinstance(enabled, bool):
        raise ConfigError(join(path, "enabled"), f"must be true or false, got {describe(enabled)}")
    return MultivariateConfig(enabled, optional(raw, path, "variance", fraction, base.variance))


def parse_bounds(value: object, path: str) -> Bounds:
    """A {min, max, max_drop} mapping with at least one key, min <= max and max_drop >= 0."""
    raw = mapping(value, path, BOUNDS_KEYS)
    low = optional(raw, path, "min", number, None)
    high = optional(raw, path, "max", number, None)
    drop = optional(raw, path, "max_drop", non_negative_number, None)
    if low is None and high is None and drop is None:
        raise ConfigError(path, "must set at least one of: min, max, max_drop")
    if low is not None and high is not None and low > high:
        raise ConfigError(path, f"min ({low}) must not exceed max ({high})")
    return Bounds(min=low, max=high, max_drop=drop)


def non_negative_number(value: object, path: str) -> float:
    """A number of at least 0: how much worse than on the reference a metric may get."""
    result = number(value, path)
    if result < 0:
        raise ConfigError(path, f"must be at least 0, got {value!r}")
    return result


def parse_performance(value: object, path: str) -> tuple[tuple[str, Bounds], ...]:
    """A performance section as (metric, bounds) pairs sorted by metric name."""
    raw = mapping(value, path, PERFORMANCE_METRICS)
    pairs = ((metric, parse_bounds(item, join(path, metric))) for metric, item in raw.items())
    return tuple(sorted(pairs, key=lambda pair: pair[0]))


def applies(metric: str, task: Task, positive_class: str | None) -> bool:
    """Whether the evaluator computes metric for such a model."""
    info = PERFORMANCE_METRICS[metric]
    return task in info.tasks and (positive_class is not None or not info.needs_positive_class)


def metrics_for_task(
    performance: tuple[tuple[str, Bounds], ...],
    path: str,
    task: Task,
    positive_class: str | None,
    from_defaults: bool,
) -> tuple[tuple[str, Bounds], ...]:
    """Metrics the model gets: defaults may mix tasks and are filtered; a model's own must apply."""
    kept = tuple(pair for pair in performance if applies(pair[0], task, positive_class))
    if from_defaults or len(kept) == len(performance):
        return kept
    metric = next(m for m, _ in performance if not applies(m, task, positive_class))
    if task in PERFORMANCE_METRICS[metric].tasks:
        raise ConfigError(join(path, metric), "needs positive_class to be set")
    usable = ", ".join(sorted(m for m, info in PERFORMANCE_METRICS.items() if task in info.tasks))
    raise ConfigError(
        join(path, metric), f"does not apply to {task.value} models (use one of: {usable})"
    )
