"""Drift methods for numeric features: binned PSI and the two-sample KS test."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

from exporter.config.model import FeatureType
from exporter.stats.base import EPS, DriftMethod, FloatArray


def psi_from_proportions(
    ref_prop: npt.NDArray[np.float64],
    win_prop: npt.NDArray[np.float64],
    eps: float = EPS,
) -> float:
    """One PSI formula for every variant so numeric and categorical scores are comparable.

    Proportions are clipped below at eps (no renormalisation) so an empty bucket on either
    side contributes a large but finite term instead of inf.
    """
    ref = np.clip(np.asarray(ref_prop, dtype=np.float64), eps, None)
    win = np.clip(np.asarray(win_prop, dtype=np.float64), eps, None)
    if ref.shape != win.shape:
        raise ValueError(f"psi: proportion shapes differ: {ref.shape} vs {win.shape}")
    return float(np.sum((win - ref) * np.log(win / ref)))


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
    """Share of values in each bin defined by quantile_edges (underflow and overflow included)."""
    index = np.searchsorted(edges, values, side="right")
    counts = np.bincount(index, minlength=edges.size + 1)
    return (counts / values.size).astype(np.float64)


class NumericPSI(DriftMethod):
    """Population Stability Index over reference-quantile bins: a sample-size-stable distance."""

    name: ClassVar[str] = "psi"
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})
    is_test: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; edges and reference proportions come from fit()."""
        super().__init__(threshold, bins)
        self._edges: FloatArray = np.empty(0, dtype=np.float64)
        self._ref_prop: FloatArray = np.empty(0, dtype=np.float64)

    @property
    def edges(self) -> FloatArray:
        """Fitted lower bin bounds (see quantile_edges), exposed so the score can be audited."""
        if not self.is_fitted:
            raise RuntimeError(f"{self.name}: edges requested before fit()")
        return self._edges.copy()

    @property
    def reference_proportions(self) -> FloatArray:
        """Reference share per bin, underflow first and overflow last."""
        if not self.is_fitted:
            raise RuntimeError(
                f"{self.name}: reference_proportions requested before fit()"
            )
        return self._ref_prop.copy()

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Freeze the bins so every window is measured against the same grid."""
        values = self._as_float(reference, "reference")
        self._edges = quantile_edges(values, self.bins)
        self._ref_prop = bin_proportions(values, self._edges)

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """PSI of the window's bin shares against the reference's; no p-value."""
        win_prop = bin_proportions(self._as_float(window, "window"), self._edges)
        return psi_from_proportions(self._ref_prop, win_prop, EPS), None


class KolmogorovSmirnov(DriftMethod):
    """Two-sample KS test: sensitive to any change in the distribution's shape or location."""

    name: ClassVar[str] = "ks"
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})
    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; the sorted reference comes from fit()."""
        super().__init__(threshold, bins)
        self._sorted_reference: FloatArray = np.empty(0, dtype=np.float64)

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Keep a sorted copy; sorting already-sorted data inside scipy is cheap."""
        self._sorted_reference = np.sort(self._as_float(reference, "reference"))

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """Delegate to scipy so statistic and p-value match ks_2samp exactly (method='auto')."""
        result = stats.ks_2samp(
            self._sorted_reference, self._as_float(window, "window")
        )
        return float(result.statistic), float(result.pvalue)
