"""The custom collector: turns the current snapshots into metric families, without any I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.config import ModelConfig
from exporter.evaluate.snapshot import DriftValue, ModelSnapshot, SnapshotStore
from exporter.serve.catalog import spec


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

    def set_models(self, models: Sequence[ModelConfig]) -> None:
        """Serve the thresholds of a reloaded config."""
        self._models = tuple(models)

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
        info.add_metric([__version__, self._external_url], 1.0)
        up = _family("mlmon_redis_up")
        up.add_metric([], 1.0 if self._redis_up() else 0.0)
        yield info
        yield up

    @property
    def version(self) -> tuple[object, object]:
        """The objects derived() reads; both are replaced, never changed, so `is` compares."""
        return self._store.models, self._models

    def derived(self) -> Iterator[Metric]:
        """Everything computed from the config and the snapshots: fixed between evaluations."""
        yield from self._thresholds()
        yield from self._slo()
        yield from self._snapshots(self._store.models.values())
        yield from _performance(self._store.models.values())
        yield from _model_drift(self._store.models.values())

    def _thresholds(self) -> Iterator[Metric]:
        """Resolved bounds: max_drop needs the reference value, so it waits for an evaluation."""
        low, high = _family("mlmon_model_performance_min"), _family("mlmon_model_performance_max")
        snapshots = self._store.models
        for model in self._models:
            snapshot = snapshots.get(model.name)
            reference = dict(snapshot.reference_performance) if snapshot is not None else {}
            for metric, bounds in model.performance:
                bottom, top = bounds.resolve(metric, reference.get(metric))
                if bottom is not None:
                    low.add_metric([model.name, metric], bottom)
                if top is not None:
                    high.add_metric([model.name, metric], top)
        yield low
        yield high

    def _slo(self) -> Iterator[Metric]:
        """The configured SLOs, so burn-rate alerts need no per-model constants."""
        objective = _family("mlmon_slo_objective_ratio")
        target = _family("mlmon_slo_latency_target_seconds")
        for model in self._models:
            slo = model.slo
            if slo.latency_target_seconds is not None:
                objective.add_metric([model.name, "latency"], slo.objective)
                target.add_metric([model.name], slo.latency_target_seconds)
            if slo.availability is not None:
                objective.add_metric([model.name, "availability"], slo.availability)
        yield objective
        yield target

    def _snapshots(self, snapshots: Iterable[ModelSnapshot]) -> Iterator[Metric]:
        names = (
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
            "mlmon_feature_out_of_range_ratio",
            "mlmon_feature_unseen_category_ratio",
            "mlmon_model_performance",
            "mlmon_model_performance_reference",
        )
        f = {n: _family(n) for n in names}
        for s in snapshots:
            m = s.model
            f["mlmon_evaluation_duration_seconds"].add_metric([m], s.duration_seconds)
            f["mlmon_evaluation_last_success_timestamp_seconds"].add_metric([m], s.evaluated_at)
            f["mlmon_window_samples"].add_metric([m], s.window_samples)
            f["mlmon_reference_samples"].add_metric([m], s.reference_samples)
            for feat in s.features:
                _add_drift(f, "mlmon_feature_drift", [m, feat.name], feat.drift)
                if feat.drift is not None:
                    f["mlmon_feature_drift_detected"].add_metric(
                        [m, feat.name], float(feat.drift.drifted)
                    )
                for ratio, value in (
                    ("missing", feat.missing_ratio),
                    ("out_of_range", feat.out_of_range_ratio),
                    ("unseen_category", feat.unseen_category_ratio),
                ):
                    if value is not None:
                        f[f"mlmon_feature_{ratio}_ratio"].add_metric([m, feat.name], value)
            if s.drift_share is not None:
                f["mlmon_dataset_drift_share_ratio"].add_metric([m], s.drift_share)
                f["mlmon_dataset_drift_detected"].add_metric([m], float(bool(s.dataset_drift)))
            _add_drift(f, "mlmon_prediction_drift", [m], s.prediction_drift)
            if s.prediction_drift is not None:
                f["mlmon_prediction_drift_detected"].add_metric(
                    [m], float(s.prediction_drift.drifted)
                )
            for metric, value in s.performance:
                f["mlmon_model_performance"].add_metric([m, metric], value)
            for metric, value in s.reference_performance:
                f["mlmon_model_performance_reference"].add_metric([m, metric], value)
        yield from f.values()


def _performance(snapshots: Iterable[ModelSnapshot]) -> Iterator[Metric]:
    """Per-class, estimated and coverage values; absent parts export no series."""
    per_class = _family("mlmon_class_performance")
    estimated = _family("mlmon_model_performance_estimated")
    error = _family("mlmon_model_performance_estimation_error")
    coverage = _family("mlmon_label_coverage_ratio")
    for s in snapshots:
        for cls, metric, value in s.class_performance:
            per_class.add_metric([s.model, cls, metric], value)
        for family, pairs in ((estimated, s.estimated_performance), (error, s.estimation_error)):
            for metric, value in pairs:
                family.add_metric([s.model, metric], value)
        if s.label_coverage is not None:
            coverage.add_metric([s.model], s.label_coverage)
    yield from (per_class, estimated, error, coverage)


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
    f = {n: _family(n) for n in names}
    for s in snapshots:
        for prefix, drift in (
            ("mlmon_multivariate_drift", s.multivariate_drift),
            ("mlmon_target_drift", s.target_drift),
        ):
            _add_drift(f, prefix, [s.model], drift)
            if drift is not None:
                f[f"{prefix}_detected"].add_metric([s.model], float(drift.drifted))
    yield from f.values()  # PCA has no p-value, so _add_drift never asks for one


def _add_drift(
    f: dict[str, GaugeMetricFamily], prefix: str, labels: list[str], drift: DriftValue | None
) -> None:
    """Score, threshold and (for tests) p-value, all labelled with the method."""
    if drift is None:
        return
    with_method = [*labels, drift.method]
    f[f"{prefix}_score"].add_metric(with_method, drift.score)
    f[f"{prefix}_threshold"].add_metric(with_method, drift.threshold)
    if drift.p_value is not None:
        f[f"{prefix}_p_value"].add_metric(with_method, drift.p_value)
