"""What the demo prints: where to look, which series to watch, and when the drift begins.

A first-time user learns the exporter from this text, so it names real pages and series.
"""

from __future__ import annotations

# What the simulated fraud model changes once it drifts (exporter/demo/simulate.py).
DRIFTING_MODEL = "fraud"
DRIFTING_FEATURES = ("amount", "country")
# A 16-dimension embedding of the merchant's description (type: embedding, tested by pca_ks).
DRIFTING_EMBEDDING = "merchant_text"
# The segment whose own feature shifts too, too little to move the feature over all traffic.
DRIFTING_SEGMENT = ("channel", "app", "age")


def base_url(listen_address: str, port: int) -> str:
    """The URL to open: loopback when the listener binds every interface."""
    host = listen_address.rpartition(":")[0].strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def say(text: str) -> None:
    """Print at once: the demo's output is read while it runs, often through a pipe."""
    print(text, flush=True)


def _shifting() -> str:
    """The fraud model's features that shift, the embedding last."""
    return f"{', '.join(DRIFTING_FEATURES)} and the {DRIFTING_EMBEDDING} embedding"


def introduction(base: str, redis_port: int, drift_after: float, every: float) -> str:
    """The opening lines: the two models, the pages to open and the series to watch."""
    features = _shifting()
    model = f'model="{DRIFTING_MODEL}"'
    return "\n".join(
        [
            "ml-monitoring-exporter demo: two simulated models write predictions and labels to "
            "an embedded Redis",
            f"  fraud  binary classifier; {features} start to shift after {drift_after:g}s",
            "  eta    regressor; stays healthy, so nothing should fire for it",
            "",
            "open:",
            f"  {base}/models          every model: drift share, drifted features, performance",
            f"  {base}/models/{DRIFTING_MODEL}    its features, furthest past their threshold "
            "first, with histograms; its channel segments and its versions v1/v2",
            f"  {base}/metrics         what Prometheus scrapes",
            f"  {base}/readyz          ready once Redis answers and the references are loaded",
            "",
            f"watch in /metrics (models are evaluated every {every:g}s):",
            f"  mlmon_feature_drift_detected{{{model}}}      1 for each drifted feature",
            f'  mlmon_feature_drift_p_value{{{model},feature="{DRIFTING_EMBEDDING}"}}  the '
            "embedding's test (pca_ks: KS on its principal components)",
            f"  mlmon_dataset_drift_detected{{{model}}}      1 once most features drift",
            f"  mlmon_prediction_drift_detected{{{model}}}   1 once the scores shift",
            f"  mlmon_model_performance_ratio{{{model}}}     realised accuracy, roc_auc, ... "
            "as labels arrive",
            f"  mlmon_model_performance_min_ratio{{{model}}} the bound: reference accuracy - "
            "max_drop",
            f"  mlmon_segment_drift_detected{{{model}}}      per channel: 1 once that "
            "channel drifts",
            f"  mlmon_change_detections_total{{{model}}}     rises within a few hundred labels "
            "of fraud's accuracy drop",
            f"  mlmon_version_worse{{{model}}}               0: canary v2 is the same "
            "model as v1 here; 1 would say a challenger is significantly worse",
            "",
            f"embedded Redis:  redis-cli -h 127.0.0.1 -p {redis_port}",
            "Ctrl-C stops.",
        ]
    )


def drift_started(base: str) -> str:
    """The line printed when the first drifted records are written."""
    features = _shifting()
    key, value, own = DRIFTING_SEGMENT
    return (
        f"{DRIFTING_MODEL}: drift started now: {features} shift; watch "
        f'mlmon_feature_drift_detected{{model="{DRIFTING_MODEL}"}} turn 1 for {features} '
        f"within a few evaluations, and {base}/models/{DRIFTING_MODEL}; in the {key}={value} "
        f"segment alone {own} shifts too, flagged in "
        f'mlmon_segment_feature_drift_detected{{segment_value="{value}",feature="{own}"}}'
    )
