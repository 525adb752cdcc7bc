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
    CategoricalHellinger,
    CategoricalJensenShannon,
    CategoricalKL,
    CategoricalPSI,
    ChiSquare,
    GTest,
    ZTest,
)
from exporter.stats.continuous import AndersonDarling, CramerVonMises, Energy, Wasserstein
from exporter.stats.distances import psi_from_proportions
from exporter.stats.kinds import FeatureType
from exporter.stats.numeric import (
    KolmogorovSmirnov,
    NumericHellinger,
    NumericJensenShannon,
    NumericKL,
    NumericPSI,
)

__all__ = [
    "DEFAULT_METHOD",
    "EPS",
    "METHODS",
    "CategoricalPSI",
    "ChiSquare",
    "DiscreteNumeric",
    "DriftMethod",
    "DriftResult",
    "KolmogorovSmirnov",
    "NumericPSI",
    "choose_method",
    "make_method",
    "methods_for",
    "present",
    "psi_from_proportions",
    "resolve",
]

NUMERIC, CATEGORICAL = FeatureType.NUMERIC, FeatureType.CATEGORICAL

# The single registry: add a method here (one entry per feature type it supports).
METHODS: dict[str, dict[FeatureType, type[DriftMethod]]] = {
    "auto": {NUMERIC: AutoNumeric, CATEGORICAL: AutoCategorical},
    "psi": {NUMERIC: NumericPSI, CATEGORICAL: CategoricalPSI},
    "jensenshannon": {NUMERIC: NumericJensenShannon, CATEGORICAL: CategoricalJensenShannon},
    "hellinger": {NUMERIC: NumericHellinger, CATEGORICAL: CategoricalHellinger},
    "kl_div": {NUMERIC: NumericKL, CATEGORICAL: CategoricalKL},
    "ks": {NUMERIC: KolmogorovSmirnov},
    "wasserstein": {NUMERIC: Wasserstein},
    "cramervonmises": {NUMERIC: CramerVonMises},
    "anderson": {NUMERIC: AndersonDarling},
    "energy": {NUMERIC: Energy},
    "chisquare": {CATEGORICAL: ChiSquare},
    "z": {CATEGORICAL: ZTest},
    "g_test": {CATEGORICAL: GTest},
}

# Evidently's rule (exporter.stats.auto.choose_method), decided once per reference.
DEFAULT_METHOD: dict[FeatureType, str] = {NUMERIC: "auto", CATEGORICAL: "auto"}


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
