"""The newest predictions of a classifier, kept for the estimates made without labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from exporter.window.growth import grown_size, regrown, ring_order
from exporter.window.pending import objects


class Recent:
    """The newest predictions of a classifier, for estimates without labels: a ring of arrays,
    so a full window is not a hundred thousand tuples for the garbage collector to walk."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._ts = np.empty(0)
        self._pred = np.empty(0, dtype=object)
        self._score = np.empty(0, dtype=object)
        self._next = self._size = 0

    def extend(self, ts: np.ndarray, predicted: list[Any], scores: list[Any]) -> None:
        """Append in arrival order; past the capacity the oldest are overwritten."""
        n = min(len(ts), self._capacity)
        if not n:
            return
        self._grow(self._size + n)
        at = (self._next + np.arange(n)) % len(self._ts)
        self._ts[at] = ts[-n:]
        self._pred[at], self._score[at] = objects(predicted[-n:]), objects(scores[-n:])
        self._next = int((self._next + n) % len(self._ts))
        self._size = min(self._size + n, len(self._ts))

    def since(self, cutoff: float) -> tuple[list[Any], list[Any]]:
        """(predicted, scores) of those stamped at or after cutoff, oldest first."""
        order = ring_order(self._next, self._size, len(self._ts))
        keep = order[self._ts[order] >= cutoff]
        return self._pred[keep].tolist(), self._score[keep].tolist()

    def _grow(self, wanted: int) -> None:
        """Buffers double up to the capacity as they fill, rather than start full."""
        size = grown_size(len(self._ts), wanted, self._capacity)
        if size == len(self._ts):
            return
        order = ring_order(self._next, self._size, len(self._ts))
        self._ts, self._pred, self._score = (
            regrown(a, order, size) for a in (self._ts, self._pred, self._score)
        )
        self._next = self._size
