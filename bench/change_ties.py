"""Tail watches on tied values: false detections on stationary streams, delay on shifts.

The watches are built by the daemon's own code (`tail_watches`) from a seeded reference with
a binary model's score that takes two values (0.2 for 70 %, 0.7 for 30 %), a feature `z`
that is 95 % zeros, a count `w` (Poisson 2) and a continuous feature `x`; streams are drawn
from the same distributions (stationary) or with one share changed after CHANGE_AT records
(the shifts an outside review found undetected through the daemon).
`python -m bench.change_ties [runs] [stationary records]`.
"""

from __future__ import annotations

import math
import platform
import sys
from collections.abc import Callable

import numpy as np

from exporter.config import load_config_text
from exporter.daemon.change import TailWatch, tail_watches
from exporter.reference.data import ReferenceData
from exporter.stats.change import DEFAULT_THRESHOLD

RUNS, STATIONARY = 200, 10_000_000  # main() takes both from the command line
REFERENCE = 20_000
CHANGE_AT, AFTER = 5_000, 5_000
CHUNK = 1_000_000
CONFIG = (
    "models: [{name: m, task: binary_classification, positive_class: '1',"
    " reference: {file: x.csv}, features: [{name: z, type: numeric}, {name: w, type: numeric},"
    " {name: x, type: numeric}], change: {features: [z, w, x]}}]"
)
Draw = Callable[[np.random.Generator, int], np.ndarray]


def score(high_share: float) -> Draw:
    """Scores 0.7 with probability `high_share`, else 0.2."""
    return lambda rng, n: np.where(rng.random(n) < high_share, 0.7, 0.2)


def zeros(nonzero: float) -> Draw:
    """0 but for a share `nonzero` of positive exponential values."""
    return lambda rng, n: np.where(rng.random(n) < nonzero, rng.exponential(1.0, n), 0.0)


def counts(rng: np.random.Generator, n: int) -> np.ndarray:
    """Poisson(2) counts: ties at both cuts (0 is 14 %, 4 and above 14 %)."""
    return rng.poisson(2.0, n).astype(float)


def normal(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0.0, 1.0, n)


STATIONARY_DRAWS: dict[str, Draw] = {
    "prediction": score(0.3),
    "z": zeros(0.05),
    "w": counts,
    "x": normal,
}
SHIFTS: dict[str, tuple[str, Draw]] = {
    "score 0.7 share 30 % -> 90 %": ("prediction", score(0.9)),
    "z non-zero 5 % -> 0 %": ("z", zeros(0.0)),
    "z non-zero 5 % -> 15 %": ("z", zeros(0.15)),
}


def watches(rng: np.random.Generator) -> dict[str, TailWatch]:
    model = load_config_text(CONFIG).models[0]
    numeric = {name: STATIONARY_DRAWS[name](rng, REFERENCE) for name in ("z", "w", "x")}
    score = STATIONARY_DRAWS["prediction"](rng, REFERENCE)
    data = ReferenceData(REFERENCE, numeric, {}, None, score, None, "bench")
    return tail_watches(model, data)


def false_detections(rng: np.random.Generator, stationary: int) -> dict[str, float]:
    """Detections per 100,000 stationary records, per watched signal (both sides)."""
    out = {}
    for name, draw in STATIONARY_DRAWS.items():
        watch, found = watches(rng)[name], 0
        for start in range(0, stationary, CHUNK):
            found += len(watch.feed(draw(rng, min(CHUNK, stationary - start))))
        out[name] = found * 100_000 / stationary
    return out


def delays(
    rng: np.random.Generator, name: str, draw: Draw, runs: int
) -> tuple[list[float], list[int]]:
    """Per run: records from the change to the first detection (inf: none within AFTER), and
    the detections within the AFTER records."""
    first: list[float] = []
    counts: list[int] = []
    for _ in range(runs):
        watch = watches(rng)[name]
        watch.feed(STATIONARY_DRAWS[name](rng, CHANGE_AT))
        found = watch.feed(draw(rng, AFTER))
        first.append(found[0] if found else math.inf)
        counts.append(len(found))
    return first, counts


def main() -> None:
    """Print the tables for docs/statistics.md: `python -m bench.change_ties [RUNS [RECORDS]]`."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    stationary = int(sys.argv[2]) if len(sys.argv) > 2 else STATIONARY
    rng = np.random.default_rng(2027)
    print(f"numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()}.\n")
    bound = 100_000 / math.exp(DEFAULT_THRESHOLD)
    print(f"Stationary, {stationary:,} records per signal (bound {bound:.2f} per side):\n")
    print("| signal | detections per 100k records |\n|---|---|")
    for name, rate in false_detections(rng, stationary).items():
        print(f"| {name} | {rate:.2f} |")
    print(f"\nShifts after {CHANGE_AT:,} records, {runs} runs, {AFTER:,} records after:\n")
    print("| shift | detected | median delay | 90th percentile | mean detections |")
    print("|---|---|---|---|---|")
    for label, (name, draw) in SHIFTS.items():
        first, counts = delays(rng, name, draw, runs)
        d = np.array(first)
        median, tail = (_records(np.quantile(d, q, method="inverted_cdf")) for q in (0.5, 0.9))
        print(
            f"| {label} | {np.mean(np.isfinite(d)):.0%} | {median} | {tail} "
            f"| {np.mean(counts):.1f} |"
        )


def _records(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else "none"


if __name__ == "__main__":
    main()
