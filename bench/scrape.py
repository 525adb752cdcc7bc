"""Scrape: `/metrics` right after one model's evaluation (cold) and again (cached), over HTTP.

    python -m bench.scrape [--quick]

Ours: a MetricsServer over the daemon's collector and live counters, as the daemon wires them,
serving 100 models of 50 features. Each repetition publishes a new snapshot of one model (as
its evaluation does), then times the first GET /metrics (cold: that model's part is rendered
again) and a second GET (cached). Baseline, alternated with ours in every repetition: plain
client_python, a CollectorRegistry holding the same series (same names, labels and values) in
plain Gauges, served by the same MetricsServer and by generate_latest in-process. Both the
Prometheus text format and OpenMetrics.
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from importlib import metadata

import numpy as np
from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families

from bench.common import machine
from exporter.config import FeatureConfig, ModelConfig, ReferenceConfig, StreamsConfig
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot, SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.exposition import Exposition
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import FeatureType, Task
from exporter.web.http import MetricsServer

FEATURES = 50
MODELS = 100
RUNS, QUICK_RUNS = 9, 5
TARGET_RATIO = 0.3  # issue 18: the first scrape after an evaluation, against plain client_python
FORMATS = (
    ("text 0.0.4", "text/plain"),
    ("OpenMetrics", "application/openmetrics-text; version=1.0.0"),
)


def _models(count: int) -> list[ModelConfig]:
    features = tuple(
        FeatureConfig(name=f"feature_{f}", type=FeatureType.NUMERIC) for f in range(FEATURES)
    )
    return [
        ModelConfig(
            name=f"model_{m}",
            task=Task.REGRESSION,
            features=features,
            streams=StreamsConfig(predictions="p", labels="l"),
            reference=ReferenceConfig(file="unused.csv"),
        )
        for m in range(count)
    ]


def _snapshot(model: ModelConfig, rng: np.random.Generator) -> ModelSnapshot:
    """One evaluation's result: drift, p-value, threshold, verdict and two ratios per feature."""
    feats = tuple(
        FeatureSnapshot(
            f.name,
            DriftValue("ks", float(rng.uniform()), float(rng.uniform()), 0.05, False),
            float(rng.uniform()),
            0.0,
        )
        for f in model.features
    )
    return ModelSnapshot(
        model.name, time.time(), 0.1, 10_000, 100_000, feats, 0.1, False, None,
        (("mae", float(rng.uniform())),), (("mae", 0.4),),
    )  # fmt: skip


class Ours:
    """The daemon's exposition over a started MetricsServer, and a way to evaluate one model."""

    def __init__(self, models: list[ModelConfig]) -> None:
        self._rng = np.random.default_rng(5)
        self._models = models
        self._store = SnapshotStore()
        for model in models:
            self._store.publish(_snapshot(model, self._rng))
        live_registry = CollectorRegistry()
        live = LiveMetrics(live_registry, models)
        for model in models:
            live.read.labels(model.name, "predictions").inc(1000)
        collector = SnapshotCollector(self._store, models, lambda: True)
        exposition = Exposition(live_registry, collector, live.render_failures)
        self.server = MetricsServer(
            "127.0.0.1:0", live_registry, lambda: (True, "ready"), render=exposition.render
        )

    def evaluate(self, index: int) -> None:
        """Publish a new snapshot of one model, as its evaluation would."""
        model = self._models[index % len(self._models)]
        self._store.publish(_snapshot(model, self._rng))


def _plain(body: bytes) -> CollectorRegistry:
    """The same series in plain client_python Gauges: one Gauge per sample name."""
    labels: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels[sample.name].append((sample.labels, sample.value))
    registry = CollectorRegistry()
    for name, samples in labels.items():
        names = sorted(samples[0][0])
        gauge = Gauge(name, "A plain gauge.", names, registry=registry)
        for values, value in samples:
            (gauge.labels(*(values[n] for n in names)) if names else gauge).set(value)
    return registry


def _get(url: str, accept: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return bytes(resp.read())


def _series(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(accept: str, runs: int) -> tuple[int, float, float, float, float]:
    """(series, cold GET, cached GET, plain GET, plain generate_latest): medians in seconds."""
    ours = Ours(_models(MODELS))
    ours.server.start()
    url = f"http://127.0.0.1:{ours.server.port}/metrics"
    body = _get(url, "text/plain")
    registry = _plain(body)
    encoder, _ = choose_encoder(accept)
    plain = MetricsServer("127.0.0.1:0", registry, lambda: (True, "ready"))
    plain.start()
    plain_url = f"http://127.0.0.1:{plain.port}/metrics"
    assert _series(_get(plain_url, "text/plain")) == _series(body)
    times: dict[str, list[float]] = defaultdict(list)
    try:
        for run in range(runs):
            ours.evaluate(run * 37)  # a different model each time
            times["cold"].append(_timed(lambda: _get(url, accept)))
            times["cached"].append(_timed(lambda: _get(url, accept)))
            times["plain"].append(_timed(lambda: _get(plain_url, accept)))
            times["local"].append(_timed(lambda: encoder(registry)))
    finally:
        ours.server.stop()
        plain.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    return _series(body), med["cold"], med["cached"], med["plain"], med["local"]


def main(quick: bool = False) -> None:
    """Print the scrape table."""
    runs = QUICK_RUNS if quick else RUNS
    disable_created_metrics()  # type: ignore[no-untyped-call]  # as the daemon does
    print(
        f"## Scrape ({time.strftime('%Y-%m-%d')}; {machine()}, "
        f"prometheus-client {metadata.version('prometheus-client')})\n"
    )
    print(
        f"{MODELS} models of {FEATURES} features; median of {runs} repetitions, each: one "
        "model's new snapshot, then GET /metrics (cold), GET again (cached), GET of plain "
        "client_python serving the same series from the same server (baseline). Target: cold "
        f"at most {TARGET_RATIO} × the baseline.\n"
    )
    print(
        "| Format | Series | Cold GET (s) | Cached GET (s) | Plain client_python GET "
        "(baseline, s) | Plain generate_latest (s) | Cold / baseline | Cached / baseline "
        "| Target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, accept in FORMATS:
        series, cold, cached, base, local = measure(accept, runs)
        verdict = "met" if cold / base <= TARGET_RATIO else "missed"
        print(
            f"| {label} | {series:,} | {cold:.4f} | {cached:.4f} | {base:.4f} | {local:.4f} "
            f"| {cold / base:.2f} | {cached / base:.2f} | {verdict} |"
        )


if __name__ == "__main__":
    main("--quick" in sys.argv)
