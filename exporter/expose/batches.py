"""Counter and histogram updates for a whole batch at once, computed with numpy.

prometheus_client updates one observation at a time under a lock; a batch of a thousand
records would take a thousand of them per histogram.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram

from exporter.decode.batch import PredictionBatch

H = TypeVar("H", bound=Hashable)


def groups(values: Sequence[H], label: Callable[[H, int], str]) -> dict[str, np.ndarray]:
    """A mask of the records under each label, in first-seen order.

    `label` is called once per distinct value, with how many records carry it, so a value's
    label (a version folded into `__other__`, say) costs one call, not one per record; values
    sharing a label share a mask, so there are never more masks than labels.
    """
    counts = Counter(values)
    labels = {value: label(value, n) for value, n in counts.items()}
    if len(counts) == 1:  # the usual read: one version
        return {name: np.ones(len(values), bool) for name in labels.values()}
    index = {name: i for i, name in enumerate(dict.fromkeys(labels.values()))}
    code = {value: index[name] for value, name in labels.items()}
    codes = np.fromiter(map(code.__getitem__, values), np.intp, len(values))
    return {name: codes == i for name, i in index.items()}


def observe_many(child: Histogram, bounds: np.ndarray, values: np.ndarray) -> None:
    """Add values to a labelled histogram as that many `observe` calls would.

    Uses the child's bucket and sum values, which `observe` itself updates: a bucket holds the
    count of values above the bound before it and at most its own (the exposition sums them).
    bounds: the child's upper bounds as an array, kept by the caller.
    """
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    child._sum.inc(float(values.sum()))
    for bucket, n in zip(child._buckets, counts.tolist(), strict=True):
        if n:
            bucket.inc(n)


@dataclass(frozen=True)
class VersionSeries:
    """A model version's prediction counters and latency histogram, looked up once.

    prometheus_client's labels() takes a lock and builds a key at every call: the five calls
    a read made were a fifth of what reading one record cost.
    """

    predictions: PromCounter
    errors: PromCounter
    estimated: PromCounter
    latency: Histogram
    bounds: np.ndarray  # the latency buckets' upper bounds
    slow: PromCounter | None = None  # with an SLO latency target only
    target: float = 0.0  # the SLO's latency target, seconds

    def observe(self, batch: PredictionBatch, mask: np.ndarray | None) -> None:
        """Count the records under mask (None: all of them, the usual single version)."""
        ok, rate, latency = batch.ok, batch.sample_rate, batch.latency
        if mask is not None:
            ok, rate, latency = ok[mask], rate[mask], latency[mask]
        self.predictions.inc(len(ok))
        self.errors.inc(len(ok) - int(np.count_nonzero(ok)))
        self.estimated.inc(float(np.sum(1.0 / rate)))
        seconds = latency[~np.isnan(latency)]
        if seconds.size:
            observe_many(self.latency, self.bounds, seconds)
        if self.slow is not None:
            self.slow.inc(int(np.count_nonzero(seconds > self.target)))
