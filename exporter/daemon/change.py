"""A model's change detector on labelled errors, built from its fitted reference."""

from __future__ import annotations

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.fit import FittedReference
from exporter.stats.change import BernoulliCusum, Cusum, GaussianCusum

MIN_RATE = 1e-3  # a perfect reference still leaves room for a rate to rise from


def error_detector(model: ModelConfig, fitted: FittedReference) -> Cusum | None:
    """CUSUM on each joined label's error, or None (disabled, or no reference labels)."""
    settings = model.change
    if not settings.enabled or fitted.error_baseline is None:
        return None
    mean, sd = fitted.error_baseline
    if model.task.is_classification:
        p0 = min(max(mean, MIN_RATE), 1 - 2 * MIN_RATE)
        p1 = min(p0 + settings.error_rise, 1 - MIN_RATE)
        return BernoulliCusum(settings.threshold, p0=p0, p1=p1)
    return GaussianCusum(
        settings.threshold, mean=mean, sd=max(sd, 1e-12), shift=settings.error_shift
    )


def feed(detector: Cusum, errors: np.ndarray) -> list[int]:
    """The positions among `errors` where the detector crossed its threshold."""
    if isinstance(detector, BernoulliCusum):
        return detector.events(errors > 0)
    assert isinstance(detector, GaussianCusum)
    return detector.values(errors)
