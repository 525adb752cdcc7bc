"""Multivariate drift keeps its mean + 3 sd false-alarm rate on heavy-tailed healthy data and
still flags real shifts (the same draws as bench/multivariate_alarms.py)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.multivariate_alarms import Draw, flagged, gaussian, gaussian_uncorrelated, heavy
from exporter.stats.multivariate import PCAReconstruction

WINDOW = 1_000
REFERENCES = 4
WINDOWS = 15


@pytest.mark.parametrize("rows", [800, 5_000, 20_000])
def test_heavy_tailed_healthy_windows_rarely_cross_the_multivariate_threshold(rows: int) -> None:
    """Rebuilt by the whole reference's components and scored uncapped, 6, 21 and 20 of these
    60 healthy windows were flagged (800, 5,000 and 20,000 rows)."""
    counts = flagged(heavy, heavy, rows, WINDOW, REFERENCES, WINDOWS, seed=1000)
    assert sum(counts) <= 2


def _binomial_plus_two(rng: np.random.Generator, n: int) -> np.ndarray:
    x = heavy(rng, n)
    x[:, 5] += 2.0  # Binomial(8, 0.3): 1.5 of its sd
    return x


@pytest.mark.parametrize(
    ("base", "shifted"),
    [(heavy, _binomial_plus_two), (gaussian, gaussian_uncorrelated)],
    ids=["heavy-tailed feature shifted", "gaussian correlation broken"],
)
def test_a_real_shift_is_flagged_in_every_window(base: Draw, shifted: Draw) -> None:
    counts = flagged(base, shifted, 5_000, WINDOW, 3, 10, seed=7)
    assert counts == [10, 10, 10]


@pytest.mark.parametrize(("rows", "k"), [(5, 3.0), (8, 3.0), (10, 6.0)])
def test_a_huge_shift_is_flagged_against_a_tiny_reference(rows: int, k: float) -> None:
    """Capped at the reference's own largest errors, no score could pass a threshold that
    reached the cap: a x100 shift was missed against 67 of 100 five-row references."""
    cov = [[1, 0.8, 0], [0.8, 1, 0], [0, 0, 1]]
    missed = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        reference = rng.multivariate_normal([0, 0, 0], cov, size=rows)
        window = rng.multivariate_normal([0, 0, 0], cov, size=1000)
        window[:, 0] = 100 * window[:, 0] - 100 * window[:, 1]
        pca = PCAReconstruction.fit(reference, 0.65)
        if pca.applicable:
            missed += not pca.drifted(*pca.decide(window, k))
    assert missed == 0
