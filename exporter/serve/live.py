"""Counters and histograms updated as records arrive, built from the catalog on our registry."""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from exporter.config.model import ModelConfig
from exporter.ingest.vocab import OTHER
from exporter.ingest.wire import Prediction, Reason
from exporter.serve.catalog import LATENCY_BUCKETS, spec

UNVERSIONED = "unknown"


def _counter(name: str, registry: CollectorRegistry) -> Counter:
    s = spec(name)
    return Counter(s.base_name, s.help, s.labels, registry=registry)


class LiveMetrics:
    """The ingest-side metrics; one instance per daemon, shared by reader and scheduler."""

    def __init__(self, registry: CollectorRegistry, models: Iterable[ModelConfig]) -> None:
        self.read = _counter("mlmon_records_read_total", registry)
        self.invalid = _counter("mlmon_records_invalid_total", registry)
        self.failures = _counter("mlmon_evaluation_failures_total", registry)
        self.predictions = _counter("mlmon_predictions_total", registry)
        self.errors = _counter("mlmon_prediction_errors_total", registry)
        self.labels = _counter("mlmon_labels_total", registry)
        self.unmatched = _counter("mlmon_labels_unmatched_total", registry)
        self.skipped = _counter("mlmon_records_skipped_total", registry)
        self.limited = _counter("mlmon_series_limited_total", registry)
        lat = spec("mlmon_prediction_latency_seconds")
        self.latency = Histogram(lat.base_name, lat.help, lat.labels, registry=registry,
                                 unit=lat.unit, buckets=LATENCY_BUCKETS)
        self._max_versions: dict[str, int] = {}
        self._versions: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.configure(models)

    def configure(self, models: Iterable[ModelConfig]) -> None:
        """Start the series of (newly) configured models at 0; a reload keeps counts going."""
        for m in models:
            self._max_versions[m.name] = m.max_versions
            self._versions.setdefault(m.name, set())
            for kind in ("predictions", "labels"):
                self.read.labels(m.name, kind)
            self.failures.labels(m.name)
            self.labels.labels(m.name)
            self.unmatched.labels(m.name)

    def version(self, model: str, version: str | None) -> str:
        """A bounded version label: the first `max_versions` seen, then `__other__`."""
        label = UNVERSIONED if version is None else version
        seen = self._versions[model]
        if label in seen:
            return label
        with self._lock:
            if len(seen) < self._max_versions[model]:
                seen.add(label)
                return label
        self.limited.labels(model, "version").inc()
        return OTHER

    def observe_predictions(self, model: str, records: Sequence[Prediction]) -> None:
        """Count a batch of valid predictions by version, errors and latency."""
        self.read.labels(model, "predictions").inc(len(records))
        totals: Tally[str] = Tally()
        errors: Tally[str] = Tally()
        for r in records:
            version = self.version(model, r.version)
            totals[version] += 1
            if not r.ok:
                errors[version] += 1
            if r.latency_seconds is not None:
                self.latency.labels(model, version).observe(r.latency_seconds)
        for version, n in totals.items():
            self.predictions.labels(model, version).inc(n)
            self.errors.labels(model, version).inc(errors[version])

    def observe_labels(self, model: str, count: int, unmatched: int) -> None:
        """Count valid labels and those that found no prediction."""
        self.read.labels(model, "labels").inc(count)
        self.labels.labels(model).inc(count)
        if unmatched:
            self.unmatched.labels(model).inc(unmatched)

    def observe_invalid(self, model: str, reasons: Sequence[Reason]) -> None:
        """Count rejected records under their bounded reasons."""
        for reason, n in Tally(reasons).items():
            self.invalid.labels(model, reason.value).inc(n)
