"""Multivariate (PCA reconstruction) drift: false alarms on healthy windows and detection of
real shifts, on Gaussian and heavy-tailed numeric features, per reference and window size.

`python -m bench.multivariate_alarms [references] [windows]`: each case fits `references`
fixed-seed references and scores `windows` fresh windows drawn from the same distribution
against each (300 healthy windows per case by default); detection cases score 100 shifted
windows each. The shares go to docs/statistics.md (Multivariate drift) and
docs/benchmarks.md, with the per-evaluation cost of scoring a 10,000-row, 50-feature window.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np

from exporter.stats.multivariate import PCAReconstruction

Draw = Callable[[np.random.Generator, int], np.ndarray]
REFERENCES = (800, 5_000, 20_000)
WINDOWS = (300, 1_000)


def heavy(rng: np.random.Generator, n: int) -> np.ndarray:
    """Six independent heavy-tailed or lumpy features: t(1.5 df), Pareto(1.5), lognormal
    (sigma 2), 95 % zeros (else exponential), integers 0-3, Binomial(8, 0.3)."""
    zeros = np.where(rng.random(n) < 0.95, 0.0, rng.exponential(1.0, n))
    return np.column_stack(
        [
            rng.standard_t(1.5, n),
            rng.pareto(1.5, n) + 1.0,
            rng.lognormal(0.0, 2.0, n),
            zeros,
            rng.integers(0, 4, n).astype(float),
            rng.binomial(8, 0.3, n).astype(float),
        ]
    )


def gaussian(rng: np.random.Generator, n: int) -> np.ndarray:
    """Six standard normal features, two pairs of them correlated at 0.8."""
    a, b = rng.normal(size=n), rng.normal(size=n)
    return np.column_stack(
        [
            a,
            0.8 * a + 0.6 * rng.normal(size=n),
            b,
            0.8 * b + 0.6 * rng.normal(size=n),
            rng.normal(size=n),
            rng.normal(size=n),
        ]
    )


def gaussian_uncorrelated(rng: np.random.Generator, n: int) -> np.ndarray:
    """The first pair's correlation 0.8 -> 0; every marginal unchanged."""
    x = gaussian(rng, n)
    x[:, 1] = rng.normal(size=n)
    return x


def gaussian_mean_shift(rng: np.random.Generator, n: int) -> np.ndarray:
    """The fifth feature's mean +0.5 sd."""
    x = gaussian(rng, n)
    x[:, 4] += 0.5
    return x


def heavy_comonotone(rng: np.random.Generator, n: int) -> np.ndarray:
    """The integer and binomial features made comonotone (rank correlation 0 -> ~0.95);
    every marginal unchanged."""
    x = heavy(rng, n)
    x[np.argsort(x[:, 4]), 5] = np.sort(x[:, 5])
    return x


def heavy_mean_shift(rng: np.random.Generator, n: int) -> np.ndarray:
    """The binomial feature +1 (0.77 of its sd)."""
    x = heavy(rng, n)
    x[:, 5] += 1.0
    return x


HEALTHY: dict[str, Draw] = {"gaussian": gaussian, "heavy-tailed": heavy}
SHIFTS: dict[str, tuple[Draw, Draw]] = {
    "gaussian, correlation 0.8 -> 0": (gaussian, gaussian_uncorrelated),
    "gaussian, one mean +0.5 sd": (gaussian, gaussian_mean_shift),
    "heavy-tailed, two features comonotone": (heavy, heavy_comonotone),
    "heavy-tailed, binomial +1": (heavy, heavy_mean_shift),
}


def flagged(
    base: Draw, window: Draw, rows: int, size: int, references: int, windows: int, seed: int
) -> list[int]:
    """Per fixed-seed reference of `rows` rows drawn by `base`, how many of `windows` fresh
    windows of `size` rows drawn by `window` cross the threshold (learned_k 3)."""
    counts = []
    for r in range(references):
        rng = np.random.default_rng(seed + r)
        pca = PCAReconstruction.fit(base(rng, rows))
        cut = pca.threshold(size, 3.0)
        counts.append(sum(pca.drifted(pca.score(window(rng, size)), cut) for _ in range(windows)))
    return counts


def score_seconds(rows: int = 100_000, size: int = 10_000, features: int = 50) -> float:
    """Median seconds of one score + threshold of a window against a fitted reference."""
    rng = np.random.default_rng(3)
    mixing = rng.normal(size=(5, features))
    ref = rng.normal(size=(rows, 5)) @ mixing + rng.normal(size=(rows, features))
    win = rng.normal(size=(size, 5)) @ mixing + rng.normal(size=(size, features))
    pca = PCAReconstruction.fit(ref)
    times = []
    for _ in range(21):
        start = time.perf_counter()
        pca.drifted(pca.score(win), pca.threshold(size))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    """Print the false-alarm and detection tables recorded in the docs."""
    references = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    windows = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    print(f"Healthy windows: {references} references x {windows} windows per case, seeds 1000+")
    print("(share flagged; worst single reference in brackets)\n")
    print("| data | reference rows | window 300 | window 1000 |\n|---|---:|---:|---:|")
    for name, draw in HEALTHY.items():
        for rows in REFERENCES:
            cells = []
            for size in WINDOWS:
                counts = flagged(draw, draw, rows, size, references, windows, 1000)
                cells.append(
                    f"{sum(counts) / (references * windows):.3f} ({max(counts)}/{windows})"
                )
            print(f"| {name} | {rows:,} | " + " | ".join(cells) + " |")
    shifted = max(windows // 3, 1)
    print(f"\nShifted windows: {references} references x {shifted} windows, seeds 2000+\n")
    print("| shift | reference rows | window 300 | window 1000 |\n|---|---:|---:|---:|")
    for name, (base, window) in SHIFTS.items():
        for rows in REFERENCES:
            total = references * shifted
            cells = [
                f"{sum(flagged(base, window, rows, size, references, shifted, 2000)) / total:.2f}"
                for size in WINDOWS
            ]
            print(f"| {name} | {rows:,} | " + " | ".join(cells) + " |")
    print(
        f"\nscore + threshold, 10,000 x 50 window, 100,000-row reference: {score_seconds():.4f} s"
    )


if __name__ == "__main__":
    main()
