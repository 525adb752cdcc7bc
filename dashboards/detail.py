"""ml-model-detail: which feature drifted since when, and how the model performs, for one model."""

from __future__ import annotations

from dashboards import slices
from dashboards.grafana import (
    DS,
    EXPORTER_URL,
    Json,
    Layout,
    Query,
    Selectors,
    dashboard,
    exporter_url_variable,
    label_values,
    once,
    query_variable,
    rate,
    stat,
    state_mappings,
    state_timeline,
    timeseries,
)

UID = "mlmon-model-detail"
S = Selectors(model_op="=")
BY = "sum by (namespace, model)"
VERSION = "namespace, model, version"  # the labels of the per-version counters


def per_version(metric: str) -> str:
    """The rate of a per-version counter, once across replica pods (see grafana.once)."""
    return once(rate(S(metric)), VERSION)


def per_model(metric: str) -> str:
    """The rate of a counter labelled by model only, once across replica pods."""
    return once(rate(S(metric)), "namespace, model")


def feature(metric: str, labels: str = "feature, method") -> str:
    """A per-feature gauge of the chosen model and features, once across replica pods."""
    return S.gauge(metric, labels, feature=True)


def quantile(q: float, metric: str, labels: str = "namespace, model") -> str:
    """A latency quantile from a histogram's buckets."""
    return f"histogram_quantile({q}, sum by ({labels}, le) ({rate(S(metric + '_bucket'))}))"


def compared(kind: str) -> list[Query]:
    """The value a drift method compares (p-value for tests, else score) and its threshold."""
    p, score = (S.gauge(f"mlmon_{kind}_drift_{name}", "method") for name in ("p_value", "score"))
    return [Query(f"{p} or {score}", "{{method}}"),
            Query(S.gauge(f"mlmon_{kind}_drift_threshold", "method"), "threshold · {{method}}")]


def families(suffix: str, infix: str) -> str:
    """A model-level performance series in whichever unit family holds it ("_min", "min_")."""
    names = (f"mlmon_model_performance_{infix}ratio", f"mlmon_model_regression_error{suffix}",
             f"mlmon_model_loss{suffix}")
    return " or ".join(S.gauge(name, "metric") for name in names)


def slo_burn(ratio: str, slo: str, window: str) -> Query:
    """Bad-event ratio over the error budget, from the alerts' recording rules (as they alert)."""
    budget = S("namespace_model_slo:mlmon_slo_error_budget:ratio", extra=f'slo="{slo}"')
    return Query(f"{S(f'namespace_model:{ratio}:ratio_rate{window}')} / ignoring(slo) {budget}",
                 f"{slo} · {window}")


def overview(lay: Layout) -> None:
    """The model's state right now."""
    for title, metric, desc in (
            ("Dataset drift", "mlmon_dataset_drift_detected",
             "DRIFT when the share of drifted features reached the model's drift_share."),
            ("Multivariate drift", "mlmon_multivariate_drift_detected",
             "DRIFT when the joint distribution of the features moved past its threshold."),
            ("Prediction drift", "mlmon_prediction_drift_detected",
             "DRIFT when the model's outputs (or scores) drifted from the reference."),
            ("Target drift", "mlmon_target_drift_detected",
             "DRIFT when the arriving labels drifted from the reference labels.")):
        lay.add(stat(title, desc, "none", Query(f"max({S(metric)})"),
                     state_mappings("no drift", "DRIFT")), w=4, h=4)
    lay.add(stat("Label coverage", "Share of predictions in the performance window that already "
                 "have their label; realised performance rests on this share.", "percentunit",
                 Query(f"max({S('mlmon_label_coverage_ratio')})")), w=4, h=4)
    lay.add(stat("Window samples", "Records in the drift window at the last evaluation; below "
                 "min_samples the drift values are not exported.", "none",
                 Query(f"max({S('mlmon_window_samples')})")), w=4, h=4)


