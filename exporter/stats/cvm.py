"""The two-sample Cramér-von Mises statistic from the two ECDFs, and its asymptotic p-value.

scipy's `cramervonmises_2samp` computes T from mid-ranks with a formula that holds only
without ties: on two samples of one Poisson(2) law it returned T = 78 (p = 3e-08) where the
ECDF definition gives 0.097, so nearly every healthy window of a count was flagged. The ECDF
form below is Anderson's (1962) definition and equals scipy's T when no value repeats.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from exporter.stats.base import FloatArray
from exporter.stats.lazy import scipy_special

# Terms of the limiting CDF's series are added until one is smaller than this (as scipy).
_SERIES_TOL = 1e-7


def ecdf_at_own_values(ordered: FloatArray) -> FloatArray:
    """F(x_i) for each value of a sorted sample: tied values share their group's top share."""
    return np.searchsorted(ordered, ordered, side="right") / float(ordered.size)


def cvm_statistic(ref: FloatArray, ref_cdf: FloatArray, win: FloatArray) -> float:
    """T = nm/(n+m)^2 · Σ over all n+m pooled values of (F_n − G_m)^2, each tie counted.

    ref is sorted and ref_cdf is ecdf_at_own_values(ref), kept from fit; win is sorted.
    """
    n, m = ref.size, win.size
    at_ref = ref_cdf - np.searchsorted(win, ref, side="right") / float(m)
    at_win = np.searchsorted(ref, win, side="right") / float(n) - ecdf_at_own_values(win)
    total = float(np.dot(at_ref, at_ref) + np.dot(at_win, at_win))
    return n * m / float(n + m) ** 2 * total


def limiting_cdf(x: float) -> float:
    """CDF of the one-sample CvM statistic's limit (Csörgő and Faraway 1996, eq. 1.2).

    The same series as scipy's `_cdf_cvm_inf`, which is private; built on scipy.special's
    public kv and gammaln, and pinned to scipy's p-values by the tests.
    """
    special = scipy_special()
    total: float = 0.0
    k = 0
    while True:
        y = 4 * k + 1
        q = y * y / (16.0 * x)
        u = math.exp(float(special.gammaln(k + 0.5) - special.gammaln(k + 1))) / (
            math.pi**1.5 * math.sqrt(x)
        )
        term: float = u * math.sqrt(y) * math.exp(-q) * float(special.kv(0.25, q))
        total += term
        if abs(term) < _SERIES_TOL:
            return total
        k += 1


def _bridge_variance(weights: FloatArray, heights: FloatArray) -> float:
    """Var of Σ w_j Z_j² for a Brownian bridge Z at pooled ECDF heights u_j: 2 Σ_ij w_i w_j c_ij².

    c_ij = u_i (1 − u_j) for i <= j, so the double sum runs in one pass of prefix sums.
    """
    low = weights * heights**2
    high = weights * (1.0 - heights) ** 2
    before = np.cumsum(low) - low
    return 2.0 * (float(np.dot(low, high)) + 2.0 * float(np.dot(before, high)))


@functools.lru_cache(maxsize=32)
def _untied_bridge_variance(size: int) -> float:
    """_bridge_variance when no value repeats, cached because pooled sizes rarely change."""
    steps = np.arange(1, size + 1, dtype=np.float64) / size
    return _bridge_variance(np.full(size, 1.0 / size), steps)


def null_moments(ref: FloatArray, win: FloatArray) -> tuple[float, float]:
    """E[T] and Var[T] when both sides come from one law, given the pooled sample's ties.

    Anderson's (1962, eqs. 11, 14) hold without ties. With them, E[T] = N/(N−1) Σ w_j u_j
    (1 − u_j) over the distinct values (tie share w_j, pooled ECDF u_j), exactly, and Var[T]
    is his times the ratio of the bridge variances of the tied and of an untied pattern.
    """
    n, m = ref.size, win.size
    big_n, k = n + m, n * m
    var = (big_n + 1) * (4 * k * big_n - 3 * (n * n + m * m) - 2 * k) / (45 * big_n**2 * 4 * k)
    _, counts = np.unique(np.concatenate([ref, win]), return_counts=True)
    if counts.size == big_n:  # no ties: Anderson's own, without the pass over N values
        return (1 + 1 / big_n) / 6, var
    weights = counts / float(big_n)
    heights = np.cumsum(counts) / float(big_n)
    ratio = _bridge_variance(weights, heights) / _untied_bridge_variance(big_n)
    mean = float(np.dot(weights, heights * (1.0 - heights))) * big_n / (big_n - 1)
    return mean, var * ratio


def cvm_p_value(t: float, ref: FloatArray, win: FloatArray) -> float:
    """P(T >= t): T standardised by null_moments, against the limiting law (eq. 15), as scipy.

    Without ties this is scipy's p. With Anderson's moments a feature 70 % zeros was flagged
    in 111 of 1,000 healthy windows at p < 0.05; with the ties' moments in 64.
    """
    mean, var = null_moments(ref, win)
    if var <= 0:
        return 1.0  # one value on both sides: T is 0 and cannot vary
    normalised = 1 / 6 + (t - mean) / math.sqrt(45 * var)
    if normalised < 0.003:  # the limiting CDF there is below 1.3e-18, as scipy returns
        return 1.0
    return min(1.0, max(0.0, 1.0 - limiting_cdf(normalised)))


def has_ties(ref: FloatArray, win: FloatArray) -> bool:
    """Whether a value repeats in the pooled sample."""
    pooled = np.sort(np.concatenate([ref, win]))
    return bool(np.any(pooled[1:] == pooled[:-1]))
