"""Memory: bytes held per window sample per feature, against the raw numpy columns.

    python -m bench.memory [--quick]

Ours: the memory still allocated (tracemalloc, which sees numpy's buffers) after building and
filling the pipelines of 10 models × 50 numeric features × 10,000 samples through
`ingest_predictions`. Baseline: the raw size of those columns, 8 bytes per float.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from bench.common import RUNS, machine
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

MODELS, FEATURES, SAMPLES, BATCH = 10, 50, 10_000, 200
TARGET = 1.5

Entry = tuple[bytes, dict[bytes, bytes]]


def _models(count: int) -> list[ModelConfig]:
    features = tuple(FeatureConfig(name=f"f{i}", type=FeatureType.NUMERIC) for i in range(FEATURES))
    return [
        ModelConfig(
            name=f"mem{m}",
            task=Task.REGRESSION,
            features=features,
            streams=StreamsConfig(predictions="p", labels="l"),
            reference=ReferenceConfig(file="unused.csv"),
            window=WindowConfig(duration_seconds=1e9, max_samples=SAMPLES),
        )
        for m in range(count)
    ]


def _entries() -> list[Entry]:
    """SAMPLES records as batch entries, built once outside the measurement."""
    data = np.random.default_rng(3).normal(size=(SAMPLES, FEATURES))
    now_ms = int(time.time() * 1000)
    out = []
    for b in range(0, SAMPLES, BATCH):
        batch = [
            {
                "id": f"r{b + i}",
                "prediction": float(row[0]),
                "features": {f"f{j}": float(v) for j, v in enumerate(row)},
            }
            for i, row in enumerate(data[b : b + BATCH])
        ]
        out.append((f"{now_ms}-{b}".encode(), {b"batch": orjson.dumps(batch)}))
    return out


def held_bytes(models: list[ModelConfig], entries: list[Entry]) -> tuple[int, int]:
    """Bytes still allocated after filling every model: whole pipelines, then windows only."""
    gc.collect()
    tracemalloc.start()
    live = LiveMetrics(CollectorRegistry(), models)
    before = tracemalloc.get_traced_memory()[0]
    pipelines = [ModelPipeline(m, live, SnapshotStore()) for m in models]
    for p in pipelines:
        p.ingest_predictions(entries)
        assert len(p.window) == SAMPLES
    gc.collect()
    whole = tracemalloc.get_traced_memory()[0] - before
    for p in pipelines:
        p.join = None  # type: ignore[assignment]  # what is left is the window and vocabularies
    gc.collect()
    window = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return whole, window


def main(quick: bool = False) -> None:
    """Print the memory table."""
    models = _models(2 if quick else MODELS)
    entries = _entries()
    raw = len(models) * FEATURES * SAMPLES * 8
    cells = len(models) * FEATURES * SAMPLES
    runs = 3 if quick else RUNS
    measured = [held_bytes(models, entries) for _ in range(runs)]
    whole = statistics.median(m[0] for m in measured)
    window = statistics.median(m[1] for m in measured)
    print(f"## Memory ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    print(
        f"{len(models)} models × {FEATURES} numeric features × {SAMPLES:,} samples, filled "
        f"through `ingest_predictions`; tracemalloc, median of {runs} runs. "
        f"Target: at most {TARGET} × the raw columns.\n"
    )
    print("| What | MB held | Bytes per sample per feature | Ratio to raw | Target |")
    print("|---|---:|---:|---:|---|")
    print(f"| raw numpy float64 columns (baseline) | {raw / 1e6:.1f} | 8.00 | 1.00 | |")
    for name, held in (
        ("windows only (ring buffers, vocabularies)", window),
        ("whole pipelines (windows + label join)", whole),
    ):
        verdict = "met" if held / raw <= TARGET else "missed"
        print(f"| {name} | {held / 1e6:.1f} | {held / cells:.2f} | {held / raw:.2f} | {verdict} |")


if __name__ == "__main__":
    main("--quick" in sys.argv)
