"""Healthy heavy-tailed windows flagged by `auto` (wasserstein with its noise floor), the
detection of moderate shifts, and windows holding a few corrupt values: the tables of
docs/statistics.md's heavy-tails note. 2 to 8 minutes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from exporter.evaluate.drift import score_column
from exporter.evaluate.fit import FittedColumn
from exporter.stats import make_method
from exporter.stats.kinds import FeatureType
from exporter.stats.thresholds import size_rules

Draw = Callable[[np.random.Generator, int], np.ndarray]
Change = Callable[[np.ndarray, float], np.ndarray]
SIZES = ((5_000, 1_000), (20_000, 1_000), (5_000, 300))


def _mostly_zeros(rng: np.random.Generator, n: int) -> np.ndarray:
    values = rng.exponential(1.0, n)
    values[rng.random(n) < 0.95] = 0.0
    return values


DRAWS: dict[str, Draw] = {
    "Student t, 1.5 df": lambda rng, n: rng.standard_t(1.5, n),
    "Pareto, index 1.5": lambda rng, n: rng.pareto(1.5, n) + 1,
    "lognormal, σ 2": lambda rng, n: rng.lognormal(0, 2, n),
    "95 % zeros, else exponential": _mostly_zeros,
    "normal": lambda rng, n: rng.normal(0, 1, n),
    "gamma": lambda rng, n: rng.gamma(2, 2.5, n),
    "Binomial(8, 0.3)": lambda rng, n: rng.binomial(8, 0.3, n).astype(float),
}


def _corrupt(count: int) -> Change:
    def change(window: np.ndarray, sd: float) -> np.ndarray:
        window = window.copy()
        window[:count] = 1e12
        return window

    return change


CHANGES: dict[str, tuple[str, Change]] = {
    "lognormal, mean + 0.2 sd": ("lognormal, σ 2", lambda w, sd: w + 0.2 * sd),
    "lognormal, scale × 1.5": ("lognormal, σ 2", lambda w, sd: w * 1.5),
    "Pareto, scale × 1.5": ("Pareto, index 1.5", lambda w, sd: w * 1.5),
    "Student t, mean + 0.2 sd": ("Student t, 1.5 df", lambda w, sd: w + 0.2 * sd),
    "normal, mean + 0.2 sd": ("normal", lambda w, sd: w + 0.2 * sd),
    "normal, one value of 1e12": ("normal", _corrupt(1)),
    "normal, three values of 1e12": ("normal", _corrupt(3)),
    "normal, ten values of 1e12": ("normal", _corrupt(10)),
}


def flagged(
    draw: Draw, rows: int, size: int, change: Change | None = None, refs: int = 40, wins: int = 50
) -> float:
    """Share of windows flagged, `refs` references of `rows` rows and `wins` windows each."""
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(refs):
        reference = draw(rng, rows)
        method = make_method("wasserstein", FeatureType.NUMERIC).fit(reference)
        _, noise = size_rules(method, reference, 3.0, learned=False)
        column = FittedColumn("x", FeatureType.NUMERIC, method, noise=noise)
        for _ in range(wins):
            window = draw(rng, size)
            if change is not None:
                window = change(window, float(reference.std()))
            drift = score_column(column, window, 1)
            hits += drift is not None and drift.drifted
    return hits / (refs * wins)


def main() -> None:
    """Print both tables."""
    print("| feature | " + " | ".join(f"{r:,} / {w:,}" for r, w in SIZES) + " |")
    print("|---|" + "---:|" * len(SIZES))
    for name, draw in DRAWS.items():
        cells = [f"{flagged(draw, rows, size):.1%}" for rows, size in SIZES]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print("\n| change (5,000 / 1,000) | windows flagged |\n|---|---:|")
    for name, (feature, change) in CHANGES.items():
        print(f"| {name} | {flagged(DRAWS[feature], 5_000, 1_000, change):.1%} |", flush=True)


if __name__ == "__main__":
    main()
