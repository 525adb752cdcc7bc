"""Categorical drift over reference categories, one `__other__` bucket and a missing bucket."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from exporter.stats.base import EPS, CodeArray, DriftMethod, FloatArray
from exporter.stats.distances import BinnedDistance
from exporter.stats.kinds import FeatureType
from exporter.stats.lazy import scipy_stats


class _CategoricalMethod(DriftMethod):
    """k reference categories; codes >= k pool in `__other__`; binned ones add a missing bucket."""

    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.CATEGORICAL})

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; k and the reference shares come from fit()."""
        super().__init__(threshold, bins)
        self._n_categories = 0
        self._ref_prop: FloatArray = np.empty(0, dtype=np.float64)

    @property
    def n_categories(self) -> int:
        """Number of reference categories k (the other and missing buckets are extra)."""
        return self._n_categories

    @property
    def reference_proportions(self) -> FloatArray:
        """Reference share per category, then `__other__` (always 0), then missing if binned."""
        return self._fitted_copy(self._ref_prop, "reference_proportions")

    def window_proportions(self, window: npt.NDArray[Any]) -> FloatArray:
        """A window's shares over the same buckets."""
        return self._proportions(self._as_codes(window, "window"))

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Count reference categories once; codes must lie in [0, k)."""
        codes = self._as_codes(reference, "reference")
        seen = int(codes.max()) + 1
        k = seen if n_categories is None else int(n_categories)
        if k < seen:
            raise ValueError(f"{self.name}: reference has code {seen - 1} but n_categories is {k}")
        if seen == 0:
            raise ValueError(f"{self.name}: reference has no present values")
        self._n_categories = k
        self._ref_prop = self._proportions(codes)

    def _counts(self, codes: CodeArray) -> npt.NDArray[np.int64]:
        """Counts per reference category, `__other__`, and (binned methods) missing."""
        k = self._n_categories
        pooled = np.minimum(codes, k)
        if self.handles_missing:
            pooled = np.where(codes < 0, k + 1, pooled)
        size = k + 2 if self.handles_missing else k + 1
        return np.bincount(pooled, minlength=size).astype(np.int64)

    def _proportions(self, codes: CodeArray) -> FloatArray:
        """Shares per bucket, as _counts but normalised."""
        return (self._counts(codes) / codes.size).astype(np.float64)


class CategoricalBinned(_CategoricalMethod, BinnedDistance):
    """A binned distance over category shares; missing values count in their own bucket."""


def smoothed_proportions(proportions: FloatArray, eps: float = EPS) -> FloatArray:
    """Add eps to every bucket and renormalise so no expected count is zero."""
    smoothed: FloatArray = np.asarray(proportions, dtype=np.float64) + eps
    return smoothed / float(smoothed.sum())


class _GoodnessOfFit(_CategoricalMethod):
    """Window counts against smoothed reference shares over k + 1 buckets (k dof)."""

    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05
    lambda_: ClassVar[str] = "pearson"

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Start unfitted; the smoothed expected shares come from fit()."""
        super().__init__(threshold, bins)
        self._expected_prop: FloatArray = np.empty(0, dtype=np.float64)

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Smooth the reference shares once, so expected counts are a single multiply."""
        super()._fit(reference, n_categories)
        self._expected_prop = smoothed_proportions(self._ref_prop, EPS)

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """scipy's power divergence of window counts from the smoothed reference's expectation.

        Smoothing at fit keeps every expected count above zero, where scipy's statistic would
        be infinite. Every bucket, the empty `__other__` included, is one observation, so the
        degrees of freedom are k: ddof stays 0.
        """
        observed = self._counts(self._as_codes(window, "window")).astype(np.float64)
        expected = self._expected_prop * observed.sum()
        result = scipy_stats().power_divergence(observed, expected, lambda_=self.lambda_)
        return float(result.statistic), float(result.pvalue)


class ChiSquare(_GoodnessOfFit):
    """Pearson chi-square goodness of fit of window counts against reference shares."""

    name: ClassVar[str] = "chisquare"


class GTest(_GoodnessOfFit):
    """Likelihood-ratio (G) goodness of fit: G = 2 sum O ln(O / E), chi-square with k dof."""

    name: ClassVar[str] = "g_test"
    lambda_: ClassVar[str] = "log-likelihood"


MIN_CELL = 5  # categories seen fewer times in reference and window together share a column


class Chi2Homogeneity(_CategoricalMethod):
    """Pearson's chi-square test of homogeneity of reference and window counts (NannyML's chi2).

    Both sides are samples, so the test weighs both sizes; a goodness of fit (`chisquare`)
    takes the reference's shares as exact, which at reference = window = 300 rows flagged
    30 % of healthy windows at alpha 0.05 (docs/statistics.md). See _score for the columns.
    """

    name: ClassVar[str] = "chi2"
    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        super()._fit(reference, n_categories)
        self._ref_counts = self._counts(self._as_codes(reference, "reference"))

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """scipy's chi2_contingency of the 2 x categories table, with its default Yates
        correction; categories seen fewer than MIN_CELL times in both samples together share
        one column (Cochran's rule).

        A window category the reference lacks is a column of its own (codes from k on, see
        evaluate.features.reference_codes), not one `__other__` column whose reference count
        is 0 by construction: that column flagged 57 % of healthy windows of a 200-category
        feature (800-row reference) and all of them with a 300-row reference. Pooling by
        the combined count keeps the test valid: under homogeneity it is the column totals
        the test conditions on.
        """
        codes = self._as_codes(window, "window")
        k = self._n_categories
        counts = self._counts(codes)
        unseen = np.bincount(codes[codes >= k] - k) if (codes >= k).any() else np.zeros(0)
        reference = np.concatenate([np.delete(self._ref_counts, k), np.zeros(unseen.size)])
        observed = np.concatenate([np.delete(counts, k), unseen])
        table = np.stack([reference, observed])
        combined = table.sum(axis=0)
        rare = (combined > 0) & (combined < MIN_CELL)
        table = np.column_stack([table[:, combined >= MIN_CELL], table[:, rare].sum(axis=1)])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return 0.0, 1.0  # one category on both sides: nothing to compare
        result = scipy_stats().chi2_contingency(table)
        return float(result.statistic), float(result.pvalue)


class ZTest(_CategoricalMethod):
    """Two-proportion z-test on the share of the first category, for binary features."""

    name: ClassVar[str] = "z"
    is_test: ClassVar[bool] = True
    default_threshold: ClassVar[float] = 0.05

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        super()._fit(reference, n_categories)
        if self.n_categories > 2:
            raise ValueError(
                f"{self.name}: applies to binary features only, the reference "
                f"has {self.n_categories} categories"
            )
        self._ref_n = reference.size
        self._ref_share = float(self._ref_prop[0])

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """|z| with the pooled standard error; p = 2 * (1 - Phi(|z|))."""
        codes = self._as_codes(window, "window")
        n1, n2 = self._ref_n, codes.size
        p1, p2 = self._ref_share, float(np.mean(codes == 0))
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        se = float(np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)))
        if se == 0.0:
            return 0.0, 1.0
        z = abs(p1 - p2) / se
        return z, float(2.0 * scipy_stats().norm.sf(z))
