"""The RBF kernel, its median bandwidth, unbiased MMD^2 over many splits, its permutation test."""

from __future__ import annotations

import math

import numpy as np

from exporter.stats.base import FloatArray

__all__ = [
    "median_bandwidth",
    "mmd2_columns",
    "mmd_test",
    "permutation_test",
    "rbf_kernel",
    "squared_distances",
]


def squared_distances(x: FloatArray, y: FloatArray) -> FloatArray:
    """All squared Euclidean distances between rows of x and y, by one matrix product.

    Built in the product's own array: at 2,000 pooled rows each n x n temporary is 32 MB.
    """
    x_sq, y_sq = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)
    d2: FloatArray = x @ y.T
    d2 *= -2.0
    d2 += x_sq[:, None]
    d2 += y_sq[None, :]
    np.maximum(d2, 0.0, out=d2)
    return d2


def median_bandwidth(d2: FloatArray) -> float:
    """sigma with 2 sigma^2 = the median squared distance between distinct rows (alibi-detect's).

    d2 is the square matrix of squared distances; each pair appears twice off the diagonal, which
    leaves the median unchanged. Identical rows would give 0; 1.0 then keeps the kernel defined.
    """
    off_diagonal = d2[~np.eye(d2.shape[0], dtype=bool)]  # a copy, so the median may reorder it
    half = 0.5 * float(np.median(off_diagonal, overwrite_input=True)) if off_diagonal.size else 0.0
    return math.sqrt(half) if half > 0 else 1.0


def rbf_kernel(d2: FloatArray, sigma: float, overwrite: bool = False) -> FloatArray:
    """k(a, b) = exp(-|a - b|^2 / (2 sigma^2)) from the squared distances.

    overwrite=True turns d2 itself into the kernel, for a caller done with the distances.
    """
    kernel: FloatArray = d2 if overwrite else d2.copy()
    kernel *= -1.0 / (2.0 * sigma * sigma)
    np.exp(kernel, out=kernel)
    return kernel


def mmd2_columns(kernel: FloatArray, in_x: FloatArray) -> FloatArray:
    """Unbiased MMD^2 for each column of in_x, a 0/1 matrix marking which pooled rows are x.

    One matrix product scores every split at once, so 100 permutations cost one K @ Z.
    """
    m = in_x[:, 0].sum()
    n = in_x.shape[0] - m
    in_y = 1.0 - in_x
    row_sums = kernel.sum(axis=1)
    k_x = kernel @ in_x
    diagonal = np.diagonal(kernel)
    within_x = np.sum(in_x * k_x, axis=0) - diagonal @ in_x
    within_y = np.sum(in_y * (row_sums[:, None] - k_x), axis=0) - diagonal @ in_y
    between = np.sum(in_y * k_x, axis=0)
    mmd2: FloatArray = within_x / (m * (m - 1)) + within_y / (n * (n - 1)) - 2 * between / (m * n)
    return mmd2


def permutation_test(
    kernel: FloatArray, m: int, rng: np.random.Generator, batch: int, most: int
) -> tuple[float, float]:
    """MMD^2 of the first m pooled rows against the rest, and its permutation p-value.

    `batch` random splits come first; while none drawn so far reaches the observed statistic,
    as many more are drawn (at most 4 x batch at a time), up to `most` in all, so that a window
    at the floor 1/(1 + batch) can get a p-value down to 1/(1 + most) and pass a correction
    over many tests. p = (1 + exceedances) / (1 + splits drawn), or the floor 1/(1 + n) of the
    last stage n that had none if lower: refining never raises p, so at any threshold of
    1/(1 + batch) or more every decision is the first batch's.
    Valid (P(p <= t) <= t with no drift): p_n = (1 + exceedances among the first n splits) /
    (1 + n), n fixed, is a valid permutation p-value, and p <= t implies p_n <= t for n the
    first stage whose floor 1/(1 + n) is at most t: stopped earlier, on an exceedance, p is
    at least the floor of the stage before n, above t; stopped at n, p <= t needs p_n <= t;
    gone past n with none, p_n = 1/(1 + n) <= t.
    Only a first stage with no exceedance is refined: drifted windows and about 1 healthy
    window in 1 + batch, which mostly meets an exceedance within a stage or two.
    """
    split = np.zeros(kernel.shape[0])
    split[:m] = 1.0
    shuffled = rng.permuted(np.tile(split, (batch, 1)), axis=1)
    mmd2 = mmd2_columns(kernel, np.column_stack([split, shuffled.T]))
    observed, exceed, drawn = float(mmd2[0]), int(np.sum(mmd2[1:] >= mmd2[0])), batch
    floor = 1.0
    while exceed == 0 and drawn < most:  # batches double, to 4 x the first: a bounded peak
        floor, size = 1 / (1 + drawn), min(drawn, 4 * batch, most - drawn)
        shuffled = rng.permuted(np.tile(split, (size, 1)), axis=1)
        exceed += int(np.sum(mmd2_columns(kernel, shuffled.T) >= observed))
        drawn += size
    return observed, min(floor, (1 + exceed) / (1 + drawn))


def mmd_test(
    x: FloatArray, y: FloatArray, rng: np.random.Generator, batch: int, most: int
) -> tuple[float, float]:
    """MMD^2 of x against y and its permutation p-value, the bandwidth by the median heuristic.

    Taken over the pooled rows, which no permutation changes, the bandwidth keeps the
    permutation p-value exact; one fitted on the reference alone would not.
    """
    d2 = squared_distances(pooled := np.concatenate([x, y]), pooled)
    kernel = rbf_kernel(d2, median_bandwidth(d2), overwrite=True)
    return permutation_test(kernel, x.shape[0], rng, batch, most)
