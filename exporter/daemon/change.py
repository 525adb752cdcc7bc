"""A model's change detector on labelled errors, built from its fitted reference."""

from __future__ import annotations

import numpy as np

from exporter.config import ModelConfig
from exporter.evaluate.fit import FittedReference
from exporter.stats.change import BernoulliCusum

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
