"""Embedding drift: MMD, a domain classifier and projected KS, each on bounded row subsamples.

An embedding feature is a fixed-dimension vector per record, so every method takes a 2-D float
array (rows x dimension). A fitted method keeps a seeded random subsample of the reference;
mmd and domain_classifier score bounded subsamples, pca_ks projects the whole window. Memory
held per feature is fixed by the settings (docs/statistics.md, "Embedding drift").
"""

from __future__ import annotations

import zlib
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from exporter.stats.base import DriftMethod, FloatArray
from exporter.stats.kernel import mmd_test
from exporter.stats.kinds import FeatureType
from exporter.stats.lazy import scipy_stats

__all__ = [
    "EMBEDDING_METHODS",
    "DomainClassifier",
    "EmbeddingMethod",
    "MaximumMeanDiscrepancy",
    "ProjectedKS",
    "make_embedding_method",
]

# Fewer rows than this on either side make every method's answer noise (the classifier's
# held-out half would hold a handful of rows), so fit() and score() refuse them.
MIN_ROWS = 10


def _positive_int(value: object, what: str, name: str, least: int = 1) -> int:
    """A setting that must be an integer of at least `least`, refused at construction."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name}: {what} must be an integer >= {least}, got {value!r}")
    return value


def _subsample(rows: FloatArray, limit: int, rng: np.random.Generator) -> FloatArray:
    """At most `limit` rows drawn without replacement, in their original order."""
    if rows.shape[0] <= limit:
        return rows
    keep = np.sort(rng.choice(rows.shape[0], size=limit, replace=False))
    return rows[keep]


class EmbeddingMethod(DriftMethod):
    """Shared row handling: 2-D input, rows with any NaN dropped, a bounded reference sample."""

    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.EMBEDDING})
    is_test = True
    default_threshold = 0.05
    default_reference_rows: ClassVar[int]
    # Reference rows kept per row a score compares (`sample_rows` sets both): mmd keeps 4.
    kept_per_sample_row: ClassVar[int] = 1

    def __init__(
        self,
        threshold: float | None = None,
        bins: int = 10,
        *,
        reference_rows: int | None = None,
        seed: int = 0,
    ) -> None:
        """Validate the sample size and seed up front, as the base does the threshold."""
        super().__init__(threshold, bins)
        rows = self.default_reference_rows if reference_rows is None else reference_rows
        self._reference_rows = _positive_int(rows, "reference_rows", self.name, MIN_ROWS)
        self._seed = _positive_int(seed, "seed", self.name, 0)
        self._dimension = 0

    @property
    def dimension(self) -> int:
        """The embedding dimension learned at fit; windows must match it."""
        return self._dimension

    def usable(self, values: npt.NDArray[Any]) -> FloatArray:
        """Rows as float64, those with a missing or infinite component dropped."""
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 2:
            raise ValueError(f"{self.name}: embeddings must be 2-D (rows x dim), got {array.shape}")
        kept: FloatArray = array[np.isfinite(array).all(axis=1)]
        return kept

    def _enough(self, rows: FloatArray, what: str) -> None:
        """Refuse too few rows with the count, so a short window says why it was skipped."""
        if rows.shape[0] < MIN_ROWS:
            raise ValueError(f"{self.name}: {what} has {rows.shape[0]} rows, needs {MIN_ROWS}")

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        """Keep a seeded subsample of at most reference_rows rows and let the method fit it."""
        self._enough(reference, "reference")
        self._dimension = int(reference.shape[1])
        rng = np.random.default_rng(self._seed)
        self._fit_rows(np.ascontiguousarray(_subsample(reference, self._reference_rows, rng)))

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """Check the shape, then score with a fresh seeded generator: same window, same answer."""
        if window.shape[1] != self._dimension:
            raise ValueError(
                f"{self.name}: window has dimension {window.shape[1]}, "
                f"reference has dimension {self._dimension}"
            )
        self._enough(window, "window")
        return self._score_rows(window, np.random.default_rng(self._seed + 1))

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the fitted method holds (the documented memory per feature)."""
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))

    @abstractmethod
    def _fit_rows(self, sample: FloatArray) -> None:
        """Store the reference state from the bounded sample."""

    @abstractmethod
    def _score_rows(self, window: FloatArray, rng: np.random.Generator) -> tuple[float, float]:
        """(score, p-value) of a window with at least MIN_ROWS rows of the right dimension."""