def data_drift(lay: Layout) -> None:
    """Per-feature drift: which feature, since when."""
    lay.add({"type": "row", "title": "Data drift"})
    lay.add(timeseries(
        "Drift score per feature (distance methods)", "PSI-style scores: a feature drifts when "
        "its line rises above its dashed threshold. Test methods (ks, chi2, ...) are in the "
        "p-value panel.", "none",
        [Query(f"{feature('mlmon_feature_drift_score')} unless "
               f"{feature('mlmon_feature_drift_p_value')}", "{{feature}} ({{method}})"),
         Query(f"{feature('mlmon_feature_drift_threshold')} unless "
               f"{feature('mlmon_feature_drift_p_value')}", "threshold · {{feature}}")]))
    lay.add(timeseries(
        "p-value per feature (test methods)", "ks, chi2, ...: the raw p-value against its "
        "dashed threshold (log scale). A feature drifts when its p-value corrected across the "
        "model's features (drift.correction) is below the threshold, so a line just below it "
        "may not be drift: the timeline below shows the decision.", "none",
        [Query(feature("mlmon_feature_drift_p_value"), "{{feature}} ({{method}})"),
         Query(f"{feature('mlmon_feature_drift_threshold')} and "
               f"{feature('mlmon_feature_drift_p_value')}", "threshold · {{feature}}")],
        log=True))
    severity = (f"clamp_max(({feature('mlmon_feature_drift_score')} / "
                f"{feature('mlmon_feature_drift_threshold')} unless "
                f"{feature('mlmon_feature_drift_p_value')}) or "
                f"({feature('mlmon_feature_drift_threshold')} / "
                f"clamp_min({feature('mlmon_feature_drift_p_value')}, 1e-12)), 10)")
    detected = feature("mlmon_feature_drift_detected", "feature")
    by = "ignoring(method)"  # the decision has no method label
    decided = (f"clamp_min({severity}, 1) * {by} {detected} + "
               f"clamp_max({severity}, 0.99) * {by} (1 - {detected})")
    lay.add(state_timeline(
        "Drift by feature over time", "One row per feature, coloured by how far it is past its "
        "own threshold: score/threshold, or threshold/raw p-value for tests (capped at 10). "
        "Red (1 and above) exactly while the exporter says the feature drifted "
        "(mlmon_feature_drift_detected, after the multiple-testing correction); a test the "
        "correction cleared stays just below 1. Read it to see which feature drifted first.",
        "none", Query(decided, "{{feature}}"), 0, 2), w=24, h=8)


def output_drift(lay: Layout) -> None:
    """Multivariate, prediction and target drift."""
    lay.add({"type": "row", "title": "Multivariate, prediction and target drift"})
    lay.add(timeseries(
        "Multivariate drift", "Drift of the features taken together; above the dashed "
        "threshold the joint distribution has moved even if no single feature did.", "none",
        [Query(S.gauge("mlmon_multivariate_drift_score", "method"), "{{method}}"),
         Query(S.gauge("mlmon_multivariate_drift_threshold", "method"),
               "threshold · {{method}}")]), w=8)
    lay.add(timeseries(
        "Prediction drift", "Drift of the outputs: for ks/chisquare the p-value (drift below the "
        "dashed threshold), for psi the score (drift above it).", "none",
        compared("prediction")), w=8)
    lay.add(timeseries(
        "Target drift", "Drift of the labels that arrived against the reference labels: for "
        "test methods the p-value (drift below the threshold), else the score (above).", "none",
        compared("target")), w=8)


def quality(lay: Layout) -> None:
    """Data quality ratios per feature."""
    lay.add({"type": "row", "title": "Data quality"})
    for title, metric, desc in (
            ("Missing values", "missing", "Share of window records where the feature is null "
             "or absent; a jump usually means an upstream join or schema change."),
            ("Out of range", "out_of_range", "Share of numeric values outside the configured "
             "(or reference) range."),
            ("Unseen categories", "unseen_category", "Share of categorical values not allowed "
             "or never seen in the reference.")):
        lay.add(timeseries(title, desc, "percentunit",
                           [Query(feature(f"mlmon_feature_{metric}_ratio", "feature"),
                                  "{{feature}}")]),
                w=8)


def performance(lay: Layout) -> None:
    """Realised against estimated performance, bounds and the reference baseline."""
    lay.add({"type": "row", "title": "Performance"})
    lay.add(timeseries(
        "Realised and estimated performance", "Solid lines: realised (from labels) and "
        "estimated (from scores, available before labels). Dashed: configured min/max and "
        "the value on the reference data. A solid line crossing a bound is a breach.", "none",
        [Query(families("", ""), "realised · {{metric}}"),
         Query(S.gauge("mlmon_model_performance_estimated_ratio", "metric"),
               "estimated · {{metric}}"),
         *(Query(families(f"_{kind}", f"{kind}_"), f"{kind} · {{{{metric}}}}")
           for kind in ("reference", "min", "max"))]), w=16)
    lay.add(timeseries(
        "Estimation error", "Absolute gap between estimated and realised performance; when it "
        "grows, trust the estimate less until labels catch up.", "none",
        [Query(S.gauge("mlmon_model_performance_estimation_error_ratio", "metric"),
               "{{metric}}")]), w=8)


