"""The model dashboard's slices: segments of its traffic and its versions against the champion."""

from __future__ import annotations

from dashboards.grafana import (
    Json,
    Layout,
    Query,
    Selectors,
    column,
    label_values,
    query_variable,
    stat,
    state_timeline,
    table,
    timeseries,
)

S = Selectors(model_op="=")
SLICE = 'segment=~"$segment", segment_value=~"$segment_value"'
BY_SLICE = "max by (namespace, model, segment, segment_value)"
SLICE_LEGEND = "{{segment}}={{segment_value}}"
PER_SLICE = "segment, segment_value"  # the own labels of a per-slice gauge
UNITS = ("performance_ratio", "regression_error", "loss")


def segment(metric: str, *, feature: bool = False) -> str:
    """A selector of the chosen model, segments and segment values (and features)."""
    return S(metric, feature=feature, extra=SLICE)


def performance(kind: str, labels: str, select: str = "") -> str:
    """A slice's realised metric in whichever unit family holds it, once across replica pods."""
    return " or ".join(S.gauge(f"mlmon_{kind}_{unit}", labels, extra=select) for unit in UNITS)


def segment_bounds(bound: str) -> str:
    """The bound each segment value's metric is held to (the model's, or its own baseline's
    widened for sampling error) in every unit family, drawn dashed next to the slices."""
    names = (f"mlmon_segment_performance_{bound}_ratio", f"mlmon_segment_regression_error_{bound}",
             f"mlmon_segment_loss_{bound}")
    return " or ".join(S.gauge(name, f"{PER_SLICE}, metric", extra=SLICE) for name in names)


def variables() -> list[Json]:
    """The segment keys of the chosen model, then the values of the chosen keys."""
    values_of = S("mlmon_segment_samples", extra='segment=~"$segment"')
    return [
        query_variable("segment", "Segment",
                       label_values("mlmon_segment_samples", "segment", model_op="="),
                       all_value=".*", multi=True),
        query_variable("segment_value", "Segment value",
                       f"label_values({values_of}, segment_value)", all_value=".*",
                       multi=True),
    ]


def worst_segments() -> Json:
    """One row per segment value, the most drifted first, with its samples and whether decided."""
    queries = [
        Query(f"{BY_SLICE} ({segment('mlmon_segment_drift_share_ratio')})", instant=True),
        Query(f"{BY_SLICE} ({segment('mlmon_segment_drift_detected')})", instant=True),
        Query(f"sum by (namespace, model, segment, segment_value) (max by (namespace, model, "
              f"segment, segment_value, metric) "
              f"({segment('mlmon_segment_performance_out_of_bounds')}))", instant=True),
        Query(f"{BY_SLICE} ({segment('mlmon_segment_samples')})", instant=True),
        Query(f"{BY_SLICE} ({segment('mlmon_segment_evaluated')})", instant=True),
    ]
    drift = [{"id": "mappings", "value": [{"type": "value", "options": {
        "0": {"text": "no drift", "color": "green", "index": 0},
        "1": {"text": "DRIFT", "color": "red", "index": 1}}}]}]
    evaluated = [{"id": "mappings", "value": [{"type": "value", "options": {
        "0": {"text": "too few samples", "color": "text", "index": 0},
        "1": {"text": "yes", "color": "green", "index": 1}}}]}]
    out_of_bounds = [{"id": "mappings", "value": [
        {"type": "value", "options": {"0": {"text": "0", "color": "green", "index": 0}}},
        {"type": "range", "options": {"from": 1, "to": None,
                                      "result": {"color": "red", "index": 1}}}]}]
    columns = [column("A", "Drift share", "percentunit"), column("B", "Segment drift", "none",
                                                                 drift),
               column("C", "Metrics out of bounds", "none", out_of_bounds),
               column("D", "Samples", "none"), column("E", "Evaluated", "none", evaluated)]
    panel = table("Worst segments", "One row per segment value, the largest share of drifted "
                  "features first; 'Metrics out of bounds' counts the realised metrics outside "
                  "the model's bounds within it. A value with too few samples (below "
                  "min_samples) has no decision: its drift columns stay empty.", queries,
                  columns, ["namespace", "model", "segment", "segment_value"])
    panel["options"]["sortBy"] = [{"displayName": "Drift share", "desc": True}]
    return panel


