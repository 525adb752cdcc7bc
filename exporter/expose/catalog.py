"""Every metric the exporter serves, declared once: the contract for alerts and dashboards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class MetricSpec:
    """One metric's exposition name (counters with `_total`), type, help, labels and unit."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    unit: str = ""

    @property
    def base_name(self) -> str:
        """The name client_python wants: counters without their `_total` suffix."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


M = ("model",)
MF = ("model", "feature")
MFM = ("model", "feature", "method")

CATALOG: tuple[MetricSpec, ...] = (
    MetricSpec(
        "mlmon_build_info",
        "gauge",
        "Always 1; the exporter's version and the external URL of its drill-down pages.",
        ("version", "external_url"),
    ),
    MetricSpec(
        "mlmon_config_reloads_total",
        "counter",
        "Config reloads (SIGHUP or a changed file), by outcome: success or failure.",
        ("outcome",),
    ),
    MetricSpec(
        "mlmon_config_last_reload_successful",
        "gauge",
        "1 when the last config reload (or the start-up load) succeeded, else 0.",
        (),
    ),
    MetricSpec(
        "mlmon_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful config load (start-up or reload).",
        (),
        "seconds",
    ),
    MetricSpec(
        "mlmon_reader_up",
        "gauge",
        "1 while the stream reader runs, 0 while it is restarting after a crash.",
        (),
    ),
    MetricSpec(
        "mlmon_reader_restarts_total",
        "counter",
        "Restarts of the stream reader after an unexpected exception (see the log).",
        (),
    ),
    MetricSpec(
        "mlmon_exposition_failures_total",
        "counter",
        "Scrapes of /metrics whose rendering failed and got the last good body instead.",
        (),
    ),
    MetricSpec(
        "mlmon_redis_version_supported",
        "gauge",
        "1 when the Redis server is at least the supported minimum (6.2), else 0; "
        "absent until the version is known.",
        (),
    ),
    MetricSpec(
        "mlmon_shard_info",
        "gauge",
        "Always 1; which shard of how many this replica is (models are split among them).",
        ("shard", "shards"),
    ),
    MetricSpec("mlmon_redis_up", "gauge", "1 when the last Redis command succeeded, else 0.", ()),
    MetricSpec(
        "mlmon_records_read_total",
        "counter",
        "Valid records read from the streams into windows.",
        ("model", "kind"),
    ),
    MetricSpec(
        "mlmon_records_skipped_total",
        "counter",
        "Stream entries trimmed away before the reader could read them.",
        ("model", "kind"),
    ),
    MetricSpec(
        "mlmon_records_unknown_field_total",
        "counter",
        "Records with a top-level key the wire format does not define; the record is "
        "still used. The log names the key and the closest known one.",
        ("model", "kind"),
    ),
    MetricSpec(
        "mlmon_stream_entries_lost_total",
        "counter",
        "Stream entries read but lost because ingesting them raised (see the log).",
        ("model", "kind"),
    ),
    MetricSpec(
        "mlmon_stream_lag_entries",
        "gauge",
        "Entries added to the stream that the reader has not read yet (Redis 7.0 and later).",
        ("model", "kind"),
    ),
    MetricSpec(
        "mlmon_stream_lag_seconds",
        "gauge",
        "Time from the oldest entry the reader has not read yet to the newest entry in "
        "the stream; 0 when it has read everything.",
        ("model", "kind"),
        "seconds",
    ),
    MetricSpec(
        "mlmon_series_limited_total",
        "counter",
        "Values folded into __other__ by the per-model caps, by kind: category, class, version.",
        ("model", "kind"),
    ),
    MetricSpec(
        "mlmon_records_invalid_total",
        "counter",
        "Records rejected while decoding, by bounded reason.",
        ("model", "reason"),
    ),
    MetricSpec(
        "mlmon_evaluation_duration_seconds",
        "gauge",
        "Wall time of the last successful evaluation.",
        M,
        "seconds",
    ),
    MetricSpec(
        "mlmon_evaluation_last_success_timestamp_seconds",
        "gauge",
        "Unix time when the last evaluation succeeded.",
        M,
        "seconds",
    ),
    MetricSpec(
        "mlmon_reference_missing",
        "gauge",
        "1 while the model's Redis reference key is missing and the copy fitted before "
        "is used; 0 otherwise (Redis-key references only).",
        M,
    ),
    MetricSpec(
        "mlmon_reference_lost_total",
        "counter",
        "Times the model's Redis reference key was found missing after it had been "
        "fitted (FLUSHALL, eviction, a restart without persistence).",
        M,
    ),
    MetricSpec(
        "mlmon_evaluation_interval_seconds",
        "gauge",
        "Configured time between evaluations (for a cron schedule, between its next two runs).",
        M,
        "seconds",
    ),
    MetricSpec(
        "mlmon_model_configured_timestamp_seconds",
        "gauge",
        "Unix time when the model's current config section took effect (start-up or "
        "the reload that changed it).",
        M,
        "seconds",
    ),
    MetricSpec(
        "mlmon_evaluation_failures_total",
        "counter",
        "Evaluations that raised; the previous values keep being served.",
        M,
    ),
    MetricSpec(
        "mlmon_window_samples", "gauge", "Records in the drift window at the last evaluation.", M
    ),
    MetricSpec("mlmon_reference_samples", "gauge", "Rows in the fitted reference data set.", M),
    MetricSpec(
        "mlmon_predictions_total",
        "counter",
        "Prediction records received (sampled), by model version.",
        ("model", "version"),
    ),
    MetricSpec(
        "mlmon_prediction_errors_total",
        "counter",
        "Prediction records with status error, by model version.",
        ("model", "version"),
    ),
    MetricSpec(
        "mlmon_prediction_latency_seconds",
        "histogram",
        "Prediction latency reported by the producer.",
        ("model", "version"),
        "seconds",
    ),
    MetricSpec("mlmon_labels_total", "counter", "Label records received.", M),
    MetricSpec(
        "mlmon_labels_unmatched_total",
        "counter",
        "Labels whose prediction was unknown or had expired.",
        M,
    ),
    MetricSpec(
        "mlmon_feature_drift_score",
        "gauge",
        "Drift score of a feature's window against its reference.",
        MFM,
    ),
    MetricSpec(
        "mlmon_feature_drift_p_value",
        "gauge",
        "p-value of a feature's drift test (test methods only).",
        MFM,
    ),
    MetricSpec(
        "mlmon_feature_drift_threshold",
        "gauge",
        "Threshold the feature's drift score or p-value is compared with.",
        MFM,
    ),
    MetricSpec("mlmon_feature_drift_detected", "gauge", "1 when the feature has drifted.", MF),
    MetricSpec(
        "mlmon_dataset_drift_share_ratio",
        "gauge",
        "Share of evaluated features that have drifted.",
        M,
        "ratio",
    ),
    MetricSpec(
        "mlmon_dataset_drift_detected",
        "gauge",
        "1 when the drifted share reaches the model's drift_share.",
        M,
    ),
    MetricSpec(
        "mlmon_prediction_drift_score",
        "gauge",
        "Drift score of the predictions (or positive-class scores).",
        ("model", "method"),
    ),
    MetricSpec(
        "mlmon_prediction_drift_p_value",
        "gauge",
        "p-value of the prediction drift test (test methods only).",
        ("model", "method"),
    ),
    MetricSpec(
        "mlmon_prediction_drift_threshold",
        "gauge",
        "Threshold of the prediction drift method.",
        ("model", "method"),
    ),
    MetricSpec("mlmon_prediction_drift_detected", "gauge", "1 when the predictions drifted.", M),
    MetricSpec(
        "mlmon_feature_missing_ratio",
        "gauge",
        "Share of window records where the feature is null or absent.",
        MF,
        "ratio",
    ),
    MetricSpec(
        "mlmon_feature_out_of_range_ratio",
        "gauge",
        "Share of present numeric values outside the configured or reference range.",
        MF,
        "ratio",
    ),
    MetricSpec(
        "mlmon_feature_unseen_category_ratio",
        "gauge",
        "Share of present categorical values not in the allowed or reference set.",
        MF,
        "ratio",
    ),
    MetricSpec(
        "mlmon_model_performance",
        "gauge",
        "Realised performance over labelled predictions in the window.",
        ("model", "metric"),
    ),
    MetricSpec(
        "mlmon_model_performance_reference",
        "gauge",
        "The same metric computed on the reference data set.",
        ("model", "metric"),
    ),
    MetricSpec(
        "mlmon_model_performance_min",
        "gauge",
        "Lower bound of a performance metric: min, or the reference value less max_drop, "
        "whichever is stricter.",
        ("model", "metric"),
    ),
    MetricSpec(
        "mlmon_model_performance_max",
        "gauge",
        "Upper bound of a performance metric: max, or the reference value plus max_drop, "
        "whichever is stricter.",
        ("model", "metric"),
    ),
    MetricSpec(
        "mlmon_multivariate_drift_score",
        "gauge",
        "Multivariate drift score of the window against the reference.",
        ("model", "method"),
    ),
    MetricSpec(
        "mlmon_multivariate_drift_threshold",
        "gauge",
        "Threshold of the multivariate drift score.",
        ("model", "method"),
    ),
    MetricSpec(
        "mlmon_multivariate_drift_detected",
        "gauge",
        "1 when the multivariate drift score passes its threshold.",
        M,
    ),
    MetricSpec(
        "mlmon_target_drift_score",
        "gauge",
        "Drift score of the joined labels against the reference labels.",
        ("model", "method"),
    ),
    MetricSpec(
        "mlmon_target_drift_p_value",
        "gauge",
        "p-value of the target drift test (test methods only).",
        ("model", "method"),
    ),
    MetricSpec(
        "mlmon_target_drift_threshold",
        "gauge",
        "Threshold of the target drift method.",
        ("model", "method"),
    ),
    MetricSpec("mlmon_target_drift_detected", "gauge", "1 when the labels drifted.", M),
    MetricSpec(
        "mlmon_label_delay_seconds",
        "histogram",
        "Time from a prediction to the arrival of its label.",
        M,
        "seconds",
    ),
    MetricSpec(
        "mlmon_label_coverage_ratio",
        "gauge",
        "Share of predictions in the performance window that have a label.",
        M,
        "ratio",
    ),
    MetricSpec(
        "mlmon_class_performance",
        "gauge",
        "Realised per-class performance over the window, for configured classes.",
        ("model", "class", "metric"),
    ),
    MetricSpec(
        "mlmon_labeled_predictions_total",
        "counter",
        "Predictions joined to a label, by actual and predicted class.",
        ("model", "actual", "predicted"),
    ),
    MetricSpec(
        "mlmon_regression_labeled_total", "counter", "Regression predictions joined to a label.", M
    ),
    MetricSpec(
        "mlmon_regression_absolute_error_total",
        "counter",
        "Sum of absolute errors of joined regression predictions.",
        M,
    ),
    MetricSpec(
        "mlmon_regression_squared_error_total",
        "counter",
        "Sum of squared errors of joined regression predictions.",
        M,
    ),
    MetricSpec(
        "mlmon_regression_target_positive_total",
        "counter",
        "Sum of the positive labels of joined regression predictions.",
        M,
    ),
    MetricSpec(
        "mlmon_regression_target_negative_total",
        "counter",
        "Sum of the absolute values of the negative labels of joined regression "
        "predictions (the labels' sum is positive minus negative).",
        M,
    ),
    MetricSpec(
        "mlmon_regression_target_squared_total",
        "counter",
        "Sum of the squared labels of joined regression predictions.",
        M,
    ),
    MetricSpec(
        "mlmon_model_performance_estimated",
        "gauge",
        "Performance estimated from calibrated scores, without labels.",
        ("model", "metric"),
    ),
    MetricSpec(
        "mlmon_model_performance_estimation_error",
        "gauge",
        "Absolute difference between estimated and realised performance.",
        ("model", "metric"),
    ),
    MetricSpec(
        "mlmon_slow_predictions_total",
        "counter",
        "Predictions slower than the model's SLO latency target.",
        ("model", "version"),
    ),
    MetricSpec(
        "mlmon_predictions_estimated_total",
        "counter",
        "Predictions served, estimated by adding 1/sample_rate per record.",
        ("model", "version"),
    ),
    MetricSpec(
        "mlmon_slo_objective_ratio",
        "gauge",
        "Configured SLO objective (latency or availability).",
        ("model", "slo"),
        "ratio",
    ),
    MetricSpec(
        "mlmon_slo_latency_target_seconds",
        "gauge",
        "Configured latency target of the latency SLO.",
        M,
        "seconds",
    ),
)

BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOG}


def spec(name: str) -> MetricSpec:
    """The declared metric; KeyError names an undeclared one."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"metric {name!r} is not declared in the catalog") from None