def service(lay: Layout) -> None:
    """Latency, SLO burn, errors and volume."""
    lay.add({"type": "row", "title": "Latency, errors and SLO"})
    lay.add(timeseries(
        "Latency", "p50/p95/p99 of the latency producers report, against the dashed SLO "
        "latency target.", "s",
        [Query(quantile(0.5, "mlmon_prediction_latency_seconds"), "p50"),
         Query(quantile(0.95, "mlmon_prediction_latency_seconds"), "p95"),
         Query(quantile(0.99, "mlmon_prediction_latency_seconds"), "p99"),
         Query(S.gauge("mlmon_slo_latency_target_seconds"), "SLO target · latency")]))
    lay.add(timeseries(
        "SLO burn rate", "How fast each SLO spends its error budget over the alerts' windows "
        "(recording rules of alerts/): 1 spends it exactly over the SLO period, 14.4 over 1h "
        "and 5m pages. Needs the rules file loaded in Prometheus.", "none",
        [slo_burn(ratio, slo, window)
         for ratio, slo in (("mlmon_slow_predictions", "latency"),
                            ("mlmon_prediction_errors", "availability"))
         for window in ("5m", "1h", "6h")]))
    lay.add(timeseries(
        "Error rate", "Share of prediction records with status error.", "percentunit",
        [Query(f"{BY} ({per_version('mlmon_prediction_errors_total')}) / "
               f"{BY} ({per_version('mlmon_predictions_total')})", "errors")]))
    lay.add(timeseries(
        "Volume", "Prediction records per second: sampled (what the exporter received) and "
        "estimated (scaled up by each record's sample_rate, i.e. the real traffic).", "reqps",
        [Query(f"{BY} ({per_version('mlmon_predictions_total')})", "sampled"),
         Query(f"{BY} ({per_version('mlmon_predictions_estimated_total')})", "estimated")]))


def labels(lay: Layout) -> None:
    """How late labels arrive and how many predictions have one."""
    lay.add({"type": "row", "title": "Labels"})
    lay.add(timeseries(
        "Label delay", "Time from a prediction to its label (p50, p90); realised performance "
        "lags by about this much.", "s",
        [Query(quantile(0.5, "mlmon_label_delay_seconds"), "p50"),
         Query(quantile(0.9, "mlmon_label_delay_seconds"), "p90")]))
    lay.add(timeseries(
        "Label coverage and arrivals", "Share of predictions in the window with a label (left), "
        "labels per second and those whose prediction was unknown or expired.", "percentunit",
        [Query(S.gauge("mlmon_label_coverage_ratio"), "coverage"),
         Query(per_model("mlmon_labels_total"), "labels/s"),
         Query(per_model("mlmon_labels_unmatched_total"), "unmatched/s")],
        overrides=[{"matcher": {"id": "byRegexp", "options": ".*/s$"},
                    "properties": [{"id": "unit", "value": "reqps"},
                                   {"id": "custom.axisPlacement", "value": "right"}]}]))


def canary(lay: Layout) -> None:
    """Versions side by side, for canary rollouts."""
    lay.add({"type": "row", "title": "Per version (canary)"})
    lay.add(timeseries("Volume by version", "Sampled records per second per model version; "
                       "a canary's share of traffic.", "reqps",
                       [Query(per_version("mlmon_predictions_total"), "{{version}}")]), w=8)
    lay.add(timeseries("Error rate by version", "Share of records with status error per "
                       "version; a canary above the stable version is a rollback signal.",
                       "percentunit",
                       [Query(f"{per_version('mlmon_prediction_errors_total')} / "
                              f"{per_version('mlmon_predictions_total')}",
                              "{{version}}")]), w=8)
    lay.add(timeseries("p99 latency by version", "99th percentile latency per version, against "
                       "the dashed SLO target.", "s",
                       [Query(quantile(0.99, "mlmon_prediction_latency_seconds",
                                       "namespace, model, version"), "{{version}}"),
                        Query(S.gauge("mlmon_slo_latency_target_seconds"),
                              "SLO target · latency")]),
            w=8)


def build() -> Json:
    """The per-model dashboard."""
    lay = Layout()
    overview(lay)
    data_drift(lay)
    output_drift(lay)
    quality(lay)
    performance(lay)
    service(lay)
    labels(lay)
    canary(lay)
    slices.versions(lay)
    slices.segments(lay)
    variables = [
        query_variable("model", "Model", label_values("mlmon_records_read_total", "model"),
                       include_all=False),
        query_variable("feature", "Feature",
                       label_values("mlmon_feature_missing_ratio", "feature", model_op="="),
                       all_value=".*", multi=True),
        *slices.variables(),
        exporter_url_variable(),
    ]
    drilldown = {"type": "link", "title": "Drill-down page (reference vs window)",
                 "url": f"{EXPORTER_URL}/models/${{model}}", "targetBlank": True,
                 "icon": "external link", "tooltip": "The exporter's page for this model: "
                 "every feature's histograms against the reference", "asDropdown": False,
                 "includeVars": False, "keepTime": False, "tags": []}
    return dashboard(UID, "ML model detail", "One model: which feature drifted since when, "
                     "output and target drift, data quality, performance, latency and SLO, "
                     "labels, versions side by side and against the champion, and its worst "
                     "segments.", variables, lay, [drilldown], [change_annotation()])


def change_annotation() -> Json:
    """A marker over the minutes in which the exporter's change detector found a change."""
    detections = once(f"increase({S('mlmon_change_detections_total')}[2m])",
                      "namespace, model, signal")
    expr = f"sum by (signal) ({detections}) > 0"
    return {"name": "Change detected", "datasource": DS, "enable": True, "hide": False,
            "iconColor": "red", "expr": expr}
