"""ml-fleet-overview: every model in one table, with links into the model dashboard."""

from __future__ import annotations

from dashboards.grafana import (
    Json,
    Layout,
    Query,
    Selectors,
    column,
    dashboard,
    label_values,
    once,
    query_variable,
    rate,
    stat,
    table,
    timeseries,
)

UID = "mlmon-fleet-overview"
DETAIL_URL = ("/d/mlmon-model-detail/ml-model-detail?${datasource:queryparam}&${cluster:queryparam}"
              "&${namespace:queryparam}&var-model=${__value.raw}&${__url_time_range}")
S = Selectors(model_op="=~")
BY = "sum by (namespace, model)"
VERSION = "namespace, model, version"  # the labels of the per-version counters
OK_MAP = {"type": "value", "options": {"0": {"text": "OK", "color": "green", "index": 0}}}
BAD_RANGE = {"type": "range", "options": {"from": 1, "to": 1e9,
                                          "result": {"color": "red", "index": 1}}}


# Performance families, one per unit, each with its bounds: (value, min, max).
REALISED = (("mlmon_model_performance_ratio", "mlmon_model_performance_min_ratio",
             "mlmon_model_performance_max_ratio"),
            ("mlmon_model_regression_error", "mlmon_model_regression_error_min",
             "mlmon_model_regression_error_max"),
            ("mlmon_model_loss", "mlmon_model_loss_min", "mlmon_model_loss_max"))
ESTIMATED = (("mlmon_model_performance_estimated_ratio", "mlmon_model_performance_min_ratio",
              "mlmon_model_performance_max_ratio"),)


def breaches(units: tuple[tuple[str, str, str], ...]) -> str:
    """Count of performance metrics outside their exported bounds, 0 when all are inside."""
    outside = " or ".join(f"({S(v)} < {S(lo)}) or ({S(v)} > {S(hi)})" for v, lo, hi in units)
    return (f"count by (namespace, model) ({once(outside, 'namespace, model, metric')})"
            f" or 0 * group by (namespace, model) ({S(units[0][0])})")


def error_ratio(by: str) -> str:
    """Share of prediction records with status error."""
    return (f"{by} ({once(rate(S('mlmon_prediction_errors_total')), VERSION)})"
            f" / {by} ({once(rate(S('mlmon_predictions_total')), VERSION)})")


def p99(labels: str) -> str:
    """99th percentile of the producer-reported latency."""
    return (f"histogram_quantile(0.99, sum by ({labels}, le) "
            f"({rate(S('mlmon_prediction_latency_seconds_bucket'))}))")


FIRING_ALERTS = S("ALERTS", extra='alertname=~"MLMon.*", alertstate="firing"')
PREDICTIONS_READ = S("mlmon_records_read_total", extra='kind="predictions"')
# An alert of a per-model rule fires once per replica pod (its `instance`): counted once.
FIRING = (f"count by (namespace, model) (max without (instance, pod) ({FIRING_ALERTS}))"
          f" or 0 * group by (namespace, model) ({PREDICTIONS_READ})")
VOLUME = f"{BY} ({once(rate(S('mlmon_predictions_total')), VERSION)})"


def fleet_table() -> Json:
    """One row per model; each column is an instant query, merged on namespace and model."""
    queries = [
        Query(f"max by (namespace, model) ({S('mlmon_dataset_drift_share_ratio')})", instant=True),
        Query(f"max by (namespace, model) ({S('mlmon_dataset_drift_detected')})", instant=True),
        Query(breaches(REALISED), instant=True),
        Query(breaches(ESTIMATED), instant=True),
        Query(VOLUME, instant=True),
        Query(p99("namespace, model"), instant=True),
        Query(error_ratio(BY), instant=True),
        Query(f"max by (namespace, model) ({S('mlmon_label_coverage_ratio')})", instant=True),
        Query(FIRING, instant=True),
    ]
    drift = [{"id": "mappings", "value": [
        {"type": "value", "options": {"0": {"text": "no drift", "color": "green", "index": 0},
                                      "1": {"text": "DRIFT", "color": "red", "index": 1}}}]}]
    flag = [{"id": "mappings", "value": [OK_MAP, BAD_RANGE]}]
    link = {"matcher": {"id": "byName", "options": "model"}, "properties": [
        {"id": "links", "value": [{"title": "Open ${__value.raw} in the model dashboard",
                                  "url": DETAIL_URL}]}]}
    columns = [column("A", "Drift share", "percentunit"), column("B", "Dataset drift", "none",
                                                               drift),
               column("C", "Realised perf. out of bounds", "none", flag),
               column("D", "Estimated perf. out of bounds", "none", flag),
               column("E", "Volume (sampled)", "reqps"), column("F", "p99 latency", "s"),
               column("G", "Error rate", "percentunit"), column("H", "Label coverage",
                                                                "percentunit"),
               column("I", "Firing alerts", "none", flag), link]
    return table("Models", "One row per model. Dataset drift and the two 'out of bounds' columns "
                 "are the first place to look: a count above 0 means that many performance "
                 "metrics left the min/max configured for the model. Click a model to open its "
                 "detail dashboard.", queries, columns, ["namespace", "model"])


