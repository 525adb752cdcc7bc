"""ml-monitoring-exporter: the exporter's health, to tell a quiet model from a broken exporter."""

from __future__ import annotations

from dashboards.grafana import (
    Json,
    Layout,
    Query,
    Selectors,
    dashboard,
    label_values,
    once,
    query_variable,
    rate,
    stat,
    timeseries,
)

UID = "mlmon-exporter"
S = Selectors(model_op="=~")
JOB = 'job=~"$job"'
UP_MAP = [{"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                        "1": {"text": "UP", "color": "green", "index": 1}}}]
STALENESS = f"time() - {S('mlmon_evaluation_last_success_timestamp_seconds')}"


def counted(metric: str, labels: str) -> str:
    """Rate of a per-model counter by `labels` (its own), taken once across replica pods
    (grafana.once) and summed across namespaces."""
    return f"sum by ({labels}) ({once(rate(S(metric)), f'namespace, {labels}')})"


def target(metric: str) -> str:
    """A per-target selector: namespace and job, no model."""
    return S(metric, model=False, extra=JOB)


def build() -> Json:
    """The exporter health dashboard."""
    lay = Layout()
    lay.add(stat("Scrape up", "1 when Prometheus scraped the exporter successfully; 0 means the "
                 "process is down or unreachable.", "none", Query(f"min({target('up')})"),
                 UP_MAP), w=5, h=4)
    lay.add(stat("Redis up", "1 when the exporter's last Redis command succeeded; while 0 the "
                 "windows stop filling and the last values keep being served.", "none",
                 Query(f"min({target('mlmon_redis_up')})"), UP_MAP), w=5, h=4)
    lay.add(stat("Reader up", "1 while the stream reader runs; 0 while it restarts after a "
                 "crash, when nothing is read (see the log and the restarts panel).", "none",
                 Query(f"min({target('mlmon_reader_up')})"), UP_MAP), w=5, h=4)
    lay.add(stat("Version", "The exporter version each selected target runs; two values mean a "
                 "rollout is in progress.", "none",
                 Query(f"count by (version) ({target('mlmon_build_info')})", "{{version}}")),
            w=4, h=4)
    lay.add(stat("Oldest evaluation", "Age of the least recent successful evaluation of any "
                 "selected model; far above the schedule interval means evaluations are stuck.",
                 "s", Query(f"max({STALENESS})")),
            w=5, h=4)
    lay.add(timeseries("Records read", "Valid records per second read from the Redis streams, "
                       "by model and kind (predictions or labels).", "reqps",
                       [Query(counted("mlmon_records_read_total", "model, kind"),
                              "{{model}} {{kind}}")]))
    lay.add(timeseries("Invalid records by reason", "Records rejected while decoding, per "
                       "second; the reason names the broken field (see docs/wire-format.md).",
                       "reqps",
                       [Query(counted("mlmon_records_invalid_total", "model, reason"),
                              "{{model}} {{reason}}")]))
    lay.add(timeseries("Stream lag (time)", "How much older the newest entry the reader has "
                       "read is than the newest entry in each stream; 0 when caught up. A gap "
                       "that keeps growing means the exporter cannot keep up.", "s",
                       [Query(f"max by (model, kind) ({S('mlmon_stream_lag_seconds')})",
                              "{{model}} {{kind}}")]))
    lay.add(timeseries("Stream lag (entries)", "Entries added to each stream that the reader "
                       "has not read yet (Redis 7.0 and later; no data on older servers).",
                       "none",
                       [Query(f"max by (model, kind) ({S('mlmon_stream_lag_entries')})",
                              "{{model}} {{kind}}")]))
    lay.add(timeseries("Reader restarts", "Restarts of the stream reader after a crash in each "
                       "interval; every one is a bug with a traceback in the log.", "none",
                       [Query(f"sum by (instance) "
                              f"(increase({target('mlmon_reader_restarts_total')}"
                              f"[$__rate_interval]))", "{{instance}}")]))
    lay.add(timeseries("Unknown fields and lost entries", "Records per second with a top-level "
                       "key the wire format does not define (still used; the log names the "
                       "key), and entries per second lost because ingesting them raised (a bug).",
                       "reqps",
                       [Query(counted("mlmon_records_unknown_field_total", "model, kind"),
                              "unknown field · {{model}} {{kind}}"),
                        Query(counted("mlmon_stream_entries_lost_total", "model, kind"),
                              "lost · {{model}} {{kind}}")]))
    lay.add(timeseries("Evaluation duration", "Wall time of each model's last successful "
                       "evaluation (the slowest replica's); close to the schedule interval "
                       "means the exporter cannot keep up.", "s",
                       [Query(S.gauge("mlmon_evaluation_duration_seconds"), "{{model}}")]), w=8)
    lay.add(timeseries("Evaluation staleness", "Seconds since each model's last successful "
                       "evaluation (the stalest replica's); it should saw-tooth below the "
                       "schedule interval.", "s",
                       [Query(once(STALENESS, "namespace, model"), "{{model}}")]), w=8)
    lay.add(timeseries("Evaluation failures", "Evaluations that raised in each interval; the "
                       "previous values keep being served meanwhile.", "none",
                       [Query(f"sum by (model) "
                              f"(increase({S('mlmon_evaluation_failures_total')}"
                              f"[$__rate_interval]))", "{{model}}")]), w=8)
    lay.add(timeseries("Window sizes", "Records in each model's drift window and rows in its "
                       "reference; a window below min_samples exports no drift.", "none",
                       [Query(S.gauge("mlmon_window_samples"), "window · {{model}}"),
                        Query(S.gauge("mlmon_reference_samples"), "reference · {{model}}")]))
    lay.add(timeseries("Labels joined", "Labels per second, and those whose prediction was "
                       "unknown or expired (a horizon too short, or ids that do not match).",
                       "reqps",
                       [Query(counted("mlmon_labels_total", "model"),
                              "labels · {{model}}"),
                        Query(counted("mlmon_labels_unmatched_total", "model"),
                              "unmatched · {{model}}")]))
    lay.add(timeseries("Scrape duration", "How long Prometheus takes to scrape the exporter; a "
                       "scrape only reads the last snapshot, so this should stay flat.", "s",
                       [Query(target("scrape_duration_seconds"), "{{instance}}")]))
    lay.add(timeseries("Samples per scrape", "Series the exporter serves per scrape; it grows "
                       "with models, features, versions and reasons, all bounded.", "none",
                       [Query(target("scrape_samples_scraped"), "{{instance}}")]))
    variables = [
        query_variable("job", "Job", label_values("mlmon_build_info", "job"), multi=True),
        query_variable("model", "Model", label_values("mlmon_records_read_total", "model",
                                                      extra=JOB), multi=True),
    ]
    return dashboard(UID, "ML monitoring exporter", "The exporter's own health: scrape, Redis and "
                     "reader state, records read and rejected, stream lag, evaluations, windows "
                     "and scrape cost.",
                     variables, lay)
