"""Counter and histogram updates for a whole batch at once, computed with numpy.

prometheus_client updates one observation at a time under a lock; a batch of a thousand
records would take a thousand of them per histogram.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np
from prometheus_client import Histogram

H = TypeVar("H", bound=Hashable)


def groups(values: Sequence[H], label: Callable[[H, int], str]) -> dict[str, np.ndarray]:
    """A mask of the records under each label, in first-seen order.

    `label` is called once per distinct value, with how many records carry it, so a value's
    label (a version folded into `__other__`, say) costs one call, not one per record; values
    sharing a label share a mask, so there are never more masks than labels.
    """
    counts = Counter(values)
    labels = {value: label(value, n) for value, n in counts.items()}
    index = {name: i for i, name in enumerate(dict.fromkeys(labels.values()))}
    code = {value: index[name] for value, name in labels.items()}
    codes = np.fromiter(map(code.__getitem__, values), np.intp, len(values))
    return {name: codes == i for name, i in index.items()}


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
