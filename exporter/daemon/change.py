"""A model's change detectors, built from its reference: on labelled errors, and on how
often a score, a numeric prediction or a chosen feature leaves the reference's usual range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.fit import FittedReference
from exporter.reference.data import ReferenceData
from exporter.stats.change import BernoulliCusum
from exporter.stats.kinds import Task

MIN_RATE = 1e-3  # a perfect reference still leaves room for a rate to rise from


def error_detector(model: ModelConfig, fitted: FittedReference) -> BernoulliCusum | None:
    """CUSUM on how often joined labels err, or None (disabled, or no reference labels)."""
    settings = model.change
    if not settings.enabled or fitted.error_baseline is None:
        return None
    _, share = fitted.error_baseline
    p0 = min(max(share, MIN_RATE), 1 - 2 * MIN_RATE)
    p1 = min(p0 + settings.error_rise, 1 - MIN_RATE)
    return BernoulliCusum(settings.threshold, p0=p0, p1=p1)


def feed(detector: BernoulliCusum, fitted: FittedReference, errors: np.ndarray) -> list[int]:
    """The positions among `errors` where the detector crossed its threshold."""
    assert fitted.error_baseline is not None
    return detector.events(errors > fitted.error_baseline[0])


TAIL = 0.1  # each side: a value is unusual past the reference's 10th or 90th percentile
PREDICTION = "prediction"


@dataclass
class TailWatch:
    """How often a numeric signal leaves the reference's central 80 %, on either side: two
    Bernoulli CUSUMs, so any distribution keeps the false-detection bound."""

    low: float
    high: float
    below: BernoulliCusum
    above: BernoulliCusum

    @property
    def statistic(self) -> float:
        """The larger side's statistic."""
        return max(self.below.statistic, self.above.statistic)

    def feed(self, values: np.ndarray) -> list[int]:
        """Positions (among the present values' order) where either side crossed."""
        present = values[~np.isnan(values)]
        found = self.below.events(present < self.low) + self.above.events(present > self.high)
        return sorted(found)


def tail_watches(model: ModelConfig, data: ReferenceData) -> dict[str, TailWatch]:
    """A watch per numeric signal the reference has values of: the score or numeric
    prediction, then each feature named in change.features."""
    settings = model.change
    if not settings.enabled:
        return {}
    columns: dict[str, np.ndarray] = {}
    if model.task is Task.BINARY and model.positive_class and data.score is not None:
        columns[PREDICTION] = data.score
    elif not model.task.is_classification and data.prediction is not None:
        columns[PREDICTION] = np.array(data.prediction, dtype=float)
    for name in settings.features:
        columns[name] = data.numeric[name]
    out = {}
    for name, values in columns.items():
        present = values[~np.isnan(values)]
        if present.size:
            low, high = np.quantile(present, [TAIL, 1 - TAIL])
            p1 = TAIL + settings.error_rise
            below, above = (BernoulliCusum(settings.threshold, p0=TAIL, p1=p1) for _ in "ab")
            out[name] = TailWatch(float(low), float(high), below, above)
    return out
