"""Counters and histograms updated as records arrive, built from the catalog on our registry."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Sequence
from functools import partial

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

from exporter.config import ModelConfig
from exporter.decode.batch import PredictionBatch
from exporter.decode.wire import Reason
from exporter.expose.batches import VersionSeries, groups
from exporter.expose.catalog import LABEL_DELAY_BUCKETS, LATENCY_BUCKETS, spec
from exporter.expose.change_live import ChangeMetrics
from exporter.expose.instruments import counter, gauge
from exporter.schedule import interval_seconds
from exporter.source.streams import KINDS
from exporter.stats.kinds import Task
from exporter.window.labels import JoinResult
from exporter.window.vocab import MAX_VALUE_CHARS, OTHER

UNVERSIONED = "unknown"
LIMITED_KINDS = ("category", "class", "version", "tag")
# Counters only grow, so the labels' sum is kept as its positive and negative parts.
REGRESSION_SUMS = (
    "mlmon_regression_labeled_total",
    "mlmon_regression_absolute_error_total",
    "mlmon_regression_squared_error_total",
    "mlmon_regression_target_positive_total",
    "mlmon_regression_target_negative_total",
    "mlmon_regression_target_squared_total",
)


def live_registry() -> CollectorRegistry:
    """A registry for the live part, with the process (memory, CPU, file descriptors) and Python
    platform collectors on it: the daemon's own, never client_python's global one."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def _histogram(name: str, registry: CollectorRegistry, buckets: Sequence[float]) -> Histogram:
    s = spec(name)
    return Histogram(s.base_name, s.help, s.labels, registry=registry, unit=s.unit, buckets=buckets)


# The families with a `model` label, by attribute, that a model leaving the config takes
# along (the regression ones too); those with a `version` label, that a version takes along.
MODEL_FAMILIES = """read invalid failures predictions errors labels unmatched skipped limited
slow estimated labeled unknown_field lost lag_entries lag_seconds interval reference_lost
reference_missing configured_at delay latency"""
VERSION_FAMILIES = "predictions errors estimated latency slow"


