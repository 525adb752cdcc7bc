"""The joined pairs the performance window shows, in bounded memory."""

from __future__ import annotations

from collections import deque

from exporter.window.classnames import Compact

Target = float | str
Pair = tuple[float, float, Target, Target, Compact, bytes]
"""A joined pair: label time, prediction time, predicted, actual, score, slice codes."""


class JoinedWindow:
    """The newest `max_samples` pairs labelled within the window's duration, so a back-fill
    of outcomes older than the window cannot push out the pairs the window shows."""

    def __init__(self, duration: float, max_samples: int) -> None:
        self._duration = duration
        self._pairs: deque[Pair] = deque(maxlen=max_samples)

    def add(self, pair: Pair, now: float) -> None:
        """Keep a pair the window can show (its label within the duration before now); let
        go of the pairs that aged out of it first, so they take no room either."""
        cutoff = now - self._duration
        if pair[0] < cutoff:
            return
        while self._pairs and self._pairs[0][0] < cutoff:
            self._pairs.popleft()
        self._pairs.append(pair)

    def since(self, now: float) -> list[Pair]:
        """The pairs whose label came within the window's duration before now."""
        cutoff = now - self._duration
        return [p for p in self._pairs if p[0] >= cutoff]
