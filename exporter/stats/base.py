"""The contract every drift method follows: fit once on the reference, score many windows."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from exporter.stats.kinds import FeatureType

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int64]

# Proportions are clipped (PSI) or smoothed (chi-square) by this much so that a bucket
# that is empty on one side yields a large but finite score instead of inf.
EPS = 1e-4


@dataclass(frozen=True)
class DriftResult:
    """One window's verdict, kept together so the exporter can publish all four numbers."""

    score: float
    p_value: float | None
    threshold: float
    drifted: bool


def present(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Drop missing values: NaN in float arrays, negative codes in integer arrays."""
    array = np.asarray(values)
    kept: npt.NDArray[Any] = array
    if array.dtype.kind == "f":
        kept = array[~np.isnan(array)]
    elif array.dtype.kind in "iu":
        kept = array[array >= 0]
    return kept


def count_distinct(values: npt.NDArray[Any], cap: int) -> int:
    """How many distinct values, counted up to cap: a column with more reports cap.

    Choosing a method only asks whether a column has more than a few distinct values; a
    continuous column answers from its first values instead of sorting 100k of them.
    """
    if np.unique(values[: 8 * cap]).size >= cap:
        return cap
    return min(int(np.unique(values).size), cap)


class DriftMethod(ABC):
    """A drift statistic that fits reference state once so each window is scored cheaply."""

    name: ClassVar[str]
    feature_types: ClassVar[frozenset[FeatureType]]
    is_test: ClassVar[bool]
    default_threshold: ClassVar[float]
    # Binned distances count missing values (NaN, or a negative code) in a bucket of their own;
    # every other method sees only the present values.
    handles_missing: ClassVar[bool] = False

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Validate settings up front so a bad config fails at startup, not at first score."""
        value = self.default_threshold if threshold is None else float(threshold)
        if not math.isfinite(value) or value < 0 or (self.is_test and value > 1):
            limit = "in [0, 1]" if self.is_test else ">= 0"
            raise ValueError(f"{self.name}: threshold must be {limit}, got {threshold!r}")
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"{self.name}: bins must be a positive integer, got {bins!r}")
        self._threshold = value
        self._bins = bins
        self._fitted = False

    def _fitted_copy(self, value: FloatArray, what: str) -> FloatArray:
        """A copy of something fit() computed; asking before fit() is the caller's bug."""
        if not self.is_fitted:
            raise RuntimeError(f"{self.name}: {what} requested before fit()")
        return value.copy()

    @property
    def threshold(self) -> float:
        """The cut-off in effect, so callers can publish it next to the score."""
        return self._threshold

    @property
    def bins(self) -> int:
        """The requested bin count (only binning methods use it)."""
        return self._bins

    @property
    def label(self) -> str:
        """The method name exported in the `method` label (wrappers report what they wrap)."""
        return self.name

    @property
    def tests(self) -> bool:
        """Whether drift is a p-value below the threshold (wrappers answer for what they wrap)."""
        return self.is_test

    @property
    def scores_missing(self) -> bool:
        """Whether missing values count in the score (binned distances), so in its sample size."""
        return self.handles_missing

    def usable(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The values this method scores: all of them for binned distances, else the present."""
        array = np.asarray(values)
        if self.handles_missing:
            return array
        return present(array)

    @property
    def is_fitted(self) -> bool:
        """Whether score() may be called yet."""
        return self._fitted

    def fit(self, reference: npt.NDArray[Any], n_categories: int | None = None) -> Self:
        """Compute the reference state once; n_categories matters only to categorical methods."""
        values = self.usable(reference)
        if np.size(values) == 0:
            raise ValueError(f"{self.name}: cannot fit on an empty reference")
        self._fit(values, n_categories)
        self._fitted = True
        return self

    def score(self, window: npt.NDArray[Any]) -> DriftResult:
        """Compare one window with the fitted reference and decide whether it drifted."""
        if not self._fitted:
            raise RuntimeError(f"{self.name}: score() called before fit()")
        values = self.usable(window)
        if np.size(values) == 0:
            raise ValueError(f"{self.name}: cannot score an empty window")
        score, p_value = self._score(values)
        return DriftResult(
            score=score,
            p_value=p_value,
            threshold=self._threshold,
            drifted=self._is_drift(score, p_value),
        )

    def _is_drift(self, score: float, p_value: float | None) -> bool:
        """Tests flag small p-values; distances flag large scores."""
        if self.is_test:
            return p_value is not None and p_value < self._threshold
        return score >= self._threshold

    def _as_float(self, values: npt.NDArray[Any], what: str) -> FloatArray:
        """Coerce to a finite 1-D float64 array so numeric methods share one contract."""
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError(f"{self.name}: {what} must be 1-D, got shape {array.shape}")
        bad = np.isinf(array) if self.handles_missing else ~np.isfinite(array)
        if bad.any():
            raise ValueError(f"{self.name}: {what} must be finite (strip missing values first)")
        return array

    def _as_codes(self, values: npt.NDArray[Any], what: str) -> CodeArray:
        """Coerce to non-negative 1-D int64 codes so categorical methods share one contract."""
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"{self.name}: {what} must be 1-D, got shape {array.shape}")
        if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{self.name}: {what} must be integer codes, got {array.dtype}")
        codes = array.astype(np.int64, copy=False)
        if codes.size and codes.min() < 0:
            if not self.handles_missing:
                raise ValueError(f"{self.name}: {what} codes must be >= 0")
            codes = np.where(codes < 0, -1, codes)
        return codes

    @abstractmethod
    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Store whatever reference state score() needs."""

    @abstractmethod
    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """Return (score, p_value or None) for a non-empty window."""
