"""The custom collector: turns the current snapshots into metric families, without any I/O."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter import __version__, revision
from exporter.config import ModelConfig
from exporter.evaluate.snapshot import DriftValue, ModelSnapshot, SnapshotStore
from exporter.expose.catalog import spec
from exporter.expose.catalog_performance import (
    CLASS_PERFORMANCE,
    ESTIMATED,
    ESTIMATION_ERROR,
    FAMILIES,
    MAX,
    MIN,
    REALISED,
    REFERENCE,
    class_family,
    family,
)
from exporter.expose.slices import segment_families, version_families


def build_labels() -> tuple[str, str, str]:
    """Version, source revision and Python version of this build, for mlmon_build_info.

    The revision is $MLMON_REVISION, which the image sets from its REVISION build argument,
    or "unknown" when the exporter was built or installed without one.
    """
    return __version__, revision(), platform.python_version()


class Generation(NamedTuple):
    """The snapshots and the config one rendering reads: taken together, used together."""

    snapshots: Mapping[str, ModelSnapshot]
    models: tuple[ModelConfig, ...]


def _family(name: str) -> GaugeMetricFamily:
    s = spec(name)
    return GaugeMetricFamily(s.name, s.help, labels=s.labels, unit=s.unit)


class SnapshotCollector(Collector):
    """Reads the snapshot mapping once per scrape, so every series comes from one evaluation."""

    def __init__(
        self,
        store: SnapshotStore,
        models: Sequence[ModelConfig],
        redis_up: Callable[[], bool],
        external_url: str = "",
    ) -> None:
        self._store = store
        self._models = tuple(models)
        self._redis_up = redis_up
        self._external_url = external_url
        self._build = build_labels()

    def set_models(self, models: Sequence[ModelConfig], external_url: str | None = None) -> None:
        """Serve the thresholds (and external URL, when given) of a reloaded config."""
        self._models = tuple(models)
        if external_url is not None:
            self._external_url = external_url

    def describe(self) -> Iterable[Metric]:
        """Nothing: describing would need a collect, and registration must not evaluate."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Emit build info, Redis state, configured thresholds and every snapshot value."""
        yield from self.status()
        yield from self.derived()

    def status(self) -> Iterator[Metric]:
        """What may change between evaluations: build info and whether Redis answers."""
        info = _family("mlmon_build_info")
        info.add_metric([*self._build, self._external_url], 1.0)
        up = _family("mlmon_redis_up")
        up.add_metric([], 1.0 if self._redis_up() else 0.0)
        yield info
        yield up

    @property
    def version(self) -> Generation:
        """The objects derived() renders; both are replaced, never changed, so `is` compares."""
        return Generation(self._store.models, self._models)

    def derived(self, generation: Generation | None = None) -> Iterator[Metric]:
        """Everything computed from the config and the snapshots: fixed between evaluations.

        One generation is read once, so a scrape never mixes two evaluations of a model.
        """
        snapshots, models = generation or self.version
        yield from _thresholds(snapshots, models)
        yield from _slo(models)
        yield from _snapshots(snapshots.values())
        yield from _performance(snapshots.values())
        yield from _model_drift(snapshots.values())
        yield from segment_families(snapshots.values())
        yield from version_families(snapshots.values())


def _thresholds(
    snapshots: Mapping[str, ModelSnapshot], models: Sequence[ModelConfig]
) -> Iterator[Metric]:
    """Resolved bounds, in their metric's unit family; max_drop waits for a reference value."""
    families = {n: _family(n) for u in FAMILIES.values() for n in (u.name(MIN), u.name(MAX))}
    for model in models:
        snapshot = snapshots.get(model.name)
        reference = dict(snapshot.reference_performance) if snapshot is not None else {}
        for metric, bounds in model.performance:
            resolved = bounds.resolve(metric, reference.get(metric))
            for variant, bound in zip((MIN, MAX), resolved, strict=True):
                if bound is not None:
                    families[family(metric, variant)].add_metric([model.name, metric], bound)
    yield from families.values()


def _slo(models: Sequence[ModelConfig]) -> Iterator[Metric]:
    """The configured SLOs, so burn-rate alerts need no per-model constants."""
    objective = _family("mlmon_slo_objective_ratio")
    target = _family("mlmon_slo_latency_target_seconds")
    for model in models:
        slo = model.slo
        if slo.latency_target_seconds is not None:
            objective.add_metric([model.name, "latency"], slo.objective)
            target.add_metric([model.name], slo.latency_target_seconds)
        if slo.availability is not None:
            objective.add_metric([model.name, "availability"], slo.availability)
    yield objective
    yield target


# How many of derived()'s first families list models in config order; the rest follow the
# snapshot store's order.
CONFIG_FAMILIES = sum(1 for _ in _thresholds({}, ())) + sum(1 for _ in _slo(()))

