"""The RBF kernel, its median-heuristic bandwidth and unbiased MMD^2 over many splits at once."""

from __future__ import annotations

import math

import numpy as np

from exporter.stats.base import FloatArray

__all__ = ["median_bandwidth", "mmd2_columns", "rbf_kernel", "squared_distances"]


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
