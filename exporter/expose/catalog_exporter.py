"""Metrics about the exporter itself and the streams it reads: health, ingest, evaluation runs."""

from __future__ import annotations

from exporter.expose.spec import MODEL, MetricSpec

EXPORTER: tuple[MetricSpec, ...] = (
    MetricSpec(
        "mlmon_build_info",
        "gauge",
        "Always 1; the exporter's version, the source revision it was built from (unknown "
        "without one), the Python version it runs on and the external URL of its drill-down "
        "pages.",
        ("version", "revision", "python_version", "external_url"),
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
        "1 while the stream reader runs, 0 while it is restarting after a crash; absent "
        "before it starts (while start-up fits the references).",
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
        "Entries added to the stream that the reader has not read yet (Redis 7.0 and later); "
        "absent until the reader has checked the stream.",
        ("model", "kind"),
    ),
    MetricSpec(
        "mlmon_stream_lag_seconds",
        "gauge",
        "Time from the oldest entry the reader has not read yet to the newest entry in "
        "the stream; 0 when it has read everything, absent until it has checked the stream.",
        ("model", "kind"),
        "seconds",
    ),
    MetricSpec(
        "mlmon_series_limited_total",
        "counter",
        "Values folded into __other__ by the per-model caps, by kind: category, class, version, "
        "tag.",
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
        MODEL,
        "seconds",
    ),
    MetricSpec(
        "mlmon_evaluation_last_success_timestamp_seconds",
        "gauge",
        "Unix time when the last evaluation succeeded.",
        MODEL,
        "seconds",
    ),
    MetricSpec(
        "mlmon_reference_missing",
        "gauge",
        "1 while the model's Redis reference key is missing: the copy fitted before is "
        "used, or, with none (a restart after the loss), the model is not evaluated; "
        "0 otherwise (Redis-key references only).",
        MODEL,
    ),
    MetricSpec(
        "mlmon_reference_lost_total",
        "counter",
        "Times the model's Redis reference key was found missing after it had been "
        "fitted (FLUSHALL, eviction, a restart without persistence).",
        MODEL,
    ),
    MetricSpec(
        "mlmon_evaluation_interval_seconds",
        "gauge",
        "Configured time between evaluations (for a cron schedule, between its next two runs).",
        MODEL,
        "seconds",
    ),
    MetricSpec(
        "mlmon_model_configured_timestamp_seconds",
        "gauge",
        "Unix time when the model's current config section took effect (start-up or "
        "the reload that changed it).",
        MODEL,
        "seconds",
    ),
    MetricSpec(
        "mlmon_evaluation_failures_total",
        "counter",
        "Evaluations that raised; the previous values keep being served.",
        MODEL,
    ),
    MetricSpec(
        "mlmon_window_samples",
        "gauge",
        "Records in the drift window at the last evaluation.",
        MODEL,
    ),
    MetricSpec("mlmon_reference_samples", "gauge", "Rows in the fitted reference data set.", MODEL),
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
    MetricSpec("mlmon_labels_total", "counter", "Label records received.", MODEL),
    MetricSpec(
        "mlmon_labels_unmatched_total",
        "counter",
        "Labels whose prediction was unknown or had expired.",
        MODEL,
    ),
)
