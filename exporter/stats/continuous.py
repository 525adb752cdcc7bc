"""Numeric drift on the raw values: Wasserstein, Cramér-von Mises, Anderson-Darling, energy."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from exporter.stats.anderson import anderson_2samp
from exporter.stats.base import DriftMethod, FloatArray
from exporter.stats.cvm import cvm_p_value, cvm_statistic, ecdf_at_own_values, has_ties
from exporter.stats.kinds import FeatureType
from exporter.stats.lazy import scipy_stats

IndexArray = npt.NDArray[np.int64]
# scipy enumerates the exact CvM distribution when neither side has more values than this.
_EXACT_UP_TO = 20


@functools.lru_cache(maxsize=32)
def _quantile_grid(n: int, m: int) -> tuple[FloatArray, IndexArray, IndexArray]:
    """Steps of the two quantile functions on one grid, cached because (n, m) rarely change."""
    points = np.union1d(np.arange(n, dtype=np.int64) * m, np.arange(m, dtype=np.int64) * n)
    widths = (np.append(points[1:], n * m) - points) / float(n * m)
    left, right = points // m, points // n
    for array in (widths, left, right):
        array.flags.writeable = False
    return widths, left, right


def wasserstein_sorted(ref: FloatArray, win: FloatArray) -> float:
    """W1 = integral over u of |Q_ref(u) - Q_win(u)|, for two sorted samples, with no merge sort."""
    widths, left, right = _quantile_grid(ref.size, win.size)
    return float(np.dot(widths, np.abs(ref[left] - win[right])))


class _RawNumeric(DriftMethod):
    """Shared state: the sorted present reference."""

    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; the sorted reference comes from fit()."""
        super().__init__(threshold, bins)
        self._ref: FloatArray = np.empty(0, dtype=np.float64)

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        self._ref = np.sort(self._as_float(reference, "reference"))


class Wasserstein(_RawNumeric):
    """Earth mover's distance divided by the reference standard deviation: shift in sd units."""

    name: ClassVar[str] = "wasserstein"
    is_test: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        super()._fit(reference, n_categories)
        std = float(np.std(self._ref))
        self._scale = std if std > 0 else 1.0
        low, high = float(self._ref[0]), float(self._ref[-1])
        margin = high - low if high > low else self._scale
        self._bounds = (low - margin, high + margin)

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """Window values further outside the reference's range than the range is wide count
        as that far: one corrupt value (an amount of -1.8e308) otherwise flagged the feature,
        as it moves W1 by |value| / rows. Out-of-range values are data quality's to report
        (mlmon_feature_out_of_range_ratio); a shift, even past the range, is still flagged.
        """
        win = np.sort(np.clip(self._as_float(window, "window"), *self._bounds))
        return wasserstein_sorted(self._ref, win) / self._scale, None


class CramerVonMises(_RawNumeric):
    """Two-sample Cramér-von Mises test: weighs the whole CDF, not just its largest gap."""

    name: ClassVar[str] = "cramervonmises"
    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        super()._fit(reference, n_categories)
        self._ref_cdf = ecdf_at_own_values(self._ref)

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """T from the two ECDFs, right with ties; p asymptotic (scipy's exact if small, untied)."""
        win = np.sort(self._as_float(window, "window"))
        if self._ref.size < 2 or win.size < 2:
            raise ValueError(f"{self.name}: needs at least two values on each side")
        if max(self._ref.size, win.size) <= _EXACT_UP_TO and not has_ties(self._ref, win):
            result = scipy_stats().cramervonmises_2samp(self._ref, win, method="exact")
            return float(result.statistic), float(result.pvalue)
        t = cvm_statistic(self._ref, self._ref_cdf, win)
        return t, cvm_p_value(t, self._ref, win)


class AndersonDarling(_RawNumeric):
    """k-sample Anderson-Darling test: like CvM with more weight on the tails."""

    name: ClassVar[str] = "anderson"
    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """scipy's A²akN standardised for the ties (stats/anderson.py); p in [0.001, 0.25]."""
        win = self._as_float(window, "window")
        if np.unique(np.concatenate([self._ref[:1], self._ref[-1:], win])).size < 2:
            return 0.0, 1.0  # every value equal: scipy refuses, and nothing has drifted
        return anderson_2samp(self._ref, win)


class Energy(_RawNumeric):
    """Energy distance between the two samples (scipy.stats.energy_distance)."""

    name: ClassVar[str] = "energy"
    is_test: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        return float(
            scipy_stats().energy_distance(self._ref, self._as_float(window, "window"))
        ), None
