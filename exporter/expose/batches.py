"""Counter and histogram updates for a whole batch at once, computed with numpy.

prometheus_client updates one observation at a time under a lock; a batch of a thousand
records would take a thousand of them per histogram.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from prometheus_client import Histogram


def groups(labels: Sequence[str]) -> dict[str, np.ndarray]:
    """A mask of the records under each distinct label, in first-seen order."""
    index = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    codes = np.fromiter(map(index.__getitem__, labels), np.intp, len(labels))
    return {label: codes == i for label, i in index.items()}


def observe_many(child: Histogram, values: np.ndarray) -> None:
    """Add values to a labelled histogram as that many `observe` calls would.

    Uses the child's bucket and sum values, which `observe` itself updates: a bucket holds the
    count of values above the bound before it and at most its own (the exposition sums them).
    """
    if not values.size:
        return
    bounds = np.array(child._upper_bounds)
    counts = np.bincount(np.searchsorted(bounds, values, side="left"), minlength=len(bounds))
    child._sum.inc(float(values.sum()))
    for bucket, n in zip(child._buckets, counts.tolist(), strict=True):
        if n:
            bucket.inc(n)
