"""Scrape: `/metrics` latency over real HTTP at 1,000, 10,000 and 30,000 series.

    python -m bench.scrape [--quick]

Ours: a MetricsServer over the daemon's collector (snapshots of many 50-feature models) and
its live counters. Baseline, in the same run: client_python's `generate_latest` of the same
number of series held in plain `Gauge`s on a fresh CollectorRegistry.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from importlib import metadata

import numpy as np
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from bench.common import machine, median_seconds
from exporter.config import FeatureConfig, ModelConfig, ReferenceConfig, StreamsConfig
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot, SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.exposition import Combined, Exposition
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import FeatureType, Task
from exporter.web.http import MetricsServer

FEATURES = 50
TARGETS = (1_000, 10_000, 30_000)
QUICK_TARGETS = (1_000, 10_000)
TARGET_RATIO = 0.5


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


def _registry(models: list[ModelConfig]) -> tuple[CollectorRegistry, Exposition]:
    """As the daemon wires it: live counters apart, snapshots rendered once per evaluation."""
    rng = np.random.default_rng(5)
    store = SnapshotStore()
    for model in models:
        feats = tuple(
            FeatureSnapshot(
                f.name,
                DriftValue("ks", float(rng.uniform()), float(rng.uniform()), 0.05, False),
                0.01,
                0.0,
            )
            for f in model.features
        )
        store.publish(
            ModelSnapshot(
                model.name,
                time.time(),
                0.1,
                10_000,
                100_000,
                feats,
                0.1,
                False,
                None,
                (("mae", 0.5),),
                (("mae", 0.4),),
            )
        )
    live_registry, registry = CollectorRegistry(), CollectorRegistry()
    live = LiveMetrics(live_registry, models)
    for model in models:
        live.read.labels(model.name, "predictions").inc(1000)
    collector = SnapshotCollector(store, models, lambda: True)
    registry.register(Combined(live_registry, collector))
    return registry, Exposition(live_registry, collector, live.render_failures)


def _series(body: bytes) -> int:
    return sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))


def _baseline(series: int) -> CollectorRegistry:
    """The same number of series in plain Gauges (one family per model-feature measure)."""
    registry = CollectorRegistry()
    gauges = [
        Gauge(f"plain_metric_{i}", "A plain gauge.", ["model", "feature"], registry=registry)
        for i in range(6)
    ]
    for n in range(series):
        gauges[n % 6].labels(f"model_{n // 300}", f"feature_{n % 300 // 6}").set(n * 0.5)
    return registry


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as resp:
        return bytes(resp.read())


def measure(target: int) -> tuple[int, float, float, float]:
    """(series served, ours over HTTP, ours generate_latest, baseline generate_latest) seconds."""
    models = _models(max(1, round(target / (FEATURES * 6 + 8))))
    registry, exposition = _registry(models)
    server = MetricsServer(
        "127.0.0.1:0", registry, lambda: (True, "ready"), render=exposition.render
    )
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        series = _series(_get(url))
        http = median_seconds(lambda: _get(url))
    finally:
        server.stop()
    local = median_seconds(lambda: generate_latest(registry))
    plain = _baseline(series)
    assert _series(generate_latest(plain)) == series
    base = median_seconds(lambda: generate_latest(plain))
    return series, http, local, base


def main(quick: bool = False) -> None:
    """Print the scrape table."""
    print(
        f"## Scrape ({time.strftime('%Y-%m-%d')}; {machine()}, "
        f"prometheus-client {metadata.version('prometheus-client')})\n"
    )
    print(
        f"Models of {FEATURES} features; median of 5 scrapes. Target: ours at most "
        f"{TARGET_RATIO} × the baseline.\n"
    )
    print(
        "| Series | GET /metrics (s) | Our generate_latest (s) | Plain Gauges generate_latest "
        "(baseline, s) | GET / baseline | Target |"
    )
    print("|---:|---:|---:|---:|---:|---|")
    for target in QUICK_TARGETS if quick else TARGETS:
        series, http, local, base = measure(target)
        verdict = "met" if http / base <= TARGET_RATIO else "missed"
        print(
            f"| {series:,} | {http:.4f} | {local:.4f} | {base:.4f} | {http / base:.2f} | "
            f"{verdict} |"
        )


if __name__ == "__main__":
    main("--quick" in sys.argv)
