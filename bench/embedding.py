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
BUDGET_S = 2.0  # the bound on one evaluation of one embedding feature
SAMPLES, ALPHA = 2_000, 0.05
WEIGHTS = np.array([0.4, 0.2, 0.2, 0.2])
SHIFTED = np.array([0.2, 0.4, 0.2, 0.2])
NUDGED = np.array([0.35, 0.25, 0.2, 0.2])  # a 5-point move, to tell the methods apart
CENTRES = np.random.default_rng(7).normal(0.0, 0.5, (WEIGHTS.size, DIM))


def _embeddings(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """n rows of a 4-cluster Gaussian mixture in DIM dimensions (as tests/test_stats_embedding)."""
    clusters = rng.choice(weights.size, size=n, p=weights)
    noise = rng.standard_normal((n, DIM), dtype=np.float32).astype(np.float64)
    return CENTRES[clusters] + noise


def _timing(name: str, ref: np.ndarray, win: np.ndarray) -> tuple[float, float, int, int, int]:
    """Median fit and score seconds over TIMED_RUNS; nbytes, traced bytes held, scoring peak."""
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
    tracemalloc.reset_peak()
    held.score(win)
    peak = tracemalloc.get_traced_memory()[1] - before - traced
    tracemalloc.stop()
    return statistics.median(fits), statistics.median(scores), held.nbytes, traced, peak


def _rates(name: str, runs: int) -> tuple[float, float, float]:
    """Shares of seeded runs flagged under a 20-point and a 5-point shift, and under no change."""
    if runs == 0:
        return math.nan, math.nan, math.nan
    flagged = np.zeros(3)
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        method = make_embedding_method(name, seed=seed).fit(_embeddings(rng, WEIGHTS, SAMPLES))
        for i, weights in enumerate((SHIFTED, NUDGED, WEIGHTS)):
            flagged[i] += method.score(_embeddings(rng, weights, SAMPLES)).drifted
    shifted, nudged, same = (flagged / runs).tolist()
    return shifted, nudged, same


def main() -> None:
    """Time each method, then its rates over RUNS seeded runs (argv[1], default 100; 0: none)."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    rng = np.random.default_rng(42)
    ref, win = _embeddings(rng, WEIGHTS, REFERENCE), _embeddings(rng, SHIFTED, WINDOW)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__},"
        f" {platform.machine()}, BLAS 1 thread; dim {DIM}, reference {REFERENCE}, window {WINDOW},"
        f" median of {TIMED_RUNS} runs; rates over {runs} seeded runs of {SAMPLES} rows a side\n"
    )
    print(
        "| method | fit s | score s | score / 2 s budget | nbytes held | traced bytes after fit"
        " | scoring peak bytes | power, 20 points | power, 5 points | false alarms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        for name in EMBEDDING_METHODS:
            fit_s, score_s, nbytes, traced, peak = _timing(name, ref, win)
            power, nudged, false_alarms = _rates(name, runs)
            print(
                f"| `{name}` | {fit_s:.3f} | {score_s:.3f} | {score_s / BUDGET_S:.2f} | {nbytes:,}"
                f" | {traced:,} | {peak:,} |"
                f" {power:.2f} | {nudged:.2f} | {false_alarms:.2f} |",
                flush=True,
            )
    if runs:
        bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
        print(f"\nFalse-alarm bound alpha + 2 SE = {bound:.4f} (alpha {ALPHA}).")


if __name__ == "__main__":
    main()
