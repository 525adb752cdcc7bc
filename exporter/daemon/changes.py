"""Every change detector of one model, fed as records and labels arrive, rebuilt with its
reference; the pipeline calls it, the live metrics show it."""

from __future__ import annotations

import numpy as np

from exporter.config import ModelConfig
from exporter.daemon.change import PREDICTION, TailWatch, error_detector, feed, tail_watches
from exporter.decode.batch import PredictionBatch
from exporter.evaluate.fit import FittedReference
from exporter.evaluate.snapshot import ChangeState
from exporter.expose.change_live import ERROR, ChangeMetrics
from exporter.reference.data import ReferenceData
from exporter.stats.change import BernoulliCusum
from exporter.stats.kinds import FeatureType, Task
from exporter.window.labels import JoinResult


class ModelChanges:
    """The error detector and the tail watches of one model."""

    def __init__(self, model: ModelConfig, metrics: ChangeMetrics) -> None:
        self._model = model
        self._metrics = metrics
        self._fitted: FittedReference | None = None
        self.error: BernoulliCusum | None = None
        self.watches: dict[str, TailWatch] = {}
        self.last_change: float | None = None
        numeric = [f.name for f in model.features if f.type is FeatureType.NUMERIC]
        self._rows = {name: numeric.index(name) for name in model.change.features}

    def refit(self, fitted: FittedReference, data: ReferenceData) -> None:
        """New detectors for a reference with a new level; the same level keeps their state."""
        old, before = self._fitted, set(self._signals())
        if old is None or old.error_baseline != fitted.error_baseline:
            self.error = error_detector(self._model, fitted)
        if old is None or old.digest != fitted.digest:
            self.watches = tail_watches(self._model, data)
        self._fitted = fitted
        for signal in before - set(self._signals()):  # e.g. a feature now constant: unwatched
            self._metrics.drop(self._model.name, signal)
        standing = [(ERROR, self.error.statistic)] if self.error is not None else []
        standing += [(_signal(name), watch.statistic) for name, watch in self.watches.items()]
        for signal, statistic in standing:  # a new detector's statistic is 0
            self._metrics.start(self._model.name, signal, self._model.change.threshold, statistic)

    def claim(self) -> None:
        """Once this model's section took effect: the series of signals it no longer
        watches go (its refit ran while the old section still served)."""
        self._metrics.retain(self._model.name, self._signals())

    def _signals(self) -> list[str]:
        errors = [ERROR] if self.error is not None else []
        return errors + [_signal(name) for name in self.watches]

    def labels(self, joined: JoinResult, count: bool) -> None:
        """Feed each joined label's error."""
        if self.error is None or self._fitted is None or not joined.errors:
            return
        found = feed(self.error, self._fitted, np.array(joined.errors))
        self._observe(ERROR, self.error.statistic, [joined.times[i] for i in found], count)

    def predictions(self, batch: PredictionBatch, count: bool) -> None:
        """Feed each watched signal's values of a batch."""
        for name, watch in self.watches.items():
            values = self._values(name, batch)
            found = watch.feed(values)
            times = batch.ts[~np.isnan(values)]
            self._observe(_signal(name), watch.statistic, [float(times[i]) for i in found], count)

    def _values(self, name: str, batch: PredictionBatch) -> np.ndarray:
        if name in self._rows:
            return np.asarray(batch.numeric[self._rows[name]], dtype=float)
        if self._model.task is Task.BINARY:
            return batch.positive(self._model.positive_class)
        return np.array(batch.prediction, dtype=float)  # None (an error status): NaN

    def _observe(self, signal: str, statistic: float, changes: list[float], count: bool) -> None:
        if changes:
            self.last_change = changes[-1]
        self._metrics.observe(self._model.name, signal, statistic, changes, count)

    def state(self) -> ChangeState | None:
        """The error detector's standing, for the model page."""
        if self.error is None:
            return None
        return ChangeState(self.error.statistic, self.error.threshold, self.last_change)


def _signal(name: str) -> str:
    """The `signal` label of a watched column: `prediction`, or `feature:<name>`."""
    return name if name == PREDICTION else f"feature:{name}"