def segments(lay: Layout) -> None:
    """Which segment values drift or underperform, and in which features."""
    lay.add({"type": "row", "title": "Segments"})
    lay.add(worst_segments(), w=24, h=9)
    lay.add(state_timeline(
        "Drift share by segment over time", "One row per segment value, coloured by the share "
        "of its features that drifted (green 0, red 1): which slice of the traffic drifted "
        "first, and whether the whole model followed.", "percentunit",
        Query(f"{BY_SLICE} ({segment('mlmon_segment_drift_share_ratio')})", SLICE_LEGEND), 0, 1),
        w=12)
    lay.add(state_timeline(
        "Feature drift within segments", "One row per segment value and feature (the feature "
        "variable selects them): red while the feature has drifted within that value against "
        "its reference rows (or the whole reference).", "none",
        Query(f"max by (namespace, model, segment, segment_value, feature) "
              f"({segment('mlmon_segment_feature_drift_detected', feature=True)})",
              f"{SLICE_LEGEND} · {{{{feature}}}}"), 0, 1), w=12)
    lay.add(timeseries(
        "Feature drift p-value within segments", "Test methods only, the raw p-value (log "
        "scale): the lower, the stronger the evidence that the feature moved within the "
        "segment value. Whether it drifted is decided after the correction across features "
        "and segments together: the timeline beside this panel.", "none",
        [Query(S.gauge("mlmon_segment_feature_drift_p_value", f"{PER_SLICE}, feature, method",
                       feature=True, extra=SLICE),
               f"{SLICE_LEGEND} · {{{{feature}}}} ({{{{method}}}})")], log=True), w=8)
    per_metric = f"{PER_SLICE}, metric"
    lay.add(timeseries(
        "Realised performance by segment", "Each segment value's realised metrics from its "
        "labels, against the bound it is held to (dashed): the model's min/max, or its own "
        "baseline less max_drop and an allowance for the sampling error of a small segment. "
        "A segment below its bar while the model is above its own is where the errors "
        "concentrate; the bar is what MLMonSegmentPerformanceOutOfBounds compares with.",
        "none",
        [Query(performance("segment", per_metric, SLICE), f"{SLICE_LEGEND} · {{{{metric}}}}"),
         Query(segment_bounds("min"),
               f"min · {SLICE_LEGEND} · {{{{metric}}}}"),
         Query(segment_bounds("max"),
               f"max · {SLICE_LEGEND} · {{{{metric}}}}")]),
        w=8)
    lay.add(timeseries(
        "Samples by segment", "Predictions of each segment value in the evaluated window; the "
        "values past max_values count under __other__.", "none",
        [Query(S.gauge("mlmon_segment_samples", PER_SLICE, extra=SLICE), SLICE_LEGEND)]), w=8)


def versions(lay: Layout) -> None:
    """Each challenger version against the champion over the same window."""
    lay.add({"type": "row", "title": "Versions: challengers against the champion"})
    champion = stat("Champion", "The version challengers are compared with: versions.champion "
                    "in the config, else the one with the most traffic in the window.", "none",
                    Query(f"max by (version) ({S('mlmon_version_champion_info')})", "{{version}}"))
    champion["options"]["textMode"] = "name"
    lay.add(champion, w=4, h=8)
    lay.add(timeseries(
        "Realised performance by version", "Each version's realised metrics over its own "
        "labelled predictions in the same window.", "none",
        [Query(performance("version", "version, metric"), "{{version}} · {{metric}}")]), w=10)
    lay.add(timeseries(
        "Labelled samples by version", "Labelled predictions of each version in the window; "
        "below versions.min_labeled on either side there is no comparison.", "none",
        [Query(S.gauge("mlmon_version_labeled_samples", "version"), "{{version}}")]), w=10)
    lay.add(timeseries(
        "p-value: challenger worse than the champion", "One-sided p-value per challenger and "
        "metric (log scale): two-proportion z for accuracy, precision and recall, DeLong for "
        "ROC AUC, Welch for errors and losses. Below the model's versions.alpha it is worse.",
        "none", [Query(S.gauge("mlmon_version_comparison_p_value", "version, metric"),
                       "{{version}} · {{metric}}")],
        log=True), w=8)
    lay.add(state_timeline(
        "Challenger worse", "One row per challenger and metric: red while the challenger is "
        "significantly worse than the champion on it (what MLMonChallengerWorse alerts on).",
        "none", Query(f"max by (namespace, model, version, metric) "
                      f"({S('mlmon_version_worse')})", "{{version}} · {{metric}}"), 0, 1), w=8)
    lay.add(timeseries(
        "Prediction drift from the champion", "How far each challenger's predictions are from "
        "the champion's over the same window: for ks/chisquare the statistic, with the drift "
        "decision in the tooltip's 'drifted' series (1: drifted).", "none",
        [Query(S.gauge("mlmon_version_prediction_drift_score", "version, method"),
               "{{version}} ({{method}})"),
         Query(S.gauge("mlmon_version_prediction_drift_detected", "version"),
               "drifted · {{version}}")]), w=8)
