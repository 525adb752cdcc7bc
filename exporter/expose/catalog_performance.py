"""Performance metrics, one family per unit: a ratio, an error in the target's units, a loss.

Prometheus wants each family to have one unit, so that a sum or an average over its series means
something and a graph of it has one axis. METRIC_UNITS gives each performance metric the
evaluator computes its unit; the unit picks the family, and every family has the same variants
(realised, on the reference, the bounds) under the same labels, so the `metric` label stays
bounded by the metrics of its unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.expose.spec import MetricSpec

RATIO = "ratio"
TARGET_UNITS = "target_units"
NATS = "nats"

# The single table the split derives from: every performance metric and the unit of its values.
METRIC_UNITS: dict[str, str] = {
    "accuracy": RATIO,
    "precision": RATIO,
    "recall": RATIO,
    "f1": RATIO,
    **{f"{m}_{avg}": RATIO for m in ("precision", "recall", "f1") for avg in ("macro", "weighted")},
    "roc_auc": RATIO,
    "brier": RATIO,  # a mean squared difference of probabilities: unitless
    "ece": RATIO,  # a mean difference of probabilities: unitless
    "r2": RATIO,  # the share of the target's variance explained: unitless, at most 1
    "mape": RATIO,  # the mean of |error| / |target|: unitless, may exceed 1
    "mae": TARGET_UNITS,
    "rmse": TARGET_UNITS,
    "log_loss": NATS,
}

REALISED = ""
REFERENCE = "_reference"
MIN = "_min"
MAX = "_max"
ESTIMATED = "_estimated"
ESTIMATION_ERROR = "_estimation_error"

_VARIANT_HELP = {
    REALISED: "Realised performance over labelled predictions in the window",
    REFERENCE: "The same metric computed on the reference data set",
    MIN: "Lower bound of a performance metric: min, or the reference value less max_drop, "
    "whichever is stricter",
    MAX: "Upper bound of a performance metric: max, or the reference value plus max_drop, "
    "whichever is stricter",
    ESTIMATED: "Performance estimated from calibrated scores, without labels",
    ESTIMATION_ERROR: "Absolute difference between estimated and realised performance",
}
_BASIC = (REALISED, REFERENCE, MIN, MAX)


@dataclass(frozen=True)
class UnitFamilies:
    """The families of one unit: one per variant, named stem + variant (+ `_` + Prometheus unit)."""

    unit: str
    stem: str
    prometheus_unit: str
    about: str
    variants: tuple[str, ...] = _BASIC

    def name(self, variant: str) -> str:
        """The family of this unit's metrics for one variant (REALISED, REFERENCE, ...)."""
        suffix = f"_{self.prometheus_unit}" if self.prometheus_unit else ""
        return f"{self.stem}{variant}{suffix}"

    def specs(self) -> tuple[MetricSpec, ...]:
        """The declarations of every variant."""
        return tuple(
            MetricSpec(
                self.name(v),
                "gauge",
                f"{_VARIANT_HELP[v]}; {self.about}.",
                ("model", "metric"),
                self.prometheus_unit,
            )
            for v in self.variants
        )


FAMILIES: dict[str, UnitFamilies] = {
    RATIO: UnitFamilies(
        RATIO,
        "mlmon_model_performance",
        "ratio",
        "unitless metrics: accuracy, precision, recall and f1 (also their macro and weighted "
        "averages), roc_auc, brier, ece, r2 and mape",
        (*_BASIC, ESTIMATED, ESTIMATION_ERROR),
    ),
    TARGET_UNITS: UnitFamilies(
        TARGET_UNITS,
        "mlmon_model_regression_error",
        "",
        "errors in the units of the model's target: mae and rmse",
    ),
    NATS: UnitFamilies(NATS, "mlmon_model_loss", "", "losses in nats: log_loss"),
}

CLASS_PERFORMANCE = MetricSpec(
    "mlmon_class_performance_ratio",
    "gauge",
    "Realised per-class performance over the window (configured classes, else the first "
    "seen): precision, recall and f1.",
    ("model", "class", "metric"),
    "ratio",
)
CLASS_UNIT = RATIO

PERFORMANCE: tuple[MetricSpec, ...] = (
    *(s for families in FAMILIES.values() for s in families.specs()),
    CLASS_PERFORMANCE,
)


def family(metric: str, variant: str = REALISED) -> str:
    """The family that serves a performance metric; KeyError for an unknown metric."""
    return FAMILIES[METRIC_UNITS[metric]].name(variant)


def class_family(metric: str) -> str:
    """The family of a per-class metric; only ratios are computed per class."""
    if METRIC_UNITS[metric] != CLASS_UNIT:
        raise KeyError(f"per-class metric {metric!r} is not a {CLASS_UNIT}")
    return CLASS_PERFORMANCE.name
