"""A window's performance: realised over joined labels, estimated over scores, and their gap."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.config import ModelConfig
from exporter.evaluate.estimate import Calibration, estimate, scored_rows
from exporter.evaluate.performance import Pairs, realised
from exporter.window.classnames import OTHER_MISMATCH
from exporter.window.labels import JoinedPairs
from exporter.window.vocab import OTHER


@dataclass(frozen=True)
class PerformanceOutcome:
    """What the snapshot needs about performance; empty parts export no series."""

    performance: Pairs = ()
    class_performance: tuple[tuple[str, str, float], ...] = ()
    estimated: Pairs = ()
    estimation_error: Pairs = ()


def assess(
    model: ModelConfig, pairs: JoinedPairs, calibration: Calibration | None
) -> PerformanceOutcome:
    """Realised metrics once min_samples labels joined; estimates from the window's scores.

    The estimation error compares the estimate on the labelled rows with the realised value on
    the same rows, so it measures the estimator rather than the label delay.
    """
    estimated = estimate(model, calibration, pairs.window_predicted, pairs.window_scores)
    if len(pairs) < model.min_samples:
        return PerformanceOutcome(estimated=estimated)
    result = realised(model, pairs.predicted, pairs.actual, pairs.scores, pairs.classes)
    rows = scored_rows(model, pairs.predicted, pairs.scores)
    same = pairs if rows is None or rows.all() else pairs.subset(rows)  # the estimate's rows
    truth = (
        result
        if same is pairs
        else realised(model, same.predicted, same.actual, same.scores, same.classes)
    )
    # As the window held them: `__other__mismatch__` says the label differs, which the
    # estimate must not read (it hid a folded class's inflated estimate behind a small error).
    predicted = tuple(OTHER if p == OTHER_MISMATCH else p for p in same.predicted)
    on_labelled = dict(estimate(model, calibration, predicted, same.scores))
    error = tuple(
        (name, abs(on_labelled[name] - value))
        for name, value in truth.metrics
        if name in on_labelled
    )
    return PerformanceOutcome(result.metrics, result.per_class, estimated, error)