class _SampledWindow(EmbeddingMethod):
    """Keeps the reference sample as is and scores a bounded subsample of each window."""

    default_window_rows: ClassVar[int]

    def __init__(
        self,
        threshold: float | None = None,
        bins: int = 10,
        *,
        reference_rows: int | None = None,
        window_rows: int | None = None,
        seed: int = 0,
    ) -> None:
        """window_rows bounds the rows each score uses, as reference_rows bounds the fit's."""
        super().__init__(threshold, bins, reference_rows=reference_rows, seed=seed)
        rows = self.default_window_rows if window_rows is None else window_rows
        self._window_rows = _positive_int(rows, "window_rows", self.name, MIN_ROWS)
        self._sample = np.empty((0, 0))

    def _fit_rows(self, sample: FloatArray) -> None:
        """Only the sample: what is compared with it depends on the window."""
        self._sample = sample


class MaximumMeanDiscrepancy(_SampledWindow):
    """Unbiased MMD^2, RBF kernel, permutation p-value; each window meets a fresh reference draw."""

    name = "mmd"
    default_reference_rows = 4000
    default_window_rows = 1000
    kept_per_sample_row = 4

    def __init__(
        self,
        threshold: float | None = None,
        bins: int = 10,
        *,
        permutations: int = 100,
        max_permutations: int = 2000,
        **rows: Any,
    ) -> None:
        """Splits: permutations first, up to max_permutations while none beats the window."""
        super().__init__(threshold, bins, **rows)
        self._permutations = _positive_int(permutations, "permutations", self.name)
        most = _positive_int(max_permutations, "max_permutations", self.name)
        self._max_permutations = max(most, self._permutations)

    def _fit_rows(self, sample: FloatArray) -> None:
        """The pool each score draws from, as float32 like the window's own ring."""
        self._sample = sample.astype(np.float32)

    def _score_rows(self, window: FloatArray, rng: np.random.Generator) -> tuple[float, float]:
        """MMD^2 and its p-value; reference rows drawn by the window's rows' hash: same answer."""
        rows = np.ascontiguousarray(_subsample(window, self._window_rows, rng))
        rng = np.random.default_rng([self._seed + 1, zlib.crc32(rows.data)])
        sample = _subsample(self._sample, self._window_rows, rng).astype(np.float64)
        return mmd_test(sample, rows, rng, self._permutations, self._max_permutations)


class DomainClassifier(_SampledWindow):
    """ROC AUC of a shrinkage linear discriminant telling window rows from reference rows.

    Trained on one half of each side and scored on the other half, so under no drift the
    held-out scores are exchangeable and the one-sided Mann-Whitney p-value is exact in law.
    A shrunk LDA is a closed-form linear classifier (one d x d solve), needs no iterations or
    learning rate, and stays well-posed when dimension is close to the training rows.
    """

    name = "domain_classifier"
    default_reference_rows = 2000
    default_window_rows = 2000

    def __init__(
        self,
        threshold: float | None = None,
        bins: int = 10,
        *,
        shrinkage: float = 0.1,
        **rows: Any,
    ) -> None:
        """shrinkage in (0, 1] blends the covariance towards its mean variance times I."""
        super().__init__(threshold, bins, **rows)
        if not 0 < shrinkage <= 1:
            raise ValueError(f"{self.name}: shrinkage must be in (0, 1], got {shrinkage!r}")
        self._shrinkage = float(shrinkage)

    def _direction(self, ref: FloatArray, win: FloatArray) -> FloatArray:
        """Fisher's discriminant (S + shrinkage) ^ -1 (mean_win - mean_ref) from training halves."""
        centred = np.concatenate([ref - ref.mean(axis=0), win - win.mean(axis=0)])
        scatter = centred.T @ centred / max(centred.shape[0] - 2, 1)
        level = np.trace(scatter) / scatter.shape[0] or 1.0
        blended = (1 - self._shrinkage) * scatter + self._shrinkage * level * np.eye(len(scatter))
        direction: FloatArray = np.linalg.solve(blended, win.mean(axis=0) - ref.mean(axis=0))
        return direction

    def _score_rows(self, window: FloatArray, rng: np.random.Generator) -> tuple[float, float]:
        """Held-out AUC (0.5: no drift) and its one-sided Mann-Whitney p-value."""
        win = _subsample(window, self._window_rows, rng)
        ref_order, win_order = rng.permutation(len(self._sample)), rng.permutation(len(win))
        ref_train, ref_test = np.array_split(self._sample[ref_order], 2)
        win_train, win_test = np.array_split(win[win_order], 2)
        direction = self._direction(ref_train, win_train)
        result = scipy_stats().mannwhitneyu(
            win_test @ direction, ref_test @ direction, alternative="greater", method="asymptotic"
        )
        auc = float(result.statistic) / (len(win_test) * len(ref_test))
        return auc, float(result.pvalue)


