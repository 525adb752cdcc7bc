"""Anderson-Darling on numeric features whose values repeat: counts, zero-inflated, flags."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]

from exporter.stats import make_method
from exporter.stats.anderson import bridge_variance, interpolated_p_value
from exporter.stats.kinds import FeatureType

NUMERIC = FeatureType.NUMERIC
Draw = Callable[[np.random.Generator, int], np.ndarray]

TIED: dict[str, Draw] = {
    "poisson_count": lambda rng, n: rng.poisson(2, n).astype(float),
    "amount_70_percent_zero": lambda rng, n: np.where(
        rng.random(n) < 0.7, 0.0, rng.lognormal(3, 1, n)
    ).round(2),
    "flag_30_percent_one": lambda rng, n: (rng.random(n) < 0.3).astype(float),
}


def _scipy(ref: np.ndarray, win: np.ndarray) -> tuple[float, float]:
    """scipy's standardised statistic and p, its deprecation and p-cap warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.anderson_ksamp([ref, win])
    return float(result.statistic), float(result.pvalue)


@pytest.mark.parametrize("shape", sorted(TIED))
def test_the_score_of_a_feature_with_repeated_values_spreads_as_one_over_random_splits(
    shape: str,
) -> None:
    """The score is standardised to sd 1; with the no-ties variance it was 1.33, 1.60 and 1.84."""
    rng = np.random.default_rng(11)
    pooled = TIED[shape](rng, 1_200)
    scores = []
    for _ in range(1_000):
        mixed = rng.permutation(pooled)
        method = make_method("anderson", NUMERIC).fit(mixed[:900])
        scores.append(method.score(mixed[900:]).score)
    assert float(np.mean(scores)) == pytest.approx(0.0, abs=0.1)
    assert float(np.std(scores)) == pytest.approx(1.0, abs=0.1), shape


@pytest.mark.parametrize(
    ("shape", "most"), [("amount_70_percent_zero", 34), ("flag_30_percent_one", 30)]
)
def test_healthy_windows_of_a_feature_with_repeated_values_are_flagged_about_5_percent(
    shape: str, most: int
) -> None:
    """Of 400 healthy windows at p < 0.05, scipy's p flagged 46 and 45 (25 and 22 now)."""
    rng = np.random.default_rng(7)
    draw = TIED[shape]
    flagged = 0
    for _ in range(400):
        method = make_method("anderson", NUMERIC).fit(draw(rng, 5_000))
        flagged += method.score(draw(rng, 1_000)).drifted
    assert flagged <= most, f"{shape}: {flagged} of 400 healthy windows flagged at p < 0.05"


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [(3_000, 1_500, 0.0), (800, 200, 0.0), (5_000, 1_000, 0.1), (15, 12, 1.5), (40, 8, 4.0)],
)
def test_anderson_equals_scipy_where_no_value_repeats(n: int, m: int, shift: float) -> None:
    """Covers the interpolated p and both its cap (0.25) and its floor (0.001)."""
    rng = np.random.default_rng(n + m)
    ref, win = rng.normal(0, 1, n), rng.normal(shift, 1, m)
    got = make_method("anderson", NUMERIC).fit(ref).score(win)
    assert (got.score, got.p_value) == pytest.approx(_scipy(ref, win), rel=1e-12, abs=1e-12)
    assert interpolated_p_value(got.score) == pytest.approx(got.p_value, rel=1e-12)


def test_the_score_averages_zero_over_every_split_of_a_tied_sample() -> None:
    """A²akN's permutation mean is k − 1 = 1 whatever the ties (Scholz and Stephens 1987)."""
    pooled = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 7.0])
    scores = []
    for chosen in itertools.combinations(range(pooled.size), 6):
        mask = np.zeros(pooled.size, dtype=bool)
        mask[list(chosen)] = True
        scores.append(make_method("anderson", NUMERIC).fit(pooled[mask]).score(pooled[~mask]).score)
    assert float(np.mean(scores)) == pytest.approx(0.0, abs=1e-9)


def test_the_gaussian_variance_of_two_values_is_that_of_one_chi_square() -> None:
    """With two distinct values A²akN is one squared standard normal gap: variance 2."""
    assert bridge_variance(np.array([700.0, 300.0])) == pytest.approx(2.0, rel=1e-12)
    assert bridge_variance(np.array([1.0, 5.0])) == pytest.approx(2.0, rel=1e-12)


def test_the_untied_gaussian_variance_tends_to_the_limiting_one() -> None:
    """2(π² − 9)/3, the limiting variance of A² for k = 2 (Scholz and Stephens, eq. 4)."""
    limit = 2 * (np.pi**2 - 9) / 3
    assert bridge_variance(np.ones(20_000)) == pytest.approx(limit, rel=2e-3)


@pytest.mark.parametrize(
    ("shape", "before", "after"),
    [
        ("poisson_count", lambda rng, n: rng.poisson(2, n), lambda rng, n: rng.poisson(2.4, n)),
        (
            "share_of_zeros_70_to_60_percent",
            lambda rng, n: np.where(rng.random(n) < 0.7, 0.0, rng.lognormal(3, 1, n)).round(2),
            lambda rng, n: np.where(rng.random(n) < 0.6, 0.0, rng.lognormal(3, 1, n)).round(2),
        ),
        (
            "flag_30_to_35_percent_one",
            lambda rng, n: rng.random(n) < 0.3,
            lambda rng, n: rng.random(n) < 0.35,
        ),
    ],
)
def test_a_real_shift_of_a_feature_with_repeated_values_is_still_flagged(
    shape: str, before: Draw, after: Draw
) -> None:
    rng = np.random.default_rng(23)
    method = make_method("anderson", NUMERIC).fit(before(rng, 5_000).astype(float))
    for _ in range(5):
        result = method.score(after(rng, 1_000).astype(float))
        assert result.drifted, f"{shape}: p = {result.p_value}"
