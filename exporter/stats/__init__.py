"""Drift statistics: one table maps a method name and feature type to its class."""

from __future__ import annotations

from exporter.stats.auto import (
    AutoCategorical,
    AutoNumeric,
    DiscreteNumeric,
    choose_method,
    resolve,
)
from exporter.stats.base import EPS, DriftMethod, DriftResult, present
from exporter.stats.categorical import (
    CategoricalBinned,
    Chi2Homogeneity,
    ChiSquare,
    GTest,
    ZTest,
)
from exporter.stats.continuous import AndersonDarling, CramerVonMises, Energy, Wasserstein
from exporter.stats.distances import BINNED_DISTANCES, BinnedDistance, psi_from_proportions
from exporter.stats.embedding import EMBEDDING_METHODS, EmbeddingMethod, make_embedding_method
from exporter.stats.kinds import FeatureType
from exporter.stats.numeric import KolmogorovSmirnov, NumericBinned

__all__ = [
    "BINNED_DISTANCES",
    "DEFAULT_METHOD",
    "EMBEDDING_METHODS",
    "EPS",
    "METHODS",
    "CategoricalBinned",
    "Chi2Homogeneity",
    "ChiSquare",
    "DiscreteNumeric",
    "DriftMethod",
    "DriftResult",
    "EmbeddingMethod",
    "KolmogorovSmirnov",
    "NumericBinned",
    "binned_methods",
    "choose_method",
    "make_embedding_method",
    "make_method",
    "methods_for",
    "present",
    "psi_from_proportions",
    "resolve",
]

NUMERIC, CATEGORICAL, EMBEDDING = (
    FeatureType.NUMERIC,
    FeatureType.CATEGORICAL,
    FeatureType.EMBEDDING,
)
MethodTable = dict[str, dict[FeatureType, type[DriftMethod]]]


def binned_methods(formula: str) -> dict[FeatureType, type[DriftMethod]]:
    """A numeric and a categorical method scoring by one formula in BINNED_DISTANCES.

    Each is a subclass named after the formula rather than an instance holding it, because the
    table is read without instantiating: config reads is_test and feature_types off the class.
    """
    by_type: dict[FeatureType, type[DriftMethod]] = {}
    bases: dict[FeatureType, type[BinnedDistance]] = {
        NUMERIC: NumericBinned,
        CATEGORICAL: CategoricalBinned,
    }
    for feature_type, base in bases.items():
        namespace = {
            "name": formula,
            "__module__": base.__module__,
            "__doc__": f"{base.__doc__}\n\n{BINNED_DISTANCES[formula].__doc__}",
        }
        by_type[feature_type] = type(f"{base.__name__}[{formula}]", (base,), namespace)
    return by_type


# The single registry: add a method here (one entry per feature type it supports), or a
# binned-distance formula to BINNED_DISTANCES.
METHODS: MethodTable = {
    "auto": {NUMERIC: AutoNumeric, CATEGORICAL: AutoCategorical},
    **{formula: binned_methods(formula) for formula in BINNED_DISTANCES},
    "ks": {NUMERIC: KolmogorovSmirnov},
    "wasserstein": {NUMERIC: Wasserstein},
    "cramervonmises": {NUMERIC: CramerVonMises},
    "anderson": {NUMERIC: AndersonDarling},
    "energy": {NUMERIC: Energy},
    "chisquare": {CATEGORICAL: ChiSquare},
    "chi2": {CATEGORICAL: Chi2Homogeneity},
    "z": {CATEGORICAL: ZTest},
    "g_test": {CATEGORICAL: GTest},
    **{name: {EMBEDDING: method} for name, method in EMBEDDING_METHODS.items()},
}

# Evidently's rule (exporter.stats.auto.choose_method), decided once per reference.
# Embeddings: MMD, the permutation test alibi-detect and the literature default to.
DEFAULT_METHOD: dict[FeatureType, str] = {NUMERIC: "auto", CATEGORICAL: "auto", EMBEDDING: "mmd"}


def methods_for(feature_type: FeatureType) -> list[str]:
    """Names valid for a feature type, sorted, for config validation and error messages."""
    return sorted(name for name, by_type in METHODS.items() if feature_type in by_type)


def make_method(
    name: str, feature_type: FeatureType, threshold: float | None = None, bins: int = 10
) -> DriftMethod:
    """Build an unfitted method, failing with a message that says what would have worked."""
    by_type = METHODS.get(name)
    if by_type is None:
        known = ", ".join(sorted(METHODS))
        raise ValueError(f"unknown drift method '{name}' (known: {known})")
    method_class = by_type.get(feature_type)
    if method_class is None:
        valid = ", ".join(methods_for(feature_type))
        raise ValueError(
            f"'{name}' does not apply to {feature_type.value} features (use one of: {valid})"
        )
    return method_class(threshold=threshold, bins=bins)
