"""End to end: the shipped demo, scraped by a real Prometheus with the shipped rules, is quiet
while healthy and raises the drift alerts of the drifting model and features only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exporter.demo.runner import demo_config
from tests.conftest import free_port, wait_for
from tests.demoproc import DemoProcess, demo
from tests.promstack import PrometheusProcess, rules_with_short_for, start_prometheus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerts" / "ml-monitoring.rules.yml"
# Healthy traffic before the drift: start-up, filling the windows, then at least HEALTHY_SECONDS
# of watching the alerts.
DRIFT_AFTER = 95.0
HEALTHY_SECONDS = 25.0
SHORT_FOR = "5s"  # every `for:` in a copy of the rules; the expressions stay as shipped
# (alertname, model, feature): what must fire once the fraud model drifts.
REQUIRED = {
    ("MLMonFeatureDrift", "fraud", "amount"),
    ("MLMonFeatureDrift", "fraud", "country"),
    ("MLMonFeatureDrift", "fraud", "merchant_text"),  # the embedding
    ("MLMonDatasetDrift", "fraud", ""),
    ("MLMonPredictionDrift", "fraud", ""),
}
# Right answers too, but not guaranteed within the test: the labels follow the shifted
# population, and the demo's fraud model does get worse (its accuracy falls from about 0.78
# to about 0.5, past the demo's max_drop of 0.05).
ALSO_ALLOWED = {("MLMonTargetDrift", "fraud", "")}
# The resolved bounds of every unit's family: the demo bounds fraud's accuracy and eta's mae.
BOUNDS = " or ".join(
    f"{{__name__=~'{stem}_(min|max){unit}'}}"
    for stem, unit in (
        ("mlmon_model_performance", "_ratio"),
        ("mlmon_model_regression_error", ""),
        ("mlmon_model_loss", ""),
    )
)
FRAUD_PERFORMANCE = {
    "MLMonPerformanceBelowMin",
    "MLMonEstimatedPerformanceDegraded",
    "MLMonChangeDetected",
}
# The drift reaches every channel of fraud (amounts shift for all), so any channel may drift.
FRAUD_SEGMENTS = {"MLMonSegmentDrift", "MLMonSegmentPerformanceOutOfBounds"}
Alert = tuple[str, str, str]


def _active(prom: PrometheusProcess) -> set[tuple[str, str, str, str]]:
    """Every pending or firing alert as (alertname, model, feature, state)."""
    return {
        (
            a["labels"]["alertname"],
            a["labels"].get("model", ""),
            a["labels"].get("feature", a["labels"].get("metric", "")),
            a["state"],
        )
        for a in prom.alerts()
    }


def _expected_after_drift(alert: Alert) -> bool:
    name, model, _ = alert
    return (
        alert in REQUIRED
        or alert in ALSO_ALLOWED
        or (model == "fraud" and name in FRAUD_PERFORMANCE | FRAUD_SEGMENTS)
    )


def _watch(
    prom: PrometheusProcess, process: DemoProcess, until: str, seen: set[tuple[str, str, str, str]]
) -> None:
    """Record every active alert, once a second, until the demo prints `until`."""
    deadline = time.monotonic() + DRIFT_AFTER + 60
    while not process.printed(until):
        seen |= _active(prom)
        assert process.process.poll() is None, "the demo ended:\n" + "\n".join(process.err)
        assert time.monotonic() < deadline, f"the demo never printed {until!r}"
        time.sleep(1.0)


def test_the_demo_is_quiet_while_healthy_then_alerts_on_the_drifting_model_only(
    tmp_path: Path,
) -> None:
    full = demo_config("redis://127.0.0.1:1/0", "127.0.0.1:0").models[0].window.max_samples
    rules = rules_with_short_for(RULES, tmp_path, SHORT_FOR, keep_firing_for=SHORT_FOR)
    port = free_port()
    with demo(port, DRIFT_AFTER) as process:
        prom = start_prometheus(tmp_path, [f"127.0.0.1:{port}"], [rules])
        try:
            # Healthy means past start-up: both windows full and both models evaluated.
            def warmed_up() -> bool:
                return (
                    len(prom.query(f"mlmon_window_samples == {full}")) == 2
                    and len(prom.query(BOUNDS)) == 2
                )

            wait_for(warmed_up, DRIFT_AFTER, 1.0, "full windows and resolved bounds")
            healthy_from = time.monotonic()
            healthy: set[tuple[str, str, str, str]] = set()
            _watch(prom, process, "drift started now", healthy)
            assert time.monotonic() - healthy_from >= HEALTHY_SECONDS, "too short to judge"
            assert healthy == set(), f"alerts on healthy data: {sorted(healthy)}"

            drifted: set[tuple[str, str, str, str]] = set()

            def required_firing() -> bool:
                drifted.update(_active(prom))
                return {a[:3] for a in drifted if a[3] == "firing"} >= REQUIRED

            wait_for(required_firing, 100, 1.0, f"{sorted(REQUIRED)} firing")
            drifted |= _active(prom)
            unexpected = sorted(a for a in drifted if not _expected_after_drift(a[:3]))
            assert unexpected == [], f"unexpected alerts after the drift: {unexpected}"
        finally:
            prom.stop()
