"""Labels that came before their predictions, held for a short while.

A label feeder that is faster than the model server's logging (a click within a second, a
producer that sends predictions in lingering batches) writes labels before their
predictions. Counted unmatched at once, such a label was lost or joined depending on which
stream the reader happened to read first, and a restart's rebuild, which replays predictions
first, joined it: the same records gave two accuracies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exporter.decode.wire import Label

EARLY_SECONDS = 60.0  # how long a label waits for its prediction before it is unmatched
EARLY_LIMIT = 10_000  # labels held per model; the oldest is unmatched past it


class EarlyLabels:
    """Labels without a prediction yet, oldest first, keyed by their id's hash."""

    def __init__(self) -> None:
        self._seconds, self._limit = EARLY_SECONDS, EARLY_LIMIT
        # key -> (held at, label, whether its end counts as unmatched), in arrival order
        self._held: dict[int, tuple[float, Label, bool]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, keys: Sequence[int], labels: Sequence[Label], now: float, count: bool) -> int:
        """Hold labels; returns how many are unmatched now: a second label for an id already
        held (the first one joins, as when its prediction waits) and the oldest past the
        limit. count=False: a replay's labels, whose end the first process counted."""
        unmatched = 0
        for key, label in zip(keys, labels, strict=True):
            if key in self._held:
                unmatched += count
            else:
                self._held[key] = (now, label, count)
        while len(self._held) > self._limit:
            unmatched += self._held.pop(next(iter(self._held)))[2]
        return unmatched

    def expire(self, now: float) -> int:
        """Let go of labels held longer than the grace; returns how many (unmatched)."""
        expired = 0
        while self._held:
            key = next(iter(self._held))
            if self._held[key][0] >= now - self._seconds:
                break
            expired += self._held.pop(key)[2]
        return expired

    def claim(self, keys: np.ndarray) -> list[Label]:
        """The held labels of these prediction keys, in the keys' order; they stop waiting."""
        if not self._held:  # nearly always: a read's keys are not even listed
            return []
        listed = keys.tolist()
        if self._held.keys().isdisjoint(listed):
            return []
        return [self._held.pop(key)[1] for key in listed if key in self._held]