class ProjectedKS(EmbeddingMethod):
    """KS per principal component fitted on the reference; Bonferroni over the components."""

    name = "pca_ks"
    default_reference_rows = 2000

    def __init__(
        self,
        threshold: float | None = None,
        bins: int = 10,
        *,
        reference_rows: int | None = None,
        components: int = 5,
        seed: int = 0,
    ) -> None:
        """components: how many leading axes are tested (fewer if the data has fewer)."""
        super().__init__(threshold, bins, reference_rows=reference_rows, seed=seed)
        self._components = _positive_int(components, "components", self.name)
        self._mean = np.empty(0)
        self._axes = np.empty((0, 0))
        self._projected = np.empty((0, 0))

    def _fit_rows(self, sample: FloatArray) -> None:
        """Axes from one half of the sample, reference coordinates from the other half.

        Coordinates of the rows that chose the axes are inflated along them (in 384 dimensions
        the leading noise axes fit the sample's own noise), which would flag every window.
        """
        fit_half, held_out = sample[::2], sample[1::2]
        self._mean = fit_half.mean(axis=0)
        keep = min(self._components, fit_half.shape[0] - 1, fit_half.shape[1])
        _, _, vt = np.linalg.svd(fit_half - self._mean, full_matrices=False)
        self._axes = vt[:keep].copy()
        self._projected = np.ascontiguousarray(((held_out - self._mean) @ self._axes.T).T)

    def _score_rows(self, window: FloatArray, rng: np.random.Generator) -> tuple[float, float]:
        """Largest KS statistic over components, and min p-value x components (capped at 1)."""
        projected = (window @ self._axes.T - self._mean @ self._axes.T).T
        ks = scipy_stats().ks_2samp
        pairs = zip(self._projected, projected, strict=True)
        results = [ks(r, w, method="asymp") for r, w in pairs]
        statistic = max(float(r.statistic) for r in results)
        p_value = min(1.0, len(results) * min(float(r.pvalue) for r in results))
        return statistic, p_value


EMBEDDING_METHODS: dict[str, type[EmbeddingMethod]] = {
    method.name: method for method in (MaximumMeanDiscrepancy, DomainClassifier, ProjectedKS)
}


def make_embedding_method(
    name: str, threshold: float | None = None, sample_rows: int | None = None, **settings: Any
) -> EmbeddingMethod:
    """An unfitted method; sample_rows bounds its reference sample and any window subsample."""
    method_class = EMBEDDING_METHODS.get(name)
    if method_class is None:
        known = ", ".join(sorted(EMBEDDING_METHODS))
        raise ValueError(f"unknown embedding drift method '{name}' (known: {known})")
    if sample_rows is not None:
        kept = sample_rows * method_class.kept_per_sample_row
        settings = {"reference_rows": kept, **settings}
        if issubclass(method_class, _SampledWindow):
            settings.setdefault("window_rows", sample_rows)
    return method_class(threshold=threshold, **settings)
