"""Drift statistics: one table maps a method name and feature type to its class."""

from __future__ import annotations

from exporter.config.model import FeatureType
from exporter.stats.base import EPS, DriftMethod, DriftResult
from exporter.stats.categorical import CategoricalPSI, ChiSquare
from exporter.stats.numeric import KolmogorovSmirnov, NumericPSI, psi_from_proportions

__all__ = [
    "DEFAULT_METHOD",
    "EPS",
    "METHODS",
    "CategoricalPSI",
    "ChiSquare",
    "DriftMethod",
    "DriftResult",
    "KolmogorovSmirnov",
    "NumericPSI",
    "make_method",
    "methods_for",
    "psi_from_proportions",
]

# The single registry: add a method here (one line per feature type it supports).
METHODS: dict[str, dict[FeatureType, type[DriftMethod]]] = {
    "psi": {FeatureType.NUMERIC: NumericPSI, FeatureType.CATEGORICAL: CategoricalPSI},
    "ks": {FeatureType.NUMERIC: KolmogorovSmirnov},
    "chisquare": {FeatureType.CATEGORICAL: ChiSquare},
}

# PSI is a distance, so it does not flag trivial differences just because windows are large.
DEFAULT_METHOD: dict[FeatureType, str] = {
    FeatureType.NUMERIC: "psi",
    FeatureType.CATEGORICAL: "psi",
}


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
