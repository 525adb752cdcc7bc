"""One full evaluation of 50 numeric features (100k reference, 10k window) against Evidently."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import scipy  # type: ignore[import-untyped]

from bench import _evidently
from exporter.config import FeatureConfig, ModelConfig, ReferenceConfig, StreamsConfig
from exporter.evaluate.evaluator import evaluate
from exporter.evaluate.fit import fit_reference
from exporter.reference.load import ReferenceData
from exporter.stats.kinds import FeatureType, Task
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView

FEATURES, REFERENCE, WINDOW, RUNS = 50, 100_000, 10_000, 5

T = TypeVar("T")


def _data(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    """Features with different shapes; every fifth is shifted by `shift` sd."""
    out = {}
    for i in range(FEATURES):
        base = rng.normal(0, 1 + i % 3, n) if i % 2 else rng.exponential(1 + i % 4, n)
        out[f"f{i}"] = base + (shift * np.std(base) if i % 5 == 0 else 0.0)
    return out


def _median(run: Callable[[], T]) -> tuple[float, T]:
    """Median wall time of RUNS calls, and the last result."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    """Print the markdown table recorded in docs/benchmarks.md."""
    rng = np.random.default_rng(42)
    ref, cur = _data(rng, REFERENCE, 0.0), _data(rng, WINDOW, 0.3)
    model = ModelConfig(
        name="bench",
        task=Task.REGRESSION,
        features=tuple(FeatureConfig(name=n, type=FeatureType.NUMERIC) for n in ref),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x"),
    )
    fitted = fit_reference(model, ReferenceData(REFERENCE, ref, {}, None, None, None, "d"))
    nan = np.full(WINDOW, np.nan)
    view = WindowView(np.zeros(WINDOW), cur, {}, nan, nan, categories={}, classes=())
    ours_s, snap = _median(lambda: evaluate(model, fitted, view, JoinedPairs((), ()), 0.0))
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__},"
        f" evidently {_evidently.version()}, {FEATURES} numeric features, reference "
        f"{REFERENCE}, window {WINDOW}, median of {RUNS} runs\n"
    )
    print("| run | median seconds | ratio to ours |")
    print("|---|---|---|")
    print(f"| ml-monitoring-exporter evaluate() (auto: wasserstein, + PCA) | {ours_s:.3f} | 1 |")
    if not _evidently.AVAILABLE:
        print(f"\n{_evidently.NOTE}")
        return
    ev_s, ev = _median(lambda: _evidently.data_drift(ref, cur))
    print(f"| Evidently DataDriftPreset (defaults) | {ev_s:.3f} | {ev_s / ours_s:.1f} |")
    ours = {f.name: f.drift for f in snap.features if f.drift is not None}
    diffs = [abs(ours[c].score - v) for c, (m, v, _) in ev.items() if "Wasserstein" in m]
    same = sum(ours[c].drifted == d for c, (_, _, d) in ev.items())
    print(
        f"\nWasserstein (normed) on {len(diffs)} columns: max |ours - Evidently| = "
        f"{max(diffs):.2e}; same drift verdict on {same}/{len(ev)} columns."
    )


if __name__ == "__main__":
    main()
