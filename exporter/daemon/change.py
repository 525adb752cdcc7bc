"""A model's change detectors, built from its reference: on labelled errors, and on how
often a score, a numeric prediction or a chosen feature leaves the reference's usual range."""

from __future__ import annotations

import logging
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
log = logging.getLogger("exporter.pipeline")


@dataclass
class Side:
    """One side of a watch: a value is an event past `cut` (or at it, when `inclusive`), and
    `detector.p0` is the reference's own share of such values, so its bound is exact."""

    below: bool
    cut: float
    inclusive: bool
    detector: BernoulliCusum

    def events(self, present: np.ndarray) -> list[int]:
        """Feed the present values; the positions where the detector crossed."""
        if self.below:
            hits = present <= self.cut if self.inclusive else present < self.cut
        else:
            hits = present >= self.cut if self.inclusive else present > self.cut
        return self.detector.events(hits)


@dataclass
class TailWatch:
    """How often a numeric signal leaves the reference's central 80 %, on either side: a
    Bernoulli CUSUM per side whose rate p0 is the reference's share of that side, so any
    distribution, ties included, keeps the false-detection bound and can show a change."""

    sides: tuple[Side, ...]

    @property
    def statistic(self) -> float:
        """The larger side's statistic."""
        return max(side.detector.statistic for side in self.sides)

    def feed(self, values: np.ndarray) -> list[int]:
        """Positions (among the present values' order) where either side crossed."""
        present = values[~np.isnan(values)]
        return sorted(i for side in self.sides for i in side.events(present))


def tail_side(ordered: np.ndarray, below: bool, rise: float, threshold: float) -> Side | None:
    """The side's cut at the reference's outer tenth, counting values at the cut in or out,
    whichever leaves a share nearer a tenth; None when no share lies strictly inside (0, 1).

    With ties, a fixed p0 of 0.10 is wrong either way: values tied at the cut make the true
    share 0 or far above 0.10, and a detector whose p0 is above the live rate never crosses.
    """
    n = ordered.size
    cut = float(np.quantile(ordered, TAIL if below else 1 - TAIL))
    left, right = np.searchsorted(ordered, cut, "left"), np.searchsorted(ordered, cut, "right")
    if below:  # (share, inclusive): x < cut, x <= cut
        options = [(left / n, False), (right / n, True)]
    else:  # x > cut, x >= cut
        options = [((n - right) / n, False), ((n - left) / n, True)]
    usable = [
        (abs(share - TAIL), share, inclusive) for share, inclusive in options if 0 < share < 1
    ]
    if not usable:
        return None
    _, p0, inclusive = min(usable)
    p1 = min(p0 + rise, (1 + p0) / 2)  # a share above 0.9 can still rise halfway to 1
    return Side(below, cut, inclusive, BernoulliCusum(threshold, p0=p0, p1=p1))


def tail_watches(model: ModelConfig, data: ReferenceData) -> dict[str, TailWatch]:
    """A watch per numeric signal the reference has values of: the score or numeric
    prediction, then each feature named in change.features. A side whose share cannot lie
    strictly between 0 and 1 (a constant reference) is off, and said so in the log."""
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
        ordered = np.sort(values[~np.isnan(values)])
        sides = (
            [_side(model, name, ordered, below) for below in (True, False)] if ordered.size else []
        )
        if kept := tuple(side for side in sides if side is not None):
            out[name] = TailWatch(kept)
    return out


def _side(model: ModelConfig, name: str, ordered: np.ndarray, below: bool) -> Side | None:
    """tail_side with the model's settings; a side left off is logged."""
    settings = model.change
    side = tail_side(ordered, below, settings.error_rise, settings.threshold)
    if side is None:
        where = "low" if below else "high"
        log.warning(
            "change: the %s side of %s is not watched: its reference values are all %g",
            where,
            name,
            ordered[0],
            extra={"model": model.name},
        )
    return side
