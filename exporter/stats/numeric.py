"""Numeric drift: binned distances over bins fixed at fit, and the two-sample KS test."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from exporter.stats.base import DriftMethod, FloatArray
from exporter.stats.distances import BinnedDistance
from exporter.stats.kinds import FeatureType
from exporter.stats.lazy import scipy_stats

__all__ = ["KolmogorovSmirnov", "NumericBinned", "bin_proportions", "quantile_edges"]

# scipy's ks_2samp computes exact p-values up to this many values per side, asymptotic above.
KS_EXACT_MAX = 10_000


def quantile_edges(reference: FloatArray, bins: int) -> FloatArray:
    """Fix bin boundaries from reference quantiles so each inner bin starts near 1/bins full.

    Returned as ascending lower bounds: a value x lands in bin
    ``np.searchsorted(edges, x, side="right")``. Bin 0 is the underflow (x < reference min),
    bin ``len(edges)`` the overflow (x > reference max): the last edge is the smallest
    float above the reference max, so the max itself stays in the top inner bin.
    """
    low, high = float(reference.min()), float(reference.max())
    interior = np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    lower_bounds = np.unique(np.concatenate(([low], interior)))
    overflow = np.nextafter(high, np.inf)
    return np.append(lower_bounds, overflow).astype(np.float64)


def bin_proportions(values: FloatArray, edges: FloatArray) -> FloatArray:
    """Shares over underflow, inner bins, overflow and (last) the missing bucket for NaN."""
    index = np.searchsorted(edges, values, side="right")
    index[np.isnan(values)] = edges.size + 1
    counts = np.bincount(index, minlength=edges.size + 2)
    return (counts / values.size).astype(np.float64)


class NumericBinned(BinnedDistance):
    """A binned distance over reference-quantile bins plus a missing bucket; one per formula."""

    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; edges and reference proportions come from fit()."""
        super().__init__(threshold, bins)
        self._edges: FloatArray = np.empty(0, dtype=np.float64)
        self._ref_prop = np.empty(0, dtype=np.float64)

    @property
    def edges(self) -> FloatArray:
        """Fitted lower bin bounds (see quantile_edges), exposed so the score can be audited."""
        return self._fitted_copy(self._edges, "edges")

    @property
    def reference_proportions(self) -> FloatArray:
        """Reference share per bucket: underflow, inner bins, overflow, missing."""
        return self._fitted_copy(self._ref_prop, "reference_proportions")

    def window_proportions(self, window: npt.NDArray[Any]) -> FloatArray:
        """A window's shares over the fitted buckets."""
        return bin_proportions(self._as_float(window, "window"), self._edges)

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Freeze the bins so every window is measured against the same grid."""
        values = self._as_float(reference, "reference")
        present = values[~np.isnan(values)]
        if present.size == 0:
            raise ValueError(f"{self.name}: reference has no present values")
        self._edges = quantile_edges(present, self.bins)
        self._ref_prop = bin_proportions(values, self._edges)


class KolmogorovSmirnov(DriftMethod):
    """Two-sample KS test: sensitive to any change in the distribution's shape or location."""

    name: ClassVar[str] = "ks"
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})
    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; the sorted reference and its own CDF come from fit()."""
        super().__init__(threshold, bins)
        self._sorted_reference: FloatArray = np.empty(0, dtype=np.float64)
        self._reference_cdf: FloatArray = np.empty(0, dtype=np.float64)

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Sort once and keep F_ref at the reference points, the half scoring never changes."""
        ordered = np.sort(self._as_float(reference, "reference"))
        self._sorted_reference = ordered
        self._reference_cdf = np.searchsorted(ordered, ordered, side="right") / ordered.size

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """Same statistic and p-value as scipy's ks_2samp (method='auto'), without a re-sort."""
        ref, win = self._sorted_reference, np.sort(self._as_float(window, "window"))
        n1, n2 = ref.size, win.size
        if max(n1, n2) <= KS_EXACT_MAX:
            result = scipy_stats().ks_2samp(ref, win)
            return float(result.statistic), float(result.pvalue)
        cdf1 = np.concatenate([self._reference_cdf, np.searchsorted(ref, win, side="right") / n1])
        cdf2 = np.concatenate(
            [
                np.searchsorted(win, ref, side="right") / n2,
                np.searchsorted(win, win, side="right") / n2,
            ]
        )
        diffs = cdf1 - cdf2
        low, high = float(np.clip(-diffs.min(), 0, 1)), float(diffs.max())
        d = low if low > high else high
        m, n = sorted([float(n1), float(n2)], reverse=True)
        p = float(np.clip(scipy_stats().kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
        return d, p
