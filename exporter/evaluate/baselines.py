"""A segment value's reference metrics with their sampling error, and the bound it is held to.

A segment's max_drop was measured from as few as min_samples reference rows and compared with a
window of a few hundred labels, with no allowance for the noise of either: a healthy country
whose 135 reference rows were right 0.837 of the time (0.778 in truth) broke max_drop 0.05 in
51 of 80 evaluations. The bound now holds the value to a one-sided test at ALPHA that its
metric is worse than the reference's by more than max_drop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exporter.config import ModelConfig
from exporter.config.performance import Bounds
from exporter.evaluate.performance import Pairs, baseline, labelled_rows, performance
from exporter.reference.data import ReferenceData

ALPHA = 0.05  # one-sided level of each segment value's max_drop test
# Delete-a-group jackknife: each metric recomputed without one group of rows, on at most
# NOISE_ROWS rows (the spread does not depend on the count). 10 groups of 1,000 rows: with 20
# of 2,000, 303 segment values took 42 s to fit against 8 s without max_drop.
GROUPS = 10
NOISE_ROWS = 1_000
# scipy.stats.t.ppf(1 - ALPHA, GROUPS - 1): the jackknife's variance has GROUPS - 1 degrees of
# freedom. A constant, so `reference load`, which imports this module, does not import scipy.
T = 1.833112932656237


@dataclass(frozen=True)
class Baseline:
    """Reference metrics of some rows, each one's spread (its standard error times the square
    root of the labelled rows, the same for a window of the same traffic) and that count."""

    metrics: Pairs = ()
    spread: Pairs = ()
    labelled: int = 0


def measure(
    model: ModelConfig, data: ReferenceData, at: list[int] | None = None, count: int = 1
) -> Baseline:
    """The rows' metrics as `baseline` gives them, and their spread when a max_drop needs it."""
    metrics = baseline(model, data, at, count)
    if not metrics or all(b.max_drop is None for _, b in model.performance):
        return Baseline(metrics)
    label, prediction = data.label or (), data.prediction or ()
    rows = list(labelled_rows(data, at))
    sample = np.random.default_rng(0).permutation(rows)[:NOISE_ROWS]
    pred = np.array([prediction[i] for i in sample], dtype=object)
    true = np.array([label[i] for i in sample], dtype=object)
    score = None if data.score is None else data.score[sample]
    left_out = []
    for group in np.array_split(np.arange(len(sample)), GROUPS):
        keep = np.ones(len(sample), dtype=bool)
        keep[group] = False
        scores = () if score is None else [None if v != v else float(v) for v in score[keep]]
        left_out.append(dict(performance(model, list(pred[keep]), list(true[keep]), scores)))
    spread = []
    for name, _ in metrics:
        values = [m.get(name) for m in left_out]
        if all(v is not None for v in values):
            jack = np.array(values, dtype=float)
            variance = (GROUPS - 1) / GROUPS * float(np.sum((jack - jack.mean()) ** 2))
            spread.append((name, math.sqrt(variance * len(sample))))
    return Baseline(metrics, tuple(spread), len(rows))


def bound(
    bounds: Bounds, metric: str, base: Baseline, labelled: int
) -> tuple[float | None, float | None]:
    """The metric's (min, max) for a segment value of `labelled` labelled predictions: its
    max_drop widened by T standard errors of the difference between the window's value and
    the baseline's, so a healthy value breaks it about ALPHA of the time at most."""
    reference = dict(base.metrics).get(metric)
    spread = dict(base.spread).get(metric)
    if bounds.max_drop is None or reference is None or spread is None or labelled < 1:
        return bounds.resolve(metric, reference)
    margin = T * spread * math.sqrt(1 / base.labelled + 1 / labelled)
    wider = bounds.model_copy(update={"max_drop": bounds.max_drop + margin})
    return wider.resolve(metric, reference)