class LiveMetrics:
    """The ingest-side metrics; one instance per daemon, shared by reader and scheduler."""

    def __init__(
        self,
        registry: CollectorRegistry,
        models: Iterable[ModelConfig],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self.read = counter("mlmon_records_read_total", registry)
        self.invalid = counter("mlmon_records_invalid_total", registry)
        self.failures = counter("mlmon_evaluation_failures_total", registry)
        self.predictions = counter("mlmon_predictions_total", registry)
        self.errors = counter("mlmon_prediction_errors_total", registry)
        self.labels = counter("mlmon_labels_total", registry)
        self.unmatched = counter("mlmon_labels_unmatched_total", registry)
        self.skipped = counter("mlmon_records_skipped_total", registry)
        self.limited = counter("mlmon_series_limited_total", registry)
        self.slow = counter("mlmon_slow_predictions_total", registry)
        self.estimated = counter("mlmon_predictions_estimated_total", registry)
        self.labeled = counter("mlmon_labeled_predictions_total", registry)
        self.regression = [counter(name, registry) for name in REGRESSION_SUMS]
        self.unknown_field = counter("mlmon_records_unknown_field_total", registry)
        self.lost = counter("mlmon_stream_entries_lost_total", registry)
        self.lag_entries = gauge("mlmon_stream_lag_entries", registry)
        self.lag_seconds = gauge("mlmon_stream_lag_seconds", registry)
        self.interval = gauge("mlmon_evaluation_interval_seconds", registry)
        self.configured_at = gauge("mlmon_model_configured_timestamp_seconds", registry)
        self._reader_up: Gauge | None = None  # registered when the reader starts
        self.reader_restarts = counter("mlmon_reader_restarts_total", registry)
        self.render_failures = counter("mlmon_exposition_failures_total", registry)
        self.reference_lost = counter("mlmon_reference_lost_total", registry)
        self.reference_missing = gauge("mlmon_reference_missing", registry)
        self.changes = ChangeMetrics(registry)
        self._reload_metrics(registry)
        self._registry = registry
        self._version_supported: Gauge | None = None
        self.delay = _histogram("mlmon_label_delay_seconds", registry, LABEL_DELAY_BUCKETS)
        self._slo_target: dict[str, float | None] = {}
        self.latency = _histogram("mlmon_prediction_latency_seconds", registry, LATENCY_BUCKETS)
        self._max_versions: dict[str, int] = {}
        self._versions: dict[str, set[str]] = {}
        self._series: dict[tuple[str, str], VersionSeries] = {}
        self._lock = threading.Lock()
        self.configure(models)

    def _reload_metrics(self, registry: CollectorRegistry) -> None:
        """Reload outcomes at 0, and the config this daemon started with as a success."""
        self.reloads = counter("mlmon_config_reloads_total", registry)
        for outcome in ("success", "failure"):
            self.reloads.labels(outcome)
        self.last_reload_ok = gauge("mlmon_config_last_reload_successful", registry)
        self.last_reload_at = gauge("mlmon_config_last_reload_success_timestamp_seconds", registry)
        self.last_reload_ok.set(1.0)
        self.last_reload_at.set(self._clock())

    def configure(
        self, models: Iterable[ModelConfig], changed: Iterable[str] | None = None
    ) -> None:
        """Start every bounded series of each model at 0, so the first event is an increase.

        A reload keeps the counts going; `changed` names the models whose section took effect
        now (None: all of them), the others keep their configured timestamp.
        """
        models = tuple(models)
        for name in set(self._versions) - {m.name for m in models}:
            self.forget(name)
        with self._lock:
            self._series = {}  # an SLO target may have changed: children are looked up anew
        for m in models:
            if changed is None or m.name in changed or m.name not in self._versions:
                self.configured_at.labels(m.name).set(self._clock())
                # A new pipeline, its reference fitted just now: the old one's missing key
                # kept MLMonReferenceKeyMissing firing after a reload had fixed it.
                self.reference_missing.remove_by_labels({"model": m.name})
            self.interval.labels(m.name).set(interval_seconds(m.schedule))
            for reason in Reason:
                self.invalid.labels(m.name, reason.value)
            for kind in KINDS:
                for family in (self.read, self.skipped, self.unknown_field, self.lost):
                    family.labels(m.name, kind)
                # No lag series until the reader has measured the stream: 0 read "caught up"
                # while start-up fitted the references over 2,000 unread entries.
            for kind in LIMITED_KINDS:
                self.limited.labels(m.name, kind)
            self._max_versions[m.name] = m.max_versions
            self._slo_target[m.name] = m.slo.latency_target_seconds
            for total in self.regression if m.task is Task.REGRESSION else ():
                total.labels(m.name)
            classes = (*m.classes, OTHER) if m.classes else ()
            for actual in classes:  # so increase() sees every pair start from 0
                for predicted in classes:
                    self.labeled.labels(m.name, actual, predicted)
            self._versions.setdefault(m.name, set())
            if m.reference.redis_key is not None:
                self.reference_lost.labels(m.name)
                self.reference_missing.labels(m.name)
            for labelled in (self.delay, self.failures, self.labels, self.unmatched):
                labelled.labels(m.name)
            self._version_series(m.name, UNVERSIONED)  # records without a version, from 0

    def reloaded(self, ok: bool) -> None:
        """Record a reload's outcome the way Prometheus and Alertmanager expose theirs."""
        self.reloads.labels("success" if ok else "failure").inc()
        self.last_reload_ok.set(1.0 if ok else 0.0)
        if ok:
            self.last_reload_at.set(self._clock())

    def reader_running(self, running: bool) -> None:
        """mlmon_reader_up, exported once the reader has started: 0 before it, while start-up
        fits the references, read as "restarting after a crash" and paged MLMonReaderDown."""
        with self._lock:
            if self._reader_up is None:
                self._reader_up = gauge("mlmon_reader_up", self._registry)
        self._reader_up.set(1.0 if running else 0.0)

    def redis_version(self, supported: bool) -> None:
        """Whether the server is new enough; the series appears once the version is known."""
        if self._version_supported is None:
            s = spec("mlmon_redis_version_supported")
            self._version_supported = Gauge(s.name, s.help, registry=self._registry)
        self._version_supported.set(1.0 if supported else 0.0)

    def forget(self, model: str) -> None:
        """Drop every series of a model that left the config, so no stale value is served."""
        families = [getattr(self, name) for name in MODEL_FAMILIES.split()] + self.regression
        with self._lock:
            for family in families:
                family.remove_by_labels({"model": model})
            self._series = {k: v for k, v in self._series.items() if k[0] != model}
        self.changes.forget(model)
        self._versions.pop(model, None)
        self._max_versions.pop(model, None)
        self._slo_target.pop(model, None)

    def forget_versions(self, model: str, versions: Iterable[str]) -> None:
        """Give back the slots of versions the window gave back, and drop their series."""
        with self._lock:
            for version in versions:
                self._versions[model].discard(version)
                self._series.pop((model, version), None)
                for name in VERSION_FAMILIES.split():
                    getattr(self, name).remove_by_labels({"model": model, "version": version})

    def versions_of(self, model: str) -> tuple[str, ...]:
        """The versions holding a model's slots; a reload's new window takes them on."""
        with self._lock:
            return tuple(self._versions.get(model, ()))

    def version(self, model: str, version: str | None, records: int = 1) -> str:
        """A bounded version label: the first `max_versions` seen, then `__other__` (counted
        once per record folded). Records without a version are `unknown`, which takes none of
        the slots, as in the window's version slices: both keep the same versions."""
        if version is None:
            return UNVERSIONED
        seen = self._versions[model]
        if version in seen:
            return version
        with self._lock:
            if len(seen) < self._max_versions[model] and len(version) <= MAX_VALUE_CHARS:
                seen.add(version)
                return version
        self.limited.labels(model, "version").inc(records)
        return OTHER

    def observe_predictions(self, model: str, batch: PredictionBatch) -> None:
        """Count a batch of valid predictions by version, errors and latency."""
        self.read.labels(model, "predictions").inc(len(batch))
        by_version = groups(batch.versions, partial(self.version, model))
        for version, mask in by_version.items():
            series = self._series.get((model, version)) or self._version_series(model, version)
            series.observe(batch, None if len(by_version) == 1 else mask)

    def _version_series(self, model: str, version: str) -> VersionSeries:
        """The children of a version's series, kept until the next reload or the model leaves."""
        with self._lock:
            latency = self.latency.labels(model, version)
            target = self._slo_target.get(model)
            series = VersionSeries(
                self.predictions.labels(model, version),
                self.errors.labels(model, version),
                self.estimated.labels(model, version),
                latency,
                np.array(latency._upper_bounds),
                None if target is None else self.slow.labels(model, version),
                target or 0.0,
            )
            self._series[(model, version)] = series
        return series

    def observe_labels(self, model: str, count: int, joined: JoinResult) -> None:
        """Count valid labels, unmatched ones, delays, and the joined outcomes for PromQL."""
        self.read.labels(model, "labels").inc(count)
        self.labels.labels(model).inc(count)
        if joined.unmatched:
            self.unmatched.labels(model).inc(joined.unmatched)
        if joined.folded:  # predicted classes are counted as the window folds them
            self.limited.labels(model, "class").inc(len(joined.folded))
        histogram = self.delay.labels(model)
        for seconds in joined.delays:
            histogram.observe(seconds)
        for (actual, predicted), n in Tally(joined.classes).items():
            self.labeled.labels(model, actual, predicted).inc(n)
        if joined.values:
            self._observe_regression(model, joined.values)

    def _observe_regression(self, model: str, values: Sequence[tuple[float, float]]) -> None:
        """Add the sums from which PromQL derives MAE, RMSE and R2 over any range."""
        sums = (
            float(len(values)),
            math.fsum(abs(p - a) for p, a in values),
            math.fsum((p - a) ** 2 for p, a in values),
            math.fsum(a for _, a in values if a > 0),
            math.fsum(-a for _, a in values if a < 0),
            math.fsum(a * a for _, a in values),
        )
        for total, amount in zip(self.regression, sums, strict=True):
            total.labels(model).inc(amount)

    def observe_invalid(self, model: str, reasons: Sequence[Reason]) -> None:
        """Count rejected records under their bounded reasons."""
        for reason, n in Tally(reasons).items():
            self.invalid.labels(model, reason.value).inc(n)
