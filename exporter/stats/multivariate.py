"""Multivariate drift: PCA reconstruction error of standardised numeric features (NannyML)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from exporter.stats.thresholds import chunk_threshold

Matrix = npt.NDArray[np.float64]
METHOD = "pca_reconstruction"
# Errors are in standardised units, where a typical row's norm is about sqrt(features); a
# difference below this share of that scale is floating-point rounding, not a change.
NOISE_RELATIVE = 1e-9


BLOCK_ROWS = 8192


def _standardised(x: Matrix, mean: Matrix, scale: Matrix) -> Matrix:
    """(x - mean) / scale, missing values at the mean (0)."""
    z: Matrix = np.nan_to_num((x - mean) / scale, nan=0.0)
    return z


def _principal_axes(x: Matrix, mean: Matrix, scale: Matrix) -> tuple[Matrix, Matrix]:
    """Eigenvalues (descending) and axes (rows) of the standardised rows' scatter matrix.

    The same axes and squared singular values as an SVD of the standardised rows, from a
    features x features matrix summed over blocks of rows: for a 100k x 200 reference that is
    a fraction of the SVD's time and no copy of the reference.
    """
    scatter = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, x.shape[0], BLOCK_ROWS):
        z = _standardised(x[start : start + BLOCK_ROWS], mean, scale)
        scatter += z.T @ z
    eigenvalues, vectors = np.linalg.eigh(scatter)
    return np.clip(eigenvalues[::-1], 0.0, None), vectors[:, ::-1].T.copy()


@dataclass(frozen=True)
class PCAReconstruction:
    """Reference means, scales and components, and the reference rows' own errors."""

    mean: Matrix
    scale: Matrix
    components: Matrix
    reference_errors: Matrix

    @classmethod
    def fit(cls, reference: Matrix, variance: float = 0.65, seed: int = 0) -> PCAReconstruction:
        """Standardise, keep the components explaining `variance`, score the reference rows."""
        x = np.asarray(reference, dtype=np.float64)
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        scale = np.where(std > 0, std, 1.0)
        eigenvalues, vectors = _principal_axes(x, mean, scale)
        explained = np.cumsum(eigenvalues) / max(float(np.sum(eigenvalues)), 1e-300)
        keep = int(np.searchsorted(explained, variance - 1e-12) + 1)
        model = cls(mean, scale, vectors[:keep], np.empty(0))
        errors = model.row_errors(x)
        shuffled = np.random.default_rng(seed).permutation(errors)
        return cls(mean, scale, vectors[:keep], shuffled)

    def row_errors(self, rows: Matrix) -> Matrix:
        """Euclidean distance of each standardised row to its projection (missing -> the mean).

        A block of rows at a time, so a 100k-row reference needs no full-size temporaries.
        """
        x = np.asarray(rows, dtype=np.float64)
        errors: Matrix = np.empty(x.shape[0], dtype=np.float64)
        for start in range(0, x.shape[0], BLOCK_ROWS):
            z = _standardised(x[start : start + BLOCK_ROWS], self.mean, self.scale)
            rebuilt = (z @ self.components.T) @ self.components
            errors[start : start + BLOCK_ROWS] = np.sqrt(np.sum((z - rebuilt) ** 2, axis=1))
        return errors

    def score(self, rows: Matrix) -> float:
        """Mean reconstruction error of a window."""
        return float(np.mean(self.row_errors(rows)))

    def threshold(self, window_size: int, k: float = 3.0) -> float:
        """Mean + k sd of the score over reference chunks of the window's size."""
        return chunk_threshold(self.reference_errors, window_size, k)

    @property
    def kept(self) -> int:
        """How many principal components rebuild a row."""
        return int(self.components.shape[0])

    @property
    def applicable(self) -> bool:
        """Whether a row can be rebuilt imperfectly: with every component kept it never can."""
        return self.kept < int(self.mean.size)

    @property
    def noise_floor(self) -> float:
        """How far past the threshold a score must be to be more than rounding error."""
        return NOISE_RELATIVE * math.sqrt(max(int(self.mean.size), 1))

    def drifted(self, score: float, threshold: float) -> bool:
        """Past the threshold by more than rounding, so noise-level scores never detect."""
        return score > threshold + self.noise_floor
