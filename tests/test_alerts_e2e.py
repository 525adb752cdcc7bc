"""End to end: records in a real Redis reach Alertmanager's receivers through real Prometheus."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import redis

from exporter.config import load_config_text
from exporter.daemon import Daemon
from tests.conftest import RedisServer, free_port, require_tool, wait_for
from tests.helpers import running, value
from tests.promstack import (
    AlertmanagerProcess,
    PrometheusProcess,
    WebhookReceiver,
    alertmanager_binary,
    alertmanager_config_for_test,
    rules_with_short_for,
    start_alertmanager,
    start_prometheus,
    start_webhook,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "alerts" / "ml-monitoring.rules.yml"
AM_EXAMPLE = ROOT / "alerts" / "alertmanager.example.yml"
MODELS = ("drifty", "slow", "quiet", "steady", "segmented")
PREFILL = 1500
BATCH = 20
ALERT_TIMEOUT = 45.0
# What each model may raise: (receiver path, alertname, feature). Shifting x2 also moves the
# joint distribution, so multivariate drift is a right answer for drifty too.
ALLOWED = {
    "drifty": {("/chat", "MLMonFeatureDrift", "x2"), ("/chat", "MLMonMultivariateDrift", "")},
    "slow": {("/pager", "MLMonLatencySLOFastBurn", "")},
    "quiet": {("/chat", "MLMonNoPredictions", "")},
    "steady": set(),
    "segmented": {
        ("/chat", "MLMonSegmentDrift", ""),
        ("/chat", "MLMonSegmentPerformanceOutOfBounds", ""),
    },
}
# segmented: where c1 is "c" (a fifth of the traffic) only, x2 shifts by one sd and the labels
# are 1.0 off instead of 0.1. Over all traffic PSI barely moves and the MAE is about 0.28, within
# its bound of 0.5; over that segment both cross.
SEGMENTED = """
    drift: {numeric: {method: psi}, categorical: {method: psi}}
    performance: {mae: {max: 0.5}}
    segments: [{feature: c1, max_values: 3, min_samples: 100}]"""


def reference(path: Path, rng: np.random.Generator, n: int = 3000) -> None:
    """A CSV reference: x1 ~ N(0, 1), x2 ~ N(5, 2), c1 in a/b/c, an unrelated prediction."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["x1", "x2", "c1", "prediction"])
        for x1, x2, c1, p in zip(
            rng.normal(0, 1, n),
            rng.normal(5, 2, n),
            rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            rng.normal(10, 1, n),
            strict=True,
        ):
            writer.writerow([repr(float(x1)), repr(float(x2)), c1, repr(float(p))])


def config_text(redis_url: str) -> str:
    """Four models over the same reference, evaluated every second, with a 250 ms SLO."""
    models = "".join(
        f"""
  - name: {m}
    task: regression
    reference: {{file: ref.csv}}
    features:
      - {{name: x1, type: numeric}}
      - {{name: x2, type: numeric}}
      - {{name: c1, type: categorical}}{SEGMENTED if m == "segmented" else ""}
"""
        for m in MODELS
    )
    return f"""
redis: {{url: '{redis_url}', backoff_max: 1s}}
web: {{listen_address: '127.0.0.1:{free_port()}'}}
defaults:
  window: {{duration: 1d, max_samples: {PREFILL}}}
  schedule: {{interval: 1s}}
  min_samples: 500
  slo: {{latency_target: 250ms, objective: 0.99}}
models:{models}"""


@dataclass
class Producer:
    """Writes a batch of predictions and their labels per active model every 200 ms."""

    client: redis.Redis
    active: set[str] = field(default_factory=lambda: set(MODELS))
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(7))
    stop_event: threading.Event = field(default_factory=threading.Event)
    counter: int = 0

    def payloads(self, model: str, n: int) -> tuple[list[bytes], list[bytes]]:
        """n predictions of `model` (x2 shifted by one sd for drifty and for segmented's c1=c,
        2 s late for slow)."""
        shift = 2.0 if model in ("drifty", "segmented") else 0.0
        latency = 2000.0 if model == "slow" else 12.0
        preds, labels = [], []
        for x1, x2, c1, p in zip(
            self.rng.normal(0, 1, n),
            self.rng.normal(5, 2, n),
            self.rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            self.rng.normal(10, 1, n),
            strict=True,
        ):
            if model != "segmented" or c1 == "c":
                x2 += shift
            self.counter += 1
            rid = f"{model}-{self.counter}"
            features = {"x1": float(x1), "x2": float(x2), "c1": str(c1)}
            preds.append(
                orjson.dumps(
                    {"id": rid, "features": features, "prediction": float(p), "latency_ms": latency}
                )
            )
            off = 1.0 if model == "segmented" and c1 == "c" else 0.1
            labels.append(orjson.dumps({"id": rid, "label": float(p) + off}))
        return preds, labels

    def send(self, model: str, n: int) -> None:
        """XADD n predictions as one batch entry, then their labels."""
        preds, labels = self.payloads(model, n)
        for i in range(0, n, 1000):
            self.client.xadd(
                f"mlmon:{{{model}}}:predictions",
                {"batch": b"[" + b",".join(preds[i : i + 1000]) + b"]"},
            )
            self.client.xadd(
                f"mlmon:{{{model}}}:labels",
                {"batch": b"[" + b",".join(labels[i : i + 1000]) + b"]"},
            )

    def run(self) -> None:
        """Until stopped, a batch per active model every 200 ms."""
        while not self.stop_event.wait(0.2):
            for model in sorted(self.active):
                self.send(model, BATCH)


