"""Label coverage over the window's duration, in time buckets of predictions and their joins.

Predictions count where they were made (their `ts`), so one stamped late or out of order
moves only its own bucket; a prediction that can never be joined (evicted past
`labels.max_pending`, past `labels.horizon`) stays in the denominator, and one replaced by
a newer prediction with its id leaves it. Counted by time, not over the window's rows: a
window capped at `max_samples` spans seconds at high traffic, and labels minutes later made
its rows all unlabelled (MLMonLabelsMissing on a model whose every prediction got its label).
"""

from __future__ import annotations

import math

import numpy as np

BUCKETS = 360  # per window duration: 10 s buckets for an hour


class Coverage:
    """Joinable and joined predictions per bucket of prediction time."""

    def __init__(self, duration: float) -> None:
        self._duration = duration
        self._width = max(duration / BUCKETS, 1.0)
        self._made: dict[int, int] = {}
        self._joined: dict[int, int] = {}

    def made(self, ts: np.ndarray, sign: int = 1) -> None:
        """Count joinable predictions made at ts (sign -1: ones a newer one replaced)."""
        self._add(self._made, ts, sign)

    def joined(self, ts: np.ndarray) -> None:
        """Count predictions made at ts that were joined to their label."""
        self._add(self._joined, ts, 1)

    def share(self, now: float) -> float | None:
        """Joined ÷ joinable over the predictions made within the duration before now."""
        first = math.floor((now - self._duration) / self._width)
        for counts in (self._made, self._joined):
            for key in [k for k in counts if k < first]:
                del counts[key]
        made, joined = sum(self._made.values()), sum(self._joined.values())
        return min(joined / made, 1.0) if made > 0 else None

    def _add(self, counts: dict[int, int], ts: np.ndarray, sign: int) -> None:
        finite = ts[np.isfinite(ts)]
        if not finite.size:
            return
        keys, n = np.unique(np.floor(finite / self._width).astype(np.int64), return_counts=True)
        for key, count in zip(keys.tolist(), n.tolist(), strict=True):
            counts[key] = counts.get(key, 0) + sign * count
