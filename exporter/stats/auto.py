"""`auto`: Evidently's default choice of test per column, made once when the reference is fitted."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from exporter.stats.base import CodeArray, DriftMethod, DriftResult, count_distinct, present
from exporter.stats.kinds import FeatureType

SMALL_REFERENCE = 1000
FEW_VALUES = 5


def choose_method(feature_type: FeatureType, reference_values: int, n_unique: int) -> str:
    """Evidently's rule (tests for small references, distances for large), with one departure.

    Where Evidently takes its `chisquare` goodness of fit, this takes `chi2`, the homogeneity
    test: the goodness of fit treats a small reference's shares as exact, and against a
    300-row reference it flagged 30 % of healthy 300-row windows and 91 % of 3,000-row ones.
    """
    numeric = feature_type is FeatureType.NUMERIC and n_unique > FEW_VALUES
    if reference_values <= SMALL_REFERENCE:
        if numeric:
            return "ks"
        return "chi2" if n_unique > 2 else "z"
    return "wasserstein" if numeric else "jensenshannon"


class DiscreteNumeric(DriftMethod):
    """A numeric column with few distinct values, scored by a categorical method on its values."""

    name: ClassVar[str] = "discrete"
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})
    is_test: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.0
    handles_missing: ClassVar[bool] = True

    def __init__(self, inner: DriftMethod) -> None:
        """Wrap an unfitted categorical method; its threshold and name are the ones exported."""
        super().__init__(None, inner.bins)
        self._inner = inner
        self._values = np.empty(0, dtype=np.float64)

    @property
    def label(self) -> str:
        """The wrapped method's name."""
        return self._inner.label

    @property
    def threshold(self) -> float:
        """The wrapped method's threshold."""
        return self._inner.threshold

    @property
    def tests(self) -> bool:
        """Whether the wrapped method is a test (z or chi-square) or a distance."""
        return self._inner.tests

    def encode(self, values: npt.NDArray[Any]) -> CodeArray:
        """Reference values to codes 0..k-1, others to k (`__other__`), NaN to -1 (missing)."""
        x = np.asarray(values, dtype=np.float64)
        k = self._values.size
        index = np.minimum(np.searchsorted(self._values, x), k - 1)
        codes = np.where(self._values[index] == x, index, k).astype(np.int64)
        codes[np.isnan(x)] = -1
        return codes

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        values = present(np.asarray(reference, dtype=np.float64))
        if values.size == 0:
            raise ValueError(f"{self.label}: reference has no present values")
        self._values = np.unique(values)
        self._inner.fit(self.encode(reference), self._values.size)

    def score(self, window: npt.NDArray[Any]) -> DriftResult:
        """The wrapped method's verdict on the encoded window."""
        if not self.is_fitted:
            raise RuntimeError(f"{self.label}: score() called before fit()")
        return self._inner.score(self.encode(window))

    @property
    def scores_missing(self) -> bool:
        """Whether the wrapped method counts missing values (a binned distance) or drops them."""
        return self._inner.scores_missing

    def usable(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """What the wrapped method would score."""
        return self._inner.usable(self.encode(values)) if self.is_fitted else np.asarray(values)

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        result = self.score(window)
        return result.score, result.p_value


class _Auto(DriftMethod):
    """Picks a concrete method at fit with choose_method, then behaves exactly like it."""

    name: ClassVar[str] = "auto"
    is_test: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1
    handles_missing: ClassVar[bool] = True
    feature_type: ClassVar[FeatureType]

    def __init__(self, threshold: float | None = None, bins: int = 10) -> None:
        """Remember the settings; the method they apply to is chosen at fit()."""
        super().__init__(threshold, bins)
        self._requested = threshold
        self._chosen: DriftMethod | None = None

    def resolved(self) -> DriftMethod:
        """The chosen, fitted method, so callers can drop this wrapper."""
        if self._chosen is None:
            raise RuntimeError("auto: resolved() called before fit()")
        return self._chosen

    def fit(self, reference: npt.NDArray[Any], n_categories: int | None = None) -> Self:
        """Choose from the reference's present values (those a method scores), then fit it."""
        from exporter.stats import make_method  # the registry imports this module

        values = present(np.asarray(reference))
        if values.size == 0:
            raise ValueError("auto: cannot fit on an empty reference")
        n_unique = count_distinct(values, FEW_VALUES + 1)  # choose_method asks no more
        if n_categories is not None:
            n_unique = max(n_unique, int(n_categories))
        name = choose_method(self.feature_type, int(values.size), n_unique)
        discrete = self.feature_type is FeatureType.NUMERIC and n_unique <= FEW_VALUES
        kind = FeatureType.CATEGORICAL if discrete else self.feature_type
        chosen = make_method(name, kind, self._requested, self.bins)
        self._chosen = (DiscreteNumeric(chosen) if discrete else chosen).fit(
            reference, n_categories
        )
        self._fitted = True
        return self

    def score(self, window: npt.NDArray[Any]) -> DriftResult:
        """The chosen method's verdict."""
        return self.resolved().score(window)

    @property
    def scores_missing(self) -> bool:
        """Whether the chosen method counts missing values."""
        return self.resolved().scores_missing

    def usable(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """What the chosen method would score."""
        return self._chosen.usable(values) if self._chosen else np.asarray(values)

    @property
    def label(self) -> str:
        """The chosen method's name."""
        return self.resolved().label

    def _fit(self, reference: npt.NDArray[Any], n_categories: int | None) -> None:
        self.fit(reference, n_categories)

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        result = self.score(window)
        return result.score, result.p_value


class AutoNumeric(_Auto):
    """`auto` for numeric features."""

    feature_type: ClassVar[FeatureType] = FeatureType.NUMERIC
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.NUMERIC})


class AutoCategorical(_Auto):
    """`auto` for categorical features."""

    feature_type: ClassVar[FeatureType] = FeatureType.CATEGORICAL
    feature_types: ClassVar[frozenset[FeatureType]] = frozenset({FeatureType.CATEGORICAL})


def resolve(method: DriftMethod) -> DriftMethod:
    """The method actually scoring: an `auto` wrapper's choice, or the method itself."""
    return method.resolved() if isinstance(method, _Auto) else method