SNAPSHOT_FAMILIES = (
    "mlmon_evaluation_duration_seconds",
    "mlmon_evaluation_last_success_timestamp_seconds",
    "mlmon_window_samples",
    "mlmon_reference_samples",
    "mlmon_feature_drift_score",
    "mlmon_feature_drift_p_value",
    "mlmon_feature_drift_threshold",
    "mlmon_feature_drift_detected",
    "mlmon_dataset_drift_share_ratio",
    "mlmon_dataset_drift_detected",
    "mlmon_prediction_drift_score",
    "mlmon_prediction_drift_p_value",
    "mlmon_prediction_drift_threshold",
    "mlmon_prediction_drift_detected",
    "mlmon_feature_missing_ratio",
    "mlmon_feature_reference_missing_ratio",
    "mlmon_feature_out_of_range_ratio",
    "mlmon_feature_unseen_category_ratio",
    "mlmon_feature_expected_unseen_category_ratio",
)
Families = dict[str, GaugeMetricFamily]


def _snapshots(snapshots: Iterable[ModelSnapshot]) -> Iterator[Metric]:
    """The per-evaluation families, in the order the catalog lists them."""
    families = {n: _family(n) for n in SNAPSHOT_FAMILIES}
    for s in snapshots:
        m = s.model
        families["mlmon_evaluation_duration_seconds"].add_metric([m], s.duration_seconds)
        families["mlmon_evaluation_last_success_timestamp_seconds"].add_metric([m], s.evaluated_at)
        families["mlmon_window_samples"].add_metric([m], s.window_samples)
        families["mlmon_reference_samples"].add_metric([m], s.reference_samples)
        _features(families, s)
        if s.drift_share is not None:
            families["mlmon_dataset_drift_share_ratio"].add_metric([m], s.drift_share)
            families["mlmon_dataset_drift_detected"].add_metric([m], float(bool(s.dataset_drift)))
        _add_drift(families, "mlmon_prediction_drift", [m], s.prediction_drift)
    yield from families.values()


def _features(families: Families, s: ModelSnapshot) -> None:
    """Each feature's drift and data-quality ratios; an absent value exports no series."""
    for feat in s.features:
        _add_drift(families, "mlmon_feature_drift", [s.model, feat.name], feat.drift)
        for ratio, value in (
            ("missing", feat.missing_ratio),
            ("reference_missing", feat.reference_missing_ratio),
            ("out_of_range", feat.out_of_range_ratio),
            ("unseen_category", feat.unseen_category_ratio),
            ("expected_unseen_category", feat.expected_unseen_category_ratio),
        ):
            if value is not None:
                families[f"mlmon_feature_{ratio}_ratio"].add_metric([s.model, feat.name], value)


def _performance(snapshots: Iterable[ModelSnapshot]) -> Iterator[Metric]:
    """Realised, reference, estimated and per-class values, each in its metric's unit family,
    and the label coverage; absent parts export no series."""
    names = [u.name(v) for u in FAMILIES.values() for v in u.variants if v not in (MIN, MAX)]
    families = {n: _family(n) for n in (*names, CLASS_PERFORMANCE.name)}
    coverage = _family("mlmon_label_coverage_ratio")
    for s in snapshots:
        for variant, pairs in (
            (REALISED, s.performance),
            (REFERENCE, s.reference_performance),
            (ESTIMATED, s.estimated_performance),
            (ESTIMATION_ERROR, s.estimation_error),
        ):
            for metric, value in pairs:
                families[family(metric, variant)].add_metric([s.model, metric], value)
        for cls, metric, value in s.class_performance:
            families[class_family(metric)].add_metric([s.model, cls, metric], value)
        if s.label_coverage is not None:
            coverage.add_metric([s.model], s.label_coverage)
    yield from (*families.values(), coverage)


def _model_drift(snapshots: Iterable[ModelSnapshot]) -> Iterator[Metric]:
    """Multivariate (PCA reconstruction) and target (label) drift; absent parts export nothing."""
    names = (
        "mlmon_multivariate_drift_score",
        "mlmon_multivariate_drift_threshold",
        "mlmon_multivariate_drift_detected",
        "mlmon_target_drift_score",
        "mlmon_target_drift_p_value",
        "mlmon_target_drift_threshold",
        "mlmon_target_drift_detected",
    )
    families = {n: _family(n) for n in names}
    for s in snapshots:
        _add_drift(families, "mlmon_multivariate_drift", [s.model], s.multivariate_drift)
        _add_drift(families, "mlmon_target_drift", [s.model], s.target_drift)
    yield from families.values()  # PCA has no p-value, so _add_drift never asks for one


def _add_drift(
    families: Families, prefix: str, labels: list[str], drift: DriftValue | None
) -> None:
    """Score, threshold, detected and (for tests) p-value; score and threshold name the method."""
    if drift is None:
        return
    with_method = [*labels, drift.method]
    families[f"{prefix}_score"].add_metric(with_method, drift.score)
    families[f"{prefix}_threshold"].add_metric(with_method, drift.threshold)
    families[f"{prefix}_detected"].add_metric(labels, float(drift.drifted))
    if drift.p_value is not None:
        families[f"{prefix}_p_value"].add_metric(with_method, drift.p_value)
