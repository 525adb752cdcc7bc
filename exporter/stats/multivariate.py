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
# A row's error counts up to this quantile of the reference rows' errors (see `threshold`).
CAP_QUANTILE = 0.99
CAP_ROWS = 100
# A standardised value's bound: squared and summed over thousands of features, still finite.
Z_LIMIT = 1e150


def _standardised(x: Matrix, mean: Matrix, scale: Matrix) -> Matrix:
    """(x - mean) / scale, missing values at the mean (0), and at most Z_LIMIT sds out.

    Values near the float limit are finite and accepted, but their products and squares in
    a row's rebuild overflowed to inf - inf = NaN, which the error cap let through: one row
    of -1.79e308 made the score NaN, and a window of drifted rows read as not drifted.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        z: Matrix = np.clip(np.nan_to_num((x - mean) / scale, nan=0.0), -Z_LIMIT, Z_LIMIT)
    return z


def fold_labels(rows: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Each reference row's fold: a fixed-seed shuffle, FOLDS of them (fewer for < 10 rows)."""
    labels: npt.NDArray[np.int64] = np.random.default_rng(seed).permutation(rows) % min(
        FOLDS, max(rows // 2, 1)
    )
    return labels


def _errors(x: Matrix, mean: Matrix, scale: Matrix, axes: Matrix) -> Matrix:
    """Euclidean distance of each standardised row to its projection on `axes`, a block of
    rows at a time, so a 100k-row reference needs no full-size temporaries."""
    errors: Matrix = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], BLOCK_ROWS):
        z = _standardised(x[start : start + BLOCK_ROWS], mean, scale)
        rebuilt = (z @ axes.T) @ axes
        errors[start : start + BLOCK_ROWS] = np.sqrt(np.sum((z - rebuilt) ** 2, axis=1))
    return errors


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
    """Reference means and scales, per fold the components fitted without that fold's rows,
    the reference rows' own held-out errors, and the cap on a row's error."""

    mean: Matrix
    scale: Matrix
    components: Matrix  # folds x kept x features
    reference_errors: Matrix
    cap: float = math.inf

    @classmethod
    def fit(cls, reference: Matrix, variance: float = 0.65, seed: int = 0) -> PCAReconstruction:
        """Standardise, keep the components explaining `variance`, and score each reference
        row with components fitted without its fold.

        Rows the components were fitted on rebuild better than new rows do: with 12
        independent features their in-sample errors put the threshold below healthy windows'
        scores, and 85 % of them were flagged. Held out, they err as new rows would; and new
        rows are rebuilt by the same per-fold components (see `row_errors`), not by ones
        fitted on the whole reference, whose errors on heavy-tailed features differ from
        the held-out ones by more than the threshold allows (docs/statistics.md).
        """
        x = np.asarray(reference, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # inf: the feature counts as 0
            mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        scale = np.where(std > 0, std, 1.0)
        folds = fold_labels(x.shape[0], seed)
        scatters = _fold_scatters(x, mean, scale, folds)
        total = scatters.sum(axis=0)
        eigenvalues = _principal_axes(total)[0]
        explained = np.cumsum(eigenvalues) / max(float(np.sum(eigenvalues)), 1e-300)
        keep = int(np.searchsorted(explained, variance - 1e-12) + 1)
        rest = [total - s for s in scatters] if len(scatters) > 1 else [total]
        components = np.stack([_principal_axes(r)[1][:keep] for r in rest])
        errors = np.empty(x.shape[0])
        for fold, axes in enumerate(components):
            errors[folds == fold] = _errors(x[folds == fold], mean, scale, axes)
        # Below CAP_ROWS the 99th percentile is about the largest error: it would cap the
        # healthy rows' spread, not a heavy tail's, and leave a shift nowhere to show.
        cap = float(np.quantile(errors, CAP_QUANTILE)) if errors.size >= CAP_ROWS else math.inf
        return cls(mean, scale, components, errors, cap)

    def row_errors(self, rows: Matrix) -> Matrix:
        """Each row's distance to its projection (missing -> the mean), row i rebuilt by the
        components of fold i mod folds.

        A window row and a held-out reference row are then rebuilt alike, by components
        fitted without them, so healthy windows err exactly as the reference rows did. With
        the whole reference's components, heavy-tailed healthy windows (t 1.5 df, Pareto
        1.5, lognormal sigma 2, ...) crossed mean + 3 sd in 4-41 % of evaluations.
        """
        x = np.asarray(rows, dtype=np.float64)
        position = np.arange(x.shape[0]) % self.components.shape[0]
        errors: Matrix = np.empty(x.shape[0], dtype=np.float64)
        for fold, axes in enumerate(self.components):
            chosen = position == fold
            errors[chosen] = _errors(x[chosen], self.mean, self.scale, axes)
        return errors

    def score(self, rows: Matrix) -> float:
        """Mean reconstruction error of a window, each row's capped at `cap`."""
        return float(np.mean(np.minimum(self.row_errors(rows), self.cap)))

    def decide(self, rows: Matrix, k: float = 3.0) -> tuple[float, float]:
        """A window's score and threshold, both capped unless the capped threshold reaches
        the cap: with a few reference rows no score could then pass it (a x100 shift missed
        against 67 of 100 five-row references)."""
        errors = self.row_errors(rows)
        cap = self.cap if self.threshold(len(errors), k) < self.cap else math.inf
        return float(np.mean(np.minimum(errors, cap))), self.threshold(len(errors), k, cap)

    def threshold(self, window_size: int, k: float = 3.0, cap: float | None = None) -> float:
        """Mean + k standard errors of the difference between a window's mean capped error
        and the reference's: sd · √(1/n + 1/m), as both are means of independent rows.

        Capped at the reference's 99th percentile, the errors have a finite variance, which
        that standard error needs: uncapped, one huge row error in a window of heavy-tailed
        features moved its mean past the threshold in 0.5-2.5 % of healthy windows (4 of 40
        for one reference), and a few such errors drowned a shift of the bulk of the rows.
        """
        errors = np.minimum(self.reference_errors, self.cap if cap is None else cap)
        spread = float(errors.std(ddof=1)) if errors.size > 1 else 0.0
        n, m = max(window_size, 1), max(errors.size, 1)
        return float(errors.mean()) + k * spread * math.sqrt(1 / n + 1 / m)

    @property
    def kept(self) -> int:
        """How many principal components rebuild a row."""
        return int(self.components.shape[1])

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
