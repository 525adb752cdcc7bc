"""Learned thresholds: a score's spread over reference chunks of the window's size (NannyML)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Scorer = Callable[[npt.NDArray[Any]], float]
DEFAULT_K = 3.0
MIN_CHUNKS = 5
MAX_CHUNKS = 50
_CACHED_SIZES = 8


def chunk_threshold(row_errors: npt.NDArray[np.float64], size: int, k: float) -> float:
    """Mean + k sd of chunk means; with fewer than MIN_CHUNKS chunks, sd is sd_row / sqrt(size)."""
    errors = np.asarray(row_errors, dtype=np.float64)
    chunks = min(errors.size // max(size, 1), MAX_CHUNKS)
    if chunks >= MIN_CHUNKS:
        means = errors[: chunks * size].reshape(chunks, size).mean(axis=1)
        return float(means.mean() + k * means.std(ddof=1))
    return float(errors.mean() + k * errors.std(ddof=1) / np.sqrt(max(size, 1)))


class LearnedThreshold:
    """Scores reference chunks with the fitted method once per window size, and caches the cut."""

    def __init__(
        self, reference: npt.NDArray[Any], score: Scorer, k: float = DEFAULT_K, seed: int = 0
    ) -> None:
        """Shuffle once with a fixed seed, so chunks are random but the threshold reproducible."""
        self._reference = np.random.default_rng(seed).permutation(np.asarray(reference))
        self._score = score
        self._k = k
        self._cache: OrderedDict[int, float | None] = OrderedDict()
        self._lock = threading.Lock()

    def for_size(self, size: int) -> float | None:
        """mean + k sd of the chunk scores, or None when the reference has < MIN_CHUNKS chunks."""
        with self._lock:
            if size in self._cache:
                self._cache.move_to_end(size)
                return self._cache[size]
        value = self._compute(size)
        with self._lock:
            self._cache[size] = value
            while len(self._cache) > _CACHED_SIZES:
                self._cache.popitem(last=False)
        return value

    def _compute(self, size: int) -> float | None:
        chunks = min(self._reference.size // max(size, 1), MAX_CHUNKS)
        if chunks < MIN_CHUNKS:
            return None
        scores = np.array(
            [self._score(part) for part in np.split(self._reference[: chunks * size], chunks)]
        )
        return float(scores.mean() + self._k * scores.std(ddof=1))
