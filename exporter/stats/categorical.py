"""Drift methods for categorical features, over reference categories plus one unseen bucket."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]

from exporter.config.model import FeatureType
from exporter.stats.base import EPS, CodeArray, DriftMethod, FloatArray
from exporter.stats.numeric import psi_from_proportions


class _CategoricalMethod(DriftMethod):
    """Shared bookkeeping: k reference categories, codes >= k pooled as one unseen bucket."""

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; k and the reference shares come from fit()."""
        super().__init__(threshold, bins)
        self._n_categories = 0
        self._ref_prop: FloatArray = np.empty(0, dtype=np.float64)

    @property
    def n_categories(self) -> int:
        """Number of reference categories k (the unseen bucket is extra)."""
        return self._n_categories

    @property
    def reference_proportions(self) -> FloatArray:
        """Reference share per category, with the unseen bucket (always 0) last."""
        if not self.is_fitted:
            raise RuntimeError(
                f"{self.name}: reference_proportions requested before fit()"
            )
        return self._ref_prop.copy()

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Count reference categories once; codes must lie in [0, k)."""
        codes = self._as_codes(reference, "reference")
        seen = int(codes.max()) + 1
        k = seen if n_categories is None else int(n_categories)
        if k < seen:
            raise ValueError(
                f"{self.name}: reference has code {seen - 1} but n_categories is {k}"
            )
        self._n_categories = k
        self._ref_prop = self._proportions(codes)

    def _counts(self, codes: CodeArray) -> npt.NDArray[np.int64]:
        """Counts per reference category plus one pooled bucket for codes >= k."""
        pooled = np.minimum(codes, self._n_categories)
        return np.bincount(pooled, minlength=self._n_categories + 1).astype(np.int64)

    def _proportions(self, codes: CodeArray) -> FloatArray:
        """Shares per bucket, as _counts but normalised."""
        return (self._counts(codes) / codes.size).astype(np.float64)


class CategoricalPSI(_CategoricalMethod):
    """Population Stability Index over category shares: the same scale as numeric PSI."""

    name: ClassVar[str] = "psi"
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset(
        {FeatureType.CATEGORICAL}
    )
    is_test: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """PSI of window shares against reference shares; unseen share is clipped at eps."""
        win_prop = self._proportions(self._as_codes(window, "window"))
        return psi_from_proportions(self._ref_prop, win_prop, EPS), None


def smoothed_proportions(proportions: FloatArray, eps: float = EPS) -> FloatArray:
    """Add eps to every bucket and renormalise so no expected count is zero.

    Without it a category absent from the reference (always the unseen bucket) has an
    expected count of 0 and any window observation makes the statistic infinite.
    """
    smoothed: FloatArray = np.asarray(proportions, dtype=np.float64) + eps
    total = float(smoothed.sum())
    return smoothed / total


class ChiSquare(_CategoricalMethod):
    """Pearson chi-square goodness of fit of window counts against reference shares."""

    name: ClassVar[str] = "chisquare"
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset(
        {FeatureType.CATEGORICAL}
    )
    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; the smoothed expected shares come from fit()."""
        super().__init__(threshold, bins)
        self._expected_prop: FloatArray = np.empty(0, dtype=np.float64)

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Smooth the reference shares once, so expected counts are a single multiply."""
        super()._fit(reference, n_categories)
        self._expected_prop = smoothed_proportions(self._ref_prop, EPS)

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """Statistic over k + 1 buckets with k degrees of freedom; p-value from chi2.sf."""
        observed = self._counts(self._as_codes(window, "window")).astype(np.float64)
        expected = self._expected_prop * observed.sum()
        statistic = float(np.sum((observed - expected) ** 2 / expected))
        dof = observed.size - 1
        return statistic, float(stats.chi2.sf(statistic, dof))
