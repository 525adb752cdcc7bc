"""Evaluation: seconds for one full `ModelPipeline.evaluate` as features and window size grow.

    python -m bench.evaluation [--quick]

Baselines, measured in the same run on the same window: sorting every numeric column once
(a floor any distribution comparison pays) and `scipy.stats.ks_2samp` per feature.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import orjson
import scipy  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry
from scipy import stats

from bench.common import machine, median_seconds
from exporter.config import (
    FeatureConfig,
    ModelConfig,
    ReferenceConfig,
    StreamsConfig,
    WindowConfig,
)
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.fit import fit_reference
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.load import ReferenceData
from exporter.stats.kinds import FeatureType, Task

REFERENCE = 100_000
FEATURE_SIZES = (10, 50, 200)
WINDOW_SIZES = (1_000, 10_000, 100_000)
QUICK_REFERENCE, QUICK_FEATURES, QUICK_WINDOWS = 20_000, (10, 50), (1_000, 10_000)


def _columns(rng: np.random.Generator, features: int, n: int, shift: float) -> np.ndarray:
    """Rows × features of normal and exponential shapes; every fifth feature shifted."""
    out = np.empty((n, features))
    for i in range(features):
        base = rng.normal(0, 1 + i % 3, n) if i % 2 else rng.exponential(1 + i % 4, n)
        out[:, i] = base + (shift if i % 5 == 0 else 0.0)
    return out


def _pipeline(features: int, reference: int, cap: int) -> ModelPipeline:
    """A regression model over `features` numeric columns with its reference fitted in memory.

    Parsing a 100,000 × 200 CSV is a one-off at start-up and no part of an evaluation."""
    ref = _columns(np.random.default_rng(features), features, reference, 0.0)
    model = ModelConfig(
        name=f"eval{features}",
        task=Task.REGRESSION,
        features=tuple(
            FeatureConfig(name=f"f{i}", type=FeatureType.NUMERIC) for i in range(features)
        ),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x.csv"),
        window=WindowConfig(duration_seconds=1e9, max_samples=cap),
    )
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), SnapshotStore())
    data = ReferenceData(
        reference, {f"f{i}": ref[:, i] for i in range(features)}, {}, None, None, None, "bench"
    )
    pipeline.fitted = fit_reference(model, data)
    return pipeline


def _fill(pipeline: ModelPipeline, rows: int, start: int) -> None:
    """Ingest `rows` shifted records as batch entries under the 512 KiB entry limit."""
    features = len(pipeline.model.features)
    data = _columns(np.random.default_rng(start + 7), features, rows, 0.3)
    now_ms, size = int(time.time() * 1000), 10_000 // features
    for b in range(0, rows, size):
        batch = [
            {
                "id": f"r{start + b + i}",
                "prediction": float(row[1]),
                "features": {f"f{j}": float(v) for j, v in enumerate(row)},
            }
            for i, row in enumerate(data[b : b + size])
        ]
        pipeline.ingest_predictions(
            [(f"{now_ms}-{start + b}".encode(), {b"batch": orjson.dumps(batch)})]
        )
    assert len(pipeline.window) >= min(start + rows, pipeline.model.window.max_samples)


def _measure(pipeline: ModelPipeline, reference: int) -> tuple[float, float, float]:
    """Median seconds of our evaluation, of the sort floor and of ks_2samp per feature."""
    assert pipeline.evaluate(None), "evaluation failed"
    view = pipeline.window.view(time.time())
    ref = np.random.default_rng(0).normal(size=reference)
    cols = list(view.numeric.values())
    ours = median_seconds(lambda: pipeline.evaluate(None))
    floor = median_seconds(lambda: [np.sort(c) for c in cols])
    ks = median_seconds(lambda: [stats.ks_2samp(ref, c) for c in cols])
    return ours, floor, ks


def rows(quick: bool) -> list[tuple[str, int, int, float, float, float]]:
    """(scan, features, window, ours, sort floor, ks_2samp) for every point of both scans."""
    reference = QUICK_REFERENCE if quick else REFERENCE
    feature_sizes = QUICK_FEATURES if quick else FEATURE_SIZES
    windows = QUICK_WINDOWS if quick else WINDOW_SIZES
    out = []
    for features in feature_sizes:
        pipeline = _pipeline(features, reference, 10_000)
        _fill(pipeline, 10_000, 0)
        out.append(("features", features, 10_000, *_measure(pipeline, reference)))
    pipeline = _pipeline(50, reference, max(windows))
    filled = 0
    for size in windows:
        _fill(pipeline, size - filled, filled)
        filled = size
        out.append(("window", 50, size, *_measure(pipeline, reference)))
    return out


def main(quick: bool = False) -> None:
    """Print the evaluation table."""
    reference = QUICK_REFERENCE if quick else REFERENCE
    print(f"## Evaluation ({time.strftime('%Y-%m-%d')}; {machine()}, scipy {scipy.__version__})\n")
    print(
        f"Regression model, numeric features, {reference:,}-row reference; one full "
        "`ModelPipeline.evaluate` (drift, PCA multivariate drift, quality, performance); "
        "median of 5 runs.\n"
    )
    print(
        "| Scan | Features | Window | Ours (s) | Sort floor (s) | Ours / sort | "
        "ks_2samp per feature (s) | Ours / ks_2samp |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for scan, features, window, ours, floor, ks in rows(quick):
        print(
            f"| {scan} | {features} | {window:,} | {ours:.3f} | {floor:.4f} | "
            f"{ours / floor:.1f} | {ks:.3f} | {ours / ks:.2f} |"
        )


if __name__ == "__main__":
    main("--quick" in sys.argv)
