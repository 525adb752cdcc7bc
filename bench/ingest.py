"""Ingest, library level: records per second `ingest_predictions` decodes into a window
in-process, against a raw XRANGE fetch of the same stream.

It overstates the daemon: no reader thread, no XREAD, no HTTP server in the same process.
bench.daemon_ingest measures the running exporter; this one isolates the decode-and-window
cost. Records are the daemon bench's: full-precision floats, scores, unique ids.
"""

from __future__ import annotations

import time

import numpy as np
import orjson
import redis
from prometheus_client import CollectorRegistry

from bench._daemon import CATEGORIES, NUMERIC
from bench._producer import records
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
from exporter.source.streams import Entry
from exporter.stats.kinds import FeatureType, Task

ENTRIES = 100_000
BATCH = 100
COUNT = 1000

FEATURES = (
    *(FeatureConfig(name=n, type=FeatureType.NUMERIC) for n in NUMERIC),
    *(FeatureConfig(name=n, type=FeatureType.CATEGORICAL) for n in CATEGORIES),
)
MODEL = ModelConfig(
    name="bench",
    task=Task.BINARY,
    positive_class="1",
    features=FEATURES,
    streams=StreamsConfig(predictions="bench:single", labels="bench:labels"),
    reference=ReferenceConfig(file="unused.csv"),
    window=WindowConfig(duration_seconds=3600, max_samples=100_000),
)


def fill(client: redis.Redis) -> None:
    """ENTRIES single-record entries and ENTRIES/BATCH batch entries of BATCH records."""
    rows = records(np.random.default_rng(1), ENTRIES, "r")
    pipe = client.pipeline(transaction=False)
    for n, row in enumerate(rows):
        pipe.xadd("bench:single", {"data": orjson.dumps(row)})
        if n % 5000 == 4999:
            pipe.execute()
    for start in range(0, ENTRIES, BATCH):
        pipe.xadd("bench:batch", {"batch": orjson.dumps(rows[start : start + BATCH])})
    pipe.execute()


def page(client: redis.Redis, key: str, last: str) -> list[Entry]:
    """One XRANGE page after `last`."""
    return client.xrange(key, min=last, max="+", count=COUNT)  # type: ignore[return-value]


def raw_fetch(client: redis.Redis, key: str) -> int:
    """The baseline: page through the stream with XRANGE, no decoding."""
    last, n = "-", 0
    while True:
        got = page(client, key, last)
        if not got:
            return n
        n += len(got)
        last = "(" + got[-1][0].decode()


def ingest(client: redis.Redis, key: str) -> int:
    """Ours: the same pages decoded, validated, counted and appended to a window."""
    pipeline = ModelPipeline(MODEL, LiveMetrics(CollectorRegistry(), [MODEL]), SnapshotStore())
    last = "-"
    while True:
        got = page(client, key, last)
        if not got:
            return len(pipeline.window)
        pipeline.ingest_predictions(got)
        last = "(" + got[-1][0].decode()


def main() -> None:
    """Print the ingest table; each path's ratio is to the raw fetch of its own stream."""
    with redis_server() as client:
        fill(client)
        raw = median_seconds(lambda: raw_fetch(client, "bench:single"))
        single = median_seconds(lambda: ingest(client, "bench:single"))
        raw_batch = median_seconds(lambda: raw_fetch(client, "bench:batch"))
        batch = median_seconds(lambda: ingest(client, "bench:batch"))
    rows = [
        ("raw XRANGE fetch, single-record entries (baseline)", ENTRIES / raw, 1.0),
        ("fetch + decode + window, single-record entries", ENTRIES / single, raw / single),
        ("raw XRANGE fetch, batch entries of 100 (baseline)", ENTRIES / raw_batch, 1.0),
        ("fetch + decode + window, batch entries of 100", ENTRIES / batch, raw_batch / batch),
    ]
    print(f"## Ingest, library level ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    print("In-process `ingest_predictions`: no reader thread, no XREAD, no HTTP server.\n")
    print("| Path | Records/s (median of 5) | Ratio to the raw fetch of the same stream |")
    print("|---|---:|---:|")
    for name, rate, ratio in rows:
        print(f"| {name} | {rate:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
