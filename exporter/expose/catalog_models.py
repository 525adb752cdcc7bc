"""Metrics about the models: drift, data quality, labels and service-level objectives.

The performance metrics, one family per unit, are in catalog_performance.
"""

from __future__ import annotations

from exporter.expose.spec import MODEL, MODEL_FEATURE, MODEL_FEATURE_METHOD, MetricSpec

MODELS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "mlmon_feature_drift_score",
        "gauge",
        "Drift score of a feature's window against its reference.",
        MODEL_FEATURE_METHOD,
    ),
    MetricSpec(
        "mlmon_feature_drift_p_value",
        "gauge",
        "p-value of a feature's drift test (test methods only).",
        MODEL_FEATURE_METHOD,
    ),
    MetricSpec(
        "mlmon_feature_drift_threshold",
        "gauge",
        "Threshold the feature's drift score or p-value is compared with.",
        MODEL_FEATURE_METHOD,
    ),
    MetricSpec(
        "mlmon_feature_drift_detected", "gauge", "1 when the feature has drifted.", MODEL_FEATURE
    ),
    MetricSpec(
        "mlmon_dataset_drift_share_ratio",
        "gauge",
        "Share of evaluated features that have drifted.",
        MODEL,
        "ratio",
    ),
    MetricSpec(
        "mlmon_dataset_drift_detected",
        "gauge",
        "1 when the drifted share reaches the model's drift_share.",
        MODEL,
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
    MetricSpec(
        "mlmon_prediction_drift_detected", "gauge", "1 when the predictions drifted.", MODEL
    ),
    MetricSpec(
        "mlmon_feature_missing_ratio",
        "gauge",
        "Share of window records where the feature is null or absent.",
        MODEL_FEATURE,
        "ratio",
    ),
    MetricSpec(
        "mlmon_feature_reference_missing_ratio",
        "gauge",
        "Share of the fitted reference rows where the feature is null or absent.",
        MODEL_FEATURE,
        "ratio",
    ),
    MetricSpec(
        "mlmon_feature_out_of_range_ratio",
        "gauge",
        "Share of present numeric values outside the configured or reference range.",
        MODEL_FEATURE,
        "ratio",
    ),
    MetricSpec(
        "mlmon_feature_unseen_category_ratio",
        "gauge",
        "Share of present categorical values not in the allowed or reference set.",
        MODEL_FEATURE,
        "ratio",
    ),
    MetricSpec(
        "mlmon_feature_expected_unseen_category_ratio",
        "gauge",
        "Share of present values a healthy window holds outside the allowed or reference set: "
        "the reference rows outside allowed, or the rows whose category the reference holds "
        "once (Good-Turing).",
        MODEL_FEATURE,
        "ratio",
    ),
    MetricSpec(
        "mlmon_multivariate_drift_score",
        "gauge",
        "Multivariate drift score of the window against the reference (pca_reconstruction: "
        "mean row error, each capped at the reference rows' 99th percentile).",
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
        MODEL,
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
    MetricSpec("mlmon_target_drift_detected", "gauge", "1 when the labels drifted.", MODEL),
    MetricSpec(
        "mlmon_label_delay_seconds",
        "histogram",
        "Time from a prediction to the arrival of its label.",
        MODEL,
        "seconds",
    ),
    MetricSpec(
        "mlmon_label_coverage_ratio",
        "gauge",
        "Share of the predictions with an id made within the window's duration that have been "
        "joined to their label.",
        MODEL,
        "ratio",
    ),
    MetricSpec(
        "mlmon_labeled_predictions_total",
        "counter",
        "Predictions joined to a label, by actual and predicted class.",
        ("model", "actual", "predicted"),
    ),
    MetricSpec(
        "mlmon_regression_labeled_total",
        "counter",
        "Regression predictions joined to a label.",
        MODEL,
    ),
    MetricSpec(
        "mlmon_regression_absolute_error_total",
        "counter",
        "Sum of absolute errors of joined regression predictions.",
        MODEL,
    ),
    MetricSpec(
        "mlmon_regression_squared_error_total",
        "counter",
        "Sum of squared errors of joined regression predictions.",
        MODEL,
    ),
    MetricSpec(
        "mlmon_regression_target_positive_total",
        "counter",
        "Sum of the positive labels of joined regression predictions.",
        MODEL,
    ),
    MetricSpec(
        "mlmon_regression_target_negative_total",
        "counter",
        "Sum of the absolute values of the negative labels of joined regression "
        "predictions (the labels' sum is positive minus negative).",
        MODEL,
    ),
    MetricSpec(
        "mlmon_regression_target_squared_total",
        "counter",
        "Sum of the squared labels of joined regression predictions.",
        MODEL,
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
        MODEL,
        "seconds",
    ),
    MetricSpec(
        "mlmon_change_detections_total",
        "counter",
        "Changes the CUSUM detector found in a signal, counted as records are read live.",
        ("model", "signal"),
    ),
    MetricSpec(
        "mlmon_change_statistic",
        "gauge",
        "The change detector's CUSUM statistic; a change is detected when it passes the "
        "threshold, and it restarts at 0.",
        ("model", "signal"),
    ),
    MetricSpec(
        "mlmon_change_threshold",
        "gauge",
        "The threshold the change detector's statistic is compared with.",
        ("model", "signal"),
    ),
    MetricSpec(
        "mlmon_change_last_timestamp_seconds",
        "gauge",
        "Time of the record at which the change detector last found a change.",
        ("model", "signal"),
        "seconds",
    ),
)
