"""Embedding drift: time per evaluation at dimension 384, bytes held, power and false alarms.

`python -m bench.embedding [RUNS]` prints the markdown recorded in docs/benchmarks.md. BLAS is
held to one thread, as the daemon holds it, so the times are those of a running exporter.
"""

from __future__ import annotations

import math
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np
import scipy  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits

from exporter.stats.embedding import EMBEDDING_METHODS, make_embedding_method

DIM, REFERENCE, WINDOW, TIMED_RUNS = 384, 5_000, 5_000, 5
SAMPLES, ALPHA = 2_000, 0.05
WEIGHTS = np.array([0.4, 0.2, 0.2, 0.2])
SHIFTED = np.array([0.2, 0.4, 0.2, 0.2])
CENTRES = np.random.default_rng(7).normal(0.0, 0.5, (WEIGHTS.size, DIM))


def _embeddings(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """n rows of a 4-cluster Gaussian mixture in DIM dimensions (as tests/test_stats_embedding)."""
    clusters = rng.choice(weights.size, size=n, p=weights)
    noise = rng.standard_normal((n, DIM), dtype=np.float32).astype(np.float64)
    return CENTRES[clusters] + noise


def _timing(name: str, ref: np.ndarray, win: np.ndarray) -> tuple[float, float, int, int]:
    """Median fit and score seconds over TIMED_RUNS, nbytes and the traced bytes held after fit."""
    fits, scores = [], []
    for _ in range(TIMED_RUNS):
        start = time.perf_counter()
        method = make_embedding_method(name).fit(ref)
        fits.append(time.perf_counter() - start)
        start = time.perf_counter()
        method.score(win)
        scores.append(time.perf_counter() - start)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = make_embedding_method(name).fit(ref)
    traced = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return statistics.median(fits), statistics.median(scores), held.nbytes, traced


def _rates(name: str, runs: int) -> tuple[float, float]:
    """Shares of seeded runs flagged under a 20-point cluster shift and under no change."""
    shifted = same = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        method = make_embedding_method(name, seed=seed).fit(_embeddings(rng, WEIGHTS, SAMPLES))
        shifted += method.score(_embeddings(rng, SHIFTED, SAMPLES)).drifted
        same += method.score(_embeddings(rng, WEIGHTS, SAMPLES)).drifted
    return shifted / runs, same / runs


def main() -> None:
    """Time each method, then measure its rates over RUNS seeded runs (argv[1], default 100)."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rng = np.random.default_rng(42)
    ref, win = _embeddings(rng, WEIGHTS, REFERENCE), _embeddings(rng, SHIFTED, WINDOW)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__},"
        f" {platform.machine()}, BLAS 1 thread; dim {DIM}, reference {REFERENCE}, window {WINDOW},"
        f" median of {TIMED_RUNS} runs; rates over {runs} seeded runs of {SAMPLES} rows a side\n"
    )
    print(
        "| method | fit s | score s | nbytes held | traced bytes after fit | power | false alarms |"
    )
    print("|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        for name in EMBEDDING_METHODS:
            fit_s, score_s, nbytes, traced = _timing(name, ref, win)
            power, false_alarms = _rates(name, runs)
            print(
                f"| `{name}` | {fit_s:.3f} | {score_s:.3f} | {nbytes:,} | {traced:,} |"
                f" {power:.2f} | {false_alarms:.2f} |",
                flush=True,
            )
    bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    print(f"\nFalse-alarm bound alpha + 2 SE = {bound:.4f} (alpha {ALPHA}).")


if __name__ == "__main__":
    main()