@dataclass
class Stack:
    """Everything of one end-to-end run."""

    daemon: Daemon
    producer: Producer
    prometheus: PrometheusProcess
    alertmanager: AlertmanagerProcess
    hook: WebhookReceiver

    def received(self, model: str) -> set[tuple[str, str, str]]:
        """(receiver path, alertname, feature) of every firing alert of `model` received."""
        return {
            (n.path, a["labels"]["alertname"], a["labels"].get("feature", ""))
            for n in self.hook.received()
            for a in n.alerts
            if a["labels"].get("model") == model and a["status"] == "firing"
        }

    def wait_received(self, model: str, alertname: str) -> dict[str, Any]:
        """The first firing `alertname` of `model` at any receiver, within the deadline."""

        def find() -> dict[str, Any] | None:
            for n in self.hook.received():
                for a in n.alerts:
                    labels = a["labels"]
                    if labels.get("model") == model and labels["alertname"] == alertname:
                        return {"path": n.path, **a}
            return None

        found = wait_for(find, ALERT_TIMEOUT, 0.2, what=f"{alertname} for {model} at a receiver")
        assert found is not None
        return found


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, the exporter, a producer, Prometheus with our rules, Alertmanager, a webhook."""
    require_tool("prometheus")
    alertmanager_binary()
    tmp = tmp_path_factory.mktemp("alerts-e2e")
    server = RedisServer(free_port(), tmp)
    server.start()
    reference(tmp / "ref.csv", np.random.default_rng(1))
    config = load_config_text(config_text(server.url), base_dir=str(tmp))
    producer = Producer(server.client())
    for model in MODELS:
        producer.send(model, PREFILL)
    hook = start_webhook()
    try:
        with running(config) as daemon:
            wait_for(
                lambda: all(
                    value(daemon, "mlmon_window_samples", model=m) == PREFILL for m in MODELS
                ),
                60,
                what="every model evaluated, window full",
            )
            thread = threading.Thread(target=producer.run, name="producer", daemon=True)
            thread.start()
            am = start_alertmanager(
                tmp, alertmanager_config_for_test(AM_EXAMPLE.read_text(), hook.url)
            )
            rules = rules_with_short_for(RULES, tmp, "3s")
            prom = start_prometheus(
                tmp, [f"127.0.0.1:{daemon.http.port}"], [rules], alertmanager_url=am.url
            )
            try:
                yield Stack(daemon, producer, prom, am, hook)
            finally:
                producer.stop_event.set()
                thread.join(10)
                prom.stop()
                am.stop()
    finally:
        hook.stop()
        server.stop()


def test_drifted_records_give_the_feature_drift_alert_for_that_feature_at_the_chat_receiver(
    stack: Stack,
) -> None:
    alert = stack.wait_received("drifty", "MLMonFeatureDrift")
    assert alert["path"] == "/chat"
    assert alert["labels"]["feature"] == "x2"
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks/MLMonFeatureDrift.md")
    assert "Feature x2 of model drifty" in alert["annotations"]["description"]
    assert stack.received("drifty") <= ALLOWED["drifty"]


def test_slow_predictions_page_with_the_latency_burn_rate_alert(stack: Stack) -> None:
    alert = stack.wait_received("slow", "MLMonLatencySLOFastBurn")
    assert alert["path"] == "/pager"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks/MLMonLatencySLOFastBurn.md")
    assert stack.received("slow") == ALLOWED["slow"]


def test_stopping_the_producer_gives_the_no_predictions_alert(stack: Stack) -> None:
    stack.wait_received("drifty", "MLMonFeatureDrift")
    assert stack.received("quiet") == set(), "quiet alerted while its producer was running"
    stack.producer.active.discard("quiet")
    alert = stack.wait_received("quiet", "MLMonNoPredictions")
    assert alert["path"] == "/chat"
    assert stack.received("quiet") == ALLOWED["quiet"]


def test_stable_traffic_gives_no_alert_and_no_model_gets_an_unexpected_one(stack: Stack) -> None:
    stack.wait_received("drifty", "MLMonFeatureDrift")
    stack.wait_received("slow", "MLMonLatencySLOFastBurn")
    assert stack.received("steady") == set()
    for model, allowed in ALLOWED.items():
        assert stack.received(model) <= allowed, model
    assert stack.prometheus.query('ALERTS{model="drifty"}') != []
    assert stack.prometheus.query('ALERTS{model="steady"}') == []
    others = {
        a["labels"]["alertname"]
        for a in stack.hook.alerts()
        if a["labels"].get("model") not in MODELS
    }
    assert others == set(), "alerts without one of the test's models reached a receiver"


def test_a_shift_in_one_segment_gives_the_segment_alerts_and_no_model_wide_one(
    stack: Stack,
) -> None:
    alert = stack.wait_received("segmented", "MLMonSegmentDrift")
    assert alert["path"] == "/chat"
    labels = alert["labels"]
    assert (labels["segment"], labels["segment_value"]) == ("c1", "c")
    assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks/MLMonSegmentDrift.md")
    worse = stack.wait_received("segmented", "MLMonSegmentPerformanceOutOfBounds")
    assert (worse["labels"]["segment_value"], worse["labels"]["metric"]) == ("c", "mae")
    firing = stack.prometheus.query('ALERTS{model="segmented", alertstate="firing"}')
    assert {a["metric"]["alertname"] for a in firing} <= {
        "MLMonSegmentDrift",
        "MLMonSegmentPerformanceOutOfBounds",
    }
    assert {a["metric"]["segment_value"] for a in firing} == {"c"}
    assert stack.received("segmented") <= ALLOWED["segmented"]
