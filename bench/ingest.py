"""Ingest: records per second the reader decodes into windows, against a raw XRANGE fetch."""

from __future__ import annotations

import time

import numpy as np
import orjson
import redis
from prometheus_client import CollectorRegistry

from bench.common import machine, median_seconds, redis_server
from exporter.config import (
    FeatureConfig,
    ModelConfig,
    ReferenceConfig,
    StreamsConfig,
    WindowConfig,
)
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import FeatureType, Task

ENTRIES = 100_000
BATCH = 100
COUNT = 1000

FEATURES = (
    *(FeatureConfig(name=f"n{i}", type=FeatureType.NUMERIC) for i in range(10)),
    FeatureConfig(name="c0", type=FeatureType.CATEGORICAL),
    FeatureConfig(name="c1", type=FeatureType.CATEGORICAL),
)
MODEL = ModelConfig(
    name="bench",
    task=Task.REGRESSION,
    features=FEATURES,
    streams=StreamsConfig(predictions="bench:single", labels="bench:labels"),
    reference=ReferenceConfig(file="unused.csv"),
    window=WindowConfig(duration_seconds=1e9, max_samples=100_000),
)


def _record(rng: np.random.Generator, i: int) -> dict[str, object]:
    features: dict[str, object] = {
        f"n{j}": round(float(v), 4) for j, v in enumerate(rng.normal(size=10))
    }
    features["c0"] = f"cat{i % 7}"
    features["c1"] = "yes" if i % 3 else "no"
    return {
        "id": f"r{i}",
        "features": features,
        "prediction": round(float(rng.normal()), 4),
        "latency_ms": 12.5,
        "version": "v1",
    }


def fill(client: redis.Redis) -> None:
    """ENTRIES single-record entries and ENTRIES/BATCH batch entries of BATCH records."""
    rng = np.random.default_rng(1)
    rows = [_record(rng, i) for i in range(ENTRIES)]
    pipe = client.pipeline(transaction=False)
    for n, row in enumerate(rows):
        pipe.xadd("bench:single", {"data": orjson.dumps(row)})
        if n % 5000 == 4999:
            pipe.execute()
    for start in range(0, ENTRIES, BATCH):
        pipe.xadd("bench:batch", {"batch": orjson.dumps(rows[start : start + BATCH])})
    pipe.execute()


def raw_fetch(client: redis.Redis, key: str) -> int:
    """The baseline: page through the stream with XRANGE, no decoding."""
    last, n = "-", 0
    while True:
        page = client.xrange(key, min=last, max="+", count=COUNT)
        if not page:
            return n
        n += len(page)
        last = "(" + page[-1][0].decode()


def ingest(client: redis.Redis, key: str) -> int:
    """Ours: the same pages decoded, validated, counted and appended to a window."""
    pipeline = ModelPipeline(MODEL, LiveMetrics(CollectorRegistry(), [MODEL]), SnapshotStore())
    last = "-"
    while True:
        page = client.xrange(key, min=last, max="+", count=COUNT)
        if not page:
            return len(pipeline.window)
        pipeline.ingest_predictions(page)
        last = "(" + page[-1][0].decode()


def main() -> None:
    """Print the ingest table."""
    with redis_server() as client:
        fill(client)
        raw = median_seconds(lambda: raw_fetch(client, "bench:single"))
        single = median_seconds(lambda: ingest(client, "bench:single"))
        batch = median_seconds(lambda: ingest(client, "bench:batch"))
    rows = [
        ("raw XRANGE fetch, single-record entries (baseline)", ENTRIES / raw, 1.0),
        ("fetch + decode + window, single-record entries", ENTRIES / single, raw / single),
        ("fetch + decode + window, batch entries (100 records)", ENTRIES / batch, raw / batch),
    ]
    print(f"## Ingest ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    print("| Path | Records/s (median of 5) | Ratio to baseline |")
    print("|---|---:|---:|")
    for name, rate, ratio in rows:
        print(f"| {name} | {rate:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
