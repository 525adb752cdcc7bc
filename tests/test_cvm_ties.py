"""Cramér-von Mises on numeric features whose values repeat: counts, zero-inflated, rounded."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]

from exporter.stats import make_method
from exporter.stats.cvm import cvm_statistic, ecdf_at_own_values, limiting_cdf, null_moments
from exporter.stats.kinds import FeatureType

NUMERIC = FeatureType.NUMERIC
Draw = Callable[[np.random.Generator, int], np.ndarray]

TIED: dict[str, Draw] = {
    "poisson_count": lambda rng, n: rng.poisson(2, n).astype(float),
    "amount_70_percent_zero": lambda rng, n: np.where(
        rng.random(n) < 0.7, 0.0, rng.lognormal(3, 1, n)
    ).round(2),
    "age_in_whole_years": lambda rng, n: rng.normal(40, 10, n).round(0),
}


@pytest.mark.parametrize("shape", sorted(TIED))
def test_healthy_windows_of_a_feature_with_repeated_values_are_flagged_about_5_percent(
    shape: str,
) -> None:
    """Before, scipy's mid-rank T flagged 100 of 100 (p = 3e-08 where ks_2samp gave 0.98)."""
    rng = np.random.default_rng(17)
    draw = TIED[shape]
    flagged = 0
    for _ in range(100):
        method = make_method("cramervonmises", NUMERIC).fit(draw(rng, 5_000))
        flagged += method.score(draw(rng, 1_000)).drifted
    assert flagged <= 12, f"{shape}: {flagged} of 100 healthy windows flagged at p < 0.05"


@pytest.mark.parametrize(
    ("n", "m", "shift"),
    [(3_000, 1_500, 0.0), (5_000, 1_000, 0.1), (200, 700, 0.3), (15, 12, 0.5), (40, 3, 0.0)],
)
def test_cramervonmises_equals_scipy_where_no_value_repeats(n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(n + m)
    ref, win = rng.normal(0, 1, n), rng.normal(shift, 1, m)
    expected = stats.cramervonmises_2samp(ref, win)
    got = make_method("cramervonmises", NUMERIC).fit(ref).score(win)
    assert got.score == pytest.approx(expected.statistic, rel=1e-9, abs=1e-12)
    assert got.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)


def test_the_statistic_sums_the_ecdf_gap_over_every_pooled_value_ties_included() -> None:
    """Anderson (1962): T = nm/(n+m)^2 · Σ over the n+m pooled values of (F_n − G_m)^2."""
    ref = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 5.0])
    win = np.array([0.0, 1.0, 1.0, 1.0, 3.0])
    pooled = np.concatenate([ref, win])
    gaps = [np.mean(ref <= v) - np.mean(win <= v) for v in pooled]
    expected = ref.size * win.size / pooled.size**2 * sum(g * g for g in gaps)
    assert cvm_statistic(ref, ecdf_at_own_values(ref), win) == pytest.approx(expected, rel=1e-12)


def test_the_null_mean_with_ties_is_the_mean_over_every_split_of_the_pooled_sample() -> None:
    pooled = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 7.0])
    scores = []
    for chosen in itertools.combinations(range(pooled.size), 6):
        mask = np.zeros(pooled.size, dtype=bool)
        mask[list(chosen)] = True
        ref, win = np.sort(pooled[mask]), np.sort(pooled[~mask])
        scores.append(cvm_statistic(ref, ecdf_at_own_values(ref), win))
    mean, var = null_moments(np.sort(pooled[:6]), np.sort(pooled[6:]))
    assert mean == pytest.approx(float(np.mean(scores)), rel=1e-12)
    assert var == pytest.approx(float(np.var(scores)), rel=0.25)  # a large-sample approximation


def test_the_null_variance_with_heavy_ties_matches_random_splits() -> None:
    rng = np.random.default_rng(5)
    pooled = TIED["amount_70_percent_zero"](rng, 1_200)
    scores = []
    for _ in range(2_000):
        mixed = rng.permutation(pooled)
        ref, win = np.sort(mixed[:900]), np.sort(mixed[900:])
        scores.append(cvm_statistic(ref, ecdf_at_own_values(ref), win))
    mean, var = null_moments(np.sort(pooled[:900]), np.sort(pooled[900:]))
    assert mean == pytest.approx(float(np.mean(scores)), rel=0.05)
    assert var == pytest.approx(float(np.var(scores)), rel=0.15)


def test_the_limiting_cdf_equals_scipys_private_series() -> None:
    """Pins limiting_cdf to scipy's `_cdf_cvm_inf` while scipy still has it."""
    hypotests = pytest.importorskip("scipy.stats._hypotests")
    private = getattr(hypotests, "_cdf_cvm_inf", None)
    if private is None:
        pytest.skip("scipy no longer has _cdf_cvm_inf; the p-value tests still pin the series")
    for x in (0.003, 0.02, 0.1, 0.1667, 0.3, 0.5, 1.0, 2.0, 3.5):
        assert limiting_cdf(x) == pytest.approx(float(private(np.float64(x))), abs=1e-12)


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
            "age_two_years_older",
            lambda rng, n: rng.normal(40, 10, n).round(0),
            lambda rng, n: rng.normal(42, 10, n).round(0),
        ),
    ],
)
def test_a_real_shift_of_a_feature_with_repeated_values_is_still_flagged(
    shape: str, before: Draw, after: Draw
) -> None:
    rng = np.random.default_rng(23)
    method = make_method("cramervonmises", NUMERIC).fit(before(rng, 5_000).astype(float))
    for _ in range(5):
        result = method.score(after(rng, 1_000).astype(float))
        assert result.drifted, f"{shape}: p = {result.p_value}"


def test_one_value_on_both_sides_scores_zero_and_is_not_flagged() -> None:
    result = make_method("cramervonmises", NUMERIC).fit(np.full(50, 2.0)).score(np.full(30, 2.0))
    assert (result.score, result.p_value, result.drifted) == (0.0, 1.0, False)