def performance_table() -> Json:
    """One row per model and metric: realised and estimated next to the configured bounds."""
    names = (("mlmon_model_performance_ratio", "mlmon_model_regression_error", "mlmon_model_loss"),
             ("mlmon_model_performance_estimated_ratio",),
             ("mlmon_model_performance_reference_ratio", "mlmon_model_regression_error_reference",
              "mlmon_model_loss_reference"),
             ("mlmon_model_performance_min_ratio", "mlmon_model_regression_error_min",
              "mlmon_model_loss_min"),
             ("mlmon_model_performance_max_ratio", "mlmon_model_regression_error_max",
              "mlmon_model_loss_max"))
    queries = [Query(f"max by (namespace, model, metric) ({' or '.join(map(S, n))})",
                     instant=True) for n in names]
    titles = ("Realised", "Estimated", "Reference", "Min", "Max")
    columns = [column(chr(ord("A") + i), t, "none") for i, t in enumerate(titles)]
    return table("Performance against bounds", "Each performance metric of each model: realised "
                 "(from labels), estimated (from scores, before labels arrive), the value on the "
                 "reference data, and the configured min/max. Read a row left to right: "
                 "realised or estimated outside [min, max] is a breach.",
                 queries, columns, ["namespace", "model", "metric"])


def build() -> Json:
    """The fleet overview dashboard."""
    lay = Layout()
    lay.add(stat("Models", "How many models send predictions to the exporter (selected ones).",
                 "none", Query(f"count(group by (namespace, model) "
                               f"({S('mlmon_records_read_total')}))")), w=6, h=4)
    lay.add(stat("Models with dataset drift", "Models whose share of drifted features reached "
                 "their drift_share. 0 is the healthy value.", "none",
                 Query(f"sum({once(S('mlmon_dataset_drift_detected'), 'namespace, model')})")),
            w=6, h=4)
    lay.add(stat("Predictions per second", "Sampled prediction records per second, all selected "
                 "models together.", "reqps",
                 Query(f"sum({VOLUME})")), w=6, h=4)
    lay.add(stat("Firing alerts", "Alerts of the selected models firing now; open the model "
                 "dashboard of the row with a non-zero 'Firing alerts' column.", "none",
                 Query(f"sum({FIRING})")), w=6, h=4)
    lay.add(fleet_table(), w=24, h=9)
    lay.add(performance_table(), w=24, h=8)
    lay.add(timeseries("Drift share by model", "Share of each model's features that drifted "
                       "against the reference; the model is flagged when it reaches its "
                       "drift_share.", "percentunit",
                       [Query(f"max by (namespace, model) "
                              f"({S('mlmon_dataset_drift_share_ratio')})", "{{model}}")]))
    lay.add(timeseries("Volume by model", "Sampled prediction records per second per model. "
                       "A drop to zero means the producer stopped writing to Redis.", "reqps",
                       [Query(VOLUME, "{{model}}")]))
    lay.add(timeseries("p99 latency by model", "99th percentile of the latency producers "
                       "report; compare with each model's SLO target on its dashboard.", "s",
                       [Query(p99("namespace, model"), "{{model}}")]))
    lay.add(timeseries("Error rate by model", "Share of prediction records with status error.",
                       "percentunit", [Query(error_ratio(BY), "{{model}}")]))
    variables = [
        query_variable("model", "Model", label_values("mlmon_records_read_total", "model"),
                       multi=True),
    ]
    return dashboard(UID, "ML fleet overview", "Every monitored model at a glance: drift, "
                     "performance against bounds, traffic, latency, labels and alerts.",
                     variables, lay)
