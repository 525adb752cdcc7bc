"""Metrics per segment of traffic and per model version, on families of their own.

The unsegmented families keep their labels, so existing alerts and dashboards are untouched;
every series here carries the slice it describes, bounded by the segment's `max_values` (plus
`__other__`) and the model's `max_versions`.
"""

from __future__ import annotations

from exporter.expose.catalog_performance import NATS, RATIO, TARGET_UNITS
from exporter.expose.spec import MetricSpec

SEGMENT = ("model", "segment", "segment_value")
SEGMENT_FEATURE = (*SEGMENT, "feature")
SEGMENT_METRIC = (*SEGMENT, "metric")
VERSION = ("model", "version")
VERSION_METRIC = (*VERSION, "metric")

# Performance per slice, one family per unit as for the model: (stem, Prometheus unit, about).
_UNITS = {
    RATIO: ("performance", "ratio", "unitless metrics"),
    TARGET_UNITS: ("regression_error", "", "errors in the units of the model's target"),
    NATS: ("loss", "", "losses in nats"),
}


def slice_family(kind: str, unit: str) -> str:
    """The family serving a performance metric of `unit` per segment or per version."""
    stem, prometheus_unit, _ = _UNITS[unit]
    return f"mlmon_{kind}_{stem}" + (f"_{prometheus_unit}" if prometheus_unit else "")


def bound_family(unit: str, side: str) -> str:
    """The family of a segment value's applied `min` or `max` of a metric of `unit`."""
    stem, prometheus_unit, _ = _UNITS[unit]
    return f"mlmon_segment_{stem}_{side}" + (f"_{prometheus_unit}" if prometheus_unit else "")


def _bounds() -> tuple[MetricSpec, ...]:
    about = {
        "min": "Lower bound a segment value's metric is held to: min, or its baseline less "
        "max_drop and a one-sided 5 % allowance for the sampling error of baseline and window",
        "max": "Upper bound a segment value's metric is held to: max, or its baseline plus "
        "max_drop and a one-sided 5 % allowance for the sampling error of baseline and window",
    }
    return tuple(
        MetricSpec(bound_family(unit, side), "gauge", f"{text}; {words}.", SEGMENT_METRIC, prom)
        for side, text in about.items()
        for unit, (_, prom, words) in _UNITS.items()
    )


def _performance(kind: str, labels: tuple[str, ...], about: str) -> tuple[MetricSpec, ...]:
    return tuple(
        MetricSpec(slice_family(kind, unit), "gauge", f"{about}; {words}.", labels, prom_unit)
        for unit, (_, prom_unit, words) in _UNITS.items()
    )


SEGMENTS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "mlmon_segment_samples",
        "gauge",
        "Predictions of a segment value in the evaluated window; the values past max_values "
        "count under __other__.",
        SEGMENT,
    ),
    MetricSpec(
        "mlmon_segment_evaluated",
        "gauge",
        "1 when the segment value had enough samples for a decision, 0 when it had too few.",
        SEGMENT,
    ),
    MetricSpec(
        "mlmon_segment_reference_own",
        "gauge",
        "1 when the segment value is compared with its own reference rows (for a feature "
        "key's __other__, those of the values it pools), 0 when with the whole reference (it "
        "is absent from it, or the segment key is a tag) or, for __other__, when its pool is "
        "not the one the reference left out (then no drift decision).",
        SEGMENT,
    ),
    MetricSpec(
        "mlmon_segment_feature_drift_score",
        "gauge",
        "Drift score of a feature within a segment value against its reference.",
        (*SEGMENT_FEATURE, "method"),
    ),
    MetricSpec(
        "mlmon_segment_feature_drift_p_value",
        "gauge",
        "p-value of a feature's drift test within a segment value (test methods only); the "
        "decision compares it corrected across features and segments.",
        (*SEGMENT_FEATURE, "method"),
    ),
    MetricSpec(
        "mlmon_segment_feature_drift_detected",
        "gauge",
        "1 when the feature has drifted within the segment value.",
        SEGMENT_FEATURE,
    ),
    MetricSpec(
        "mlmon_segment_drift_share_ratio",
        "gauge",
        "Share of evaluated features that drifted within the segment value.",
        SEGMENT,
        "ratio",
    ),
    MetricSpec(
        "mlmon_segment_drift_detected",
        "gauge",
        "1 when at least drift_share of the features drifted within the segment value.",
        SEGMENT,
    ),
    MetricSpec(
        "mlmon_segment_feature_missing_ratio",
        "gauge",
        "Share of a segment value's predictions missing the feature.",
        SEGMENT_FEATURE,
        "ratio",
    ),
    *_performance("segment", SEGMENT_METRIC, "Realised performance within a segment value"),
    MetricSpec(
        "mlmon_segment_performance_estimated_ratio",
        "gauge",
        "Performance of a segment value estimated from its calibrated scores, without labels "
        "(binary models).",
        SEGMENT_METRIC,
        "ratio",
    ),
    MetricSpec(
        "mlmon_segment_performance_out_of_bounds",
        "gauge",
        "1 when a segment value's realised metric is outside the bounds it is held to.",
        SEGMENT_METRIC,
    ),
    *_bounds(),
)

VERSIONS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "mlmon_version_champion_info",
        "gauge",
        "The version challengers are compared with: the configured champion, else the busiest "
        "when first chosen, kept while it has traffic in the window.",
        VERSION,
    ),
    MetricSpec(
        "mlmon_version_labeled_samples",
        "gauge",
        "Labelled predictions of a version in the window.",
        VERSION,
    ),
    *_performance("version", VERSION_METRIC, "Realised performance of a model version"),
    MetricSpec(
        "mlmon_version_prediction_drift_score",
        "gauge",
        "Drift of a challenger's predictions from the champion's over the same window.",
        (*VERSION, "method"),
    ),
    MetricSpec(
        "mlmon_version_prediction_drift_detected",
        "gauge",
        "1 when a challenger's predictions drifted from the champion's.",
        VERSION,
    ),
    MetricSpec(
        "mlmon_version_comparison_p_value",
        "gauge",
        "One-sided p-value that a challenger is worse than the champion on a metric, adjusted "
        "across the challenger's metrics (Benjamini-Hochberg).",
        VERSION_METRIC,
    ),
    MetricSpec(
        "mlmon_version_worse",
        "gauge",
        "1 when a challenger is significantly worse than the champion on a metric, else 0.",
        VERSION_METRIC,
    ),
)
