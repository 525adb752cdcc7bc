"""Detection delay and false alarms: the CUSUM change detector against windowed accuracy bounds.

The same seeded label streams go through both: accuracy 0.90 that drops to 0.80 at a known
label, and stationary streams for false alarms. The windowed rule is the one the shipped
MLMonPerformanceBelowMin applies to realised accuracy: the last W labelled predictions, looked
at every E labels (an evaluation), alert below the reference accuracy less max_drop (0.05).
"""

from __future__ import annotations

import platform
import sys

import numpy as np

from exporter.stats.change import DEFAULT_THRESHOLD, BernoulliCusum

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
BEFORE, AFTER = 20_000, 20_000
EVERY = 100  # labels between two evaluations of the windowed rule
WINDOWS = (1_000, 5_000, 10_000)
BOUND = 0.90 - 0.05
STATIONARY = 1_000_000


def _windowed(hits: np.ndarray, window: int, start: int) -> list[int]:
    """Labels (from `start`) at which an evaluation finds the window's accuracy below BOUND."""
    sums = np.concatenate([[0], np.cumsum(hits)])
    ends = np.arange(window, hits.size + 1, EVERY)
    accuracy = (sums[ends] - sums[ends - window]) / window
    return [int(e) - start for e in ends[accuracy < BOUND]]


def _cusum(misses: np.ndarray) -> list[int]:
    return BernoulliCusum(DEFAULT_THRESHOLD, p0=0.10, p1=0.20).events(misses)


def _delays(rng: np.random.Generator) -> dict[str, list[float]]:
    """Per detector: labels from the change to its first alarm after it (inf: none)."""
    out: dict[str, list[float]] = {"cusum": [], **{f"window {w}": [] for w in WINDOWS}}
    for _ in range(RUNS):
        hits = np.concatenate([rng.random(BEFORE) < 0.90, rng.random(AFTER) < 0.80])
        after = [d - BEFORE for d in _cusum(~hits) if d >= BEFORE]
        out["cusum"].append(after[0] if after else np.inf)
        for w in WINDOWS:
            found = [d for d in _windowed(hits, w, BEFORE) if d >= 0]
            out[f"window {w}"].append(found[0] if found else np.inf)
    return out


def _false_alarms(rng: np.random.Generator) -> dict[str, int]:
    """Alarms on a million stationary labels at accuracy 0.90 (windowed: evaluations alarming)."""
    hits = rng.random(STATIONARY) < 0.90
    out = {"cusum": len(_cusum(~hits))}
    for w in WINDOWS:
        out[f"window {w}"] = len(_windowed(hits, w, 0))
    return out


def main() -> None:
    """Print the table for docs/benchmarks.md."""
    rng = np.random.default_rng(2026)
    delays, alarms = _delays(rng), _false_alarms(rng)
    print(f"### Change detection against windowed accuracy ({RUNS} runs)\n")
    print(f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}.\n")
    print(
        "| detector | median delay (labels) | 90th percentile | detected within 1,000 "
        "| alarms per 1M stationary labels |"
    )
    print("|---|---|---|---|---|")
    for name, values in delays.items():
        d = np.array(values)
        within = float(np.mean(d < 1000))
        print(
            f"| {name} | {np.median(d):.0f} | {np.quantile(d, 0.9):.0f} | {within:.0%} "
            f"| {alarms[name]} |"
        )


if __name__ == "__main__":
    main()
