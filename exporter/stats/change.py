"""Sequential change detection on per-record signals: CUSUM against the reference's level.

A windowed test sees a drop in accuracy once enough of its window has changed; CUSUM adds up
each record's evidence for the change and sees it within a few hundred records. The baseline
is the reference's (how often it errs), not the stream's own history: the
statistic then depends only on the records since it last touched zero, so replaying a stream's
tail after a restart rebuilds it exactly (see docs/statistics.md). Page-Hinkley with a known
mean is this same statistic; estimating the mean from the stream instead would make the state
depend on all history, which no restart can rebuild.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# A false detection at most once per e**THRESHOLD stationary records (Wald's bound on the
# average run length of a likelihood-ratio CUSUM): 11.5 is about one per 100,000.
DEFAULT_THRESHOLD = 11.5
# Past this many crossings in one batch the rest is fed record by record: each crossing
# restarts the vectorised walk, which would cost a pass over the batch per record.
DENSE_CROSSINGS = 8
# Below this many records the recursion goes step by step: numpy's cost per call (about
# 10 us for the walk) is more than 48 Python steps, and a steady trickle reads few at a time.
SMALL_BATCH = 48


@dataclass
class Cusum:
    """One-sided CUSUM of per-record log-likelihood ratio increments; resets after a detection.

    `statistic` is where it stands; `detections` counts crossings since this object was made.
    """

    threshold: float
    statistic: float = 0.0
    detections: int = 0

    def feed(self, increments: np.ndarray) -> list[int]:
        """Add each record's increment; the positions (in `increments`) where it crossed.

        Between two crossings the statistic is the walk of the increments less its lowest
        point so far (Lindley's recursion unrolled), one numpy pass instead of a Python step
        per record; crossings are rare, and where they are not (or few records are left) the
        rest goes step by step.
        """
        steps = np.asarray(increments, dtype=float)
        crossed: list[int] = []
        start, s = 0, self.statistic
        while steps.size - start >= SMALL_BATCH and len(crossed) < DENSE_CROSSINGS:
            walk = _lindley(s, steps[start:])
            over = np.flatnonzero(walk > self.threshold)
            if not over.size:
                s, start = float(walk[-1]), steps.size
                break
            crossed.append(start + int(over[0]))
            start, s = crossed[-1] + 1, 0.0
        s = self._steps(s, steps, start, crossed)
        self.statistic = s
        self.detections += len(crossed)
        return crossed

    def _steps(self, s: float, steps: np.ndarray, start: int, crossed: list[int]) -> float:
        """The recursion one record at a time from `start`, appending crossings."""
        h = self.threshold
        for i, step in enumerate(steps[start:].tolist(), start):
            s = max(0.0, s + step)
            if s > h:
                crossed.append(i)
                s = 0.0
        return s


def _lindley(start: float, steps: np.ndarray) -> np.ndarray:
    """max(0, s + step) applied along `steps` from s = start (>= 0), every value."""
    walk = np.cumsum(np.concatenate(([start], steps)))
    return (walk - np.minimum(np.minimum.accumulate(walk), 0.0))[1:]


@dataclass
class BernoulliCusum(Cusum):
    """Each event adds log(p1/p0), each non-event log((1-p1)/(1-p0)): the likelihood ratio of
    a rate p1 against p0, the optimal detector of that change (Moustakides)."""

    p0: float = 0.1
    p1: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.p0 < self.p1 < 1:
            raise ValueError(f"need 0 < p0 < p1 < 1, got p0={self.p0}, p1={self.p1}")

    def events(self, hits: np.ndarray) -> list[int]:
        """Feed 0/1 events (1: an error)."""
        up = math.log(self.p1 / self.p0)
        down = math.log((1 - self.p1) / (1 - self.p0))
        return self.feed(np.where(np.asarray(hits, bool), up, down))
