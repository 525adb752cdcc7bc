"""Multivariate drift: PCA reconstruction error of standardised numeric features (NannyML)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]
METHOD = "pca_reconstruction"
# Errors are in standardised units, where a typical row's norm is about sqrt(features); a
# difference below this share of that scale is floating-point rounding, not a change.
NOISE_RELATIVE = 1e-9


BLOCK_ROWS = 8192
FOLDS = 5  # reference rows are scored by components fitted on the other four fifths


def _standardised(x: Matrix, mean: Matrix, scale: Matrix) -> Matrix:
    """(x - mean) / scale, missing values at the mean (0)."""
    z: Matrix = np.nan_to_num((x - mean) / scale, nan=0.0)
    return z


def _fold_scatters(x: Matrix, mean: Matrix, scale: Matrix, folds: np.ndarray) -> Matrix:
    """Per fold, the scatter matrix of its standardised rows: features x features each,
    summed over blocks of rows, so a 100k x 200 reference needs no copy of itself."""
    count = int(folds.max()) + 1
    scatters = np.zeros((count, x.shape[1], x.shape[1]))
    for start in range(0, x.shape[0], BLOCK_ROWS):
        z = _standardised(x[start : start + BLOCK_ROWS], mean, scale)
        block = folds[start : start + BLOCK_ROWS]
        for fold in range(count):
            part = z[block == fold]
            scatters[fold] += part.T @ part
    return scatters


def _principal_axes(scatter: Matrix) -> tuple[Matrix, Matrix]:
    """Eigenvalues (descending) and axes (rows) of a scatter matrix: the same axes and squared
    singular values as an SVD of the standardised rows, at a fraction of its time."""
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
        """Standardise, keep the components explaining `variance`, and score each reference
        row with components fitted without its fold.

        Rows the components were fitted on rebuild better than new rows do: with 12
        independent features their in-sample errors put the threshold below healthy windows'
        scores, and 85 % of them were flagged. Held out, they err as new rows would.
        """
        x = np.asarray(reference, dtype=np.float64)
        mean = np.nanmean(x, axis=0)
        std = np.nanstd(x, axis=0)
        scale = np.where(std > 0, std, 1.0)
        rng = np.random.default_rng(seed)
        folds = rng.permutation(x.shape[0]) % min(FOLDS, max(x.shape[0] // 2, 1))
        scatters = _fold_scatters(x, mean, scale, folds)
        total = scatters.sum(axis=0)
        eigenvalues, vectors = _principal_axes(total)
        explained = np.cumsum(eigenvalues) / max(float(np.sum(eigenvalues)), 1e-300)
        keep = int(np.searchsorted(explained, variance - 1e-12) + 1)
        errors = np.empty(x.shape[0])
        for fold, scatter in enumerate(scatters):
            rest = total - scatter if len(scatters) > 1 else total
            held = cls(mean, scale, _principal_axes(rest)[1][:keep], np.empty(0))
            errors[folds == fold] = held.row_errors(x[folds == fold])
        return cls(mean, scale, vectors[:keep], errors)

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
        """Mean + k standard errors of the difference between a window's mean error and the
        reference's: sd · √(1/n + 1/m), as both are means of independent rows."""
        errors = self.reference_errors
        spread = float(errors.std(ddof=1)) if errors.size > 1 else 0.0
        n, m = max(window_size, 1), max(errors.size, 1)
        return float(errors.mean()) + k * spread * math.sqrt(1 / n + 1 / m)

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
