"""False alarms on no-drift windows: a 50-feature model with and without fdr_bh correction,
fixed distance thresholds at small windows with and without their noise floor, and category
tests against small references."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from exporter.evaluate.drift import correct, score_column
from exporter.evaluate.fit import FittedColumn
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot
from exporter.stats import make_method
from exporter.stats.kinds import FeatureType
from exporter.stats.thresholds import size_rules

SHARES = (0.4, 0.3, 0.2, 0.1)
CATEGORICAL = FeatureType.CATEGORICAL
CITIES = 20
Draw = Callable[[np.random.Generator, int], np.ndarray]
SMALL_WINDOW_CASES: dict[str, tuple[str, FeatureType, Draw]] = {
    "normal": ("wasserstein", FeatureType.NUMERIC, lambda rng, n: rng.normal(0, 1, n)),
    "gamma": ("wasserstein", FeatureType.NUMERIC, lambda rng, n: rng.gamma(2.0, 2.5, n)),
    "20 equal categories": (
        "jensenshannon",
        CATEGORICAL,
        lambda rng, n: rng.integers(0, CITIES, n),
    ),
    "normal, binned": ("psi", FeatureType.NUMERIC, lambda rng, n: rng.normal(0, 1, n)),
}


def any_alarm_share(
    evaluations: int = 200,
    features: int = 50,
    reference: int = 2_000,
    window: int = 300,
    correction: str = "fdr_bh",
    seed: int = 5,
) -> float:
    """Share of evaluations flagging any feature; half KS on normals, half chi-square."""
    rng = np.random.default_rng(seed)
    half = features // 2
    methods = [
        make_method("ks", FeatureType.NUMERIC).fit(rng.normal(0, 1, reference)) for _ in range(half)
    ]
    methods += [
        make_method("chisquare", FeatureType.CATEGORICAL).fit(rng.choice(4, reference, p=SHARES), 4)
        for _ in range(features - half)
    ]
    alarms = 0
    for _ in range(evaluations):
        snapshots = []
        for i, method in enumerate(methods):
            values = rng.normal(0, 1, window) if i < half else rng.choice(4, window, p=SHARES)
            r = method.score(values)
            drift = DriftValue(method.label, r.score, r.p_value, r.threshold, r.drifted)
            snapshots.append(FeatureSnapshot(f"f{i}", drift, 0.0))
        decided = correct(tuple(snapshots), correction)
        alarms += any(f.drift is not None and f.drift.drifted for f in decided)
    return alarms / evaluations


WINDOWS = (100, 200, 500, 1000, 5000)


def small_window_alarms(
    method: str, kind: FeatureType, draw: Draw, evaluations: int = 200, rows: int = 5000
) -> list[tuple[float, float]]:
    """Per window size in WINDOWS, the share of no-drift windows a fixed distance threshold
    flags on its own and with its noise floor (see `NoiseFloor`)."""
    rng = np.random.default_rng(7)
    reference = draw(rng, rows)
    fitted = make_method(method, kind).fit(reference, CITIES if kind is CATEGORICAL else None)
    _, noise = size_rules(fitted, reference, 3.0, learned=False)
    column = FittedColumn("x", kind, fitted, noise=noise)
    out = []
    for size in WINDOWS:
        fixed = floored = 0
        for _ in range(evaluations):
            window = draw(rng, size)
            fixed += fitted.score(window).drifted
            drift = score_column(column, window, 1)
            floored += drift is not None and drift.drifted
        out.append((fixed / evaluations, floored / evaluations))
    return out


FIVE_SHARES = (0.4, 0.3, 0.2, 0.07, 0.03)
SMALL_REFERENCES = ((100, 100), (300, 300), (300, 3000), (1000, 1000), (1000, 100))


def small_reference_alarms(reference: int, window: int, runs: int = 1000) -> dict[str, float]:
    """Share of healthy windows flagged at alpha 0.05 by the goodness of fit and by the
    homogeneity test, each run drawing a new reference and window of the same mix."""
    rng = np.random.default_rng(1)
    flagged = dict.fromkeys(("chisquare", "chi2"), 0)
    for _ in range(runs):
        ref = rng.choice(len(FIVE_SHARES), reference, p=FIVE_SHARES)
        win = rng.choice(len(FIVE_SHARES), window, p=FIVE_SHARES)
        for name in flagged:
            method = make_method(name, CATEGORICAL).fit(ref, len(FIVE_SHARES))
            flagged[name] += method.score(win).drifted
    return {name: count / runs for name, count in flagged.items()}


def main() -> None:
    """Print the tables recorded in docs/benchmarks.md."""
    bound = 0.05 + 2 * np.sqrt(0.05 * 0.95 / 200)
    print("| correction | share of 200 evaluations with any feature flagged |")
    print("|---|---|")
    for how in ("fdr_bh", "bonferroni", "none"):
        print(f"| {how} | {any_alarm_share(correction=how):.3f} |")
    print(f"\nbound: alpha + 2 binomial SE = {bound:.4f}\n")
    sizes = " | ".join(map(str, WINDOWS))
    print(f"| feature (reference 5,000 rows, threshold 0.1) | {sizes} |")
    print("|---|" + "---:|" * len(WINDOWS))
    for name, (method, kind, draw) in SMALL_WINDOW_CASES.items():
        cells = [f"{a:.2f} → {b:.2f}" for a, b in small_window_alarms(method, kind, draw)]
        print(f"| {name}, {method} | " + " | ".join(cells) + " |")
    print("\n| reference rows | window rows | chisquare flagged | chi2 flagged |")
    print("|---:|---:|---:|---:|")
    for reference, window in SMALL_REFERENCES:
        shares = small_reference_alarms(reference, window)
        print(f"| {reference:,} | {window:,} | {shares['chisquare']:.3f} | {shares['chi2']:.3f} |")


if __name__ == "__main__":
    main()
