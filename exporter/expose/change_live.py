"""Change detection's series, moved as labels join: detections, the statistic, the last change."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry

from exporter.expose.instruments import counter, gauge

ERROR = "error"  # the signal: each labelled prediction's error


class ChangeMetrics:
    """Detections count only when read live; a replay after a restart rebuilds the statistic
    and the time of the last change without counting its detections again."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.detections = counter("mlmon_change_detections_total", registry)
        self.statistic = gauge("mlmon_change_statistic", registry)
        self.threshold = gauge("mlmon_change_threshold", registry)
        self.last = gauge("mlmon_change_last_timestamp_seconds", registry)
        # Signals watched per model: a batch fed to a watch that a refit or a reload has just
        # dropped must not bring its series back.
        self._watched: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def start(self, model: str, signal: str, threshold: float, statistic: float) -> None:
        """A signal's series from 0, so the first detection is an increase; its statistic
        where its detector stands (0 for a new reference's, not the replaced one's)."""
        with self._lock:
            self._watched.setdefault(model, set()).add(signal)
            self.detections.labels(model, signal)
            self.threshold.labels(model, signal).set(threshold)
            self.statistic.labels(model, signal).set(statistic)

    def observe(
        self, model: str, signal: str, statistic: float, changes: Sequence[float], count: bool
    ) -> None:
        """After a batch: where the statistic stands and when it last crossed."""
        with self._lock:
            if signal not in self._watched.get(model, ()):
                return
            self.statistic.labels(model, signal).set(statistic)
            if changes:
                self.last.labels(model, signal).set(changes[-1])
                if count:
                    self.detections.labels(model, signal).inc(len(changes))

    def retain(self, model: str, signals: Iterable[str]) -> None:
        """Keep only these signals' series: a reload that unwatched a feature left its own."""
        with self._lock:  # a copy: the reader thread may start or drop one meanwhile
            gone = self._watched.get(model, set()) - set(signals)
        for signal in gone:
            self.drop(model, signal)

    def drop(self, model: str, signal: str) -> None:
        """Drop the series of a signal no longer watched."""
        with self._lock:
            self._watched.get(model, set()).discard(signal)
            for family in (self.detections, self.statistic, self.threshold, self.last):
                family.remove_by_labels({"model": model, "signal": signal})

    def forget(self, model: str) -> None:
        """Drop a removed model's series."""
        with self._lock:
            self._watched.pop(model, None)
            for family in (self.detections, self.statistic, self.threshold, self.last):
                family.remove_by_labels({"model": model})
