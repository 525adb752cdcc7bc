"""Every drift method equals an independent scipy/numpy computation, on random and edge inputs."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import spatial, special, stats  # type: ignore[import-untyped]

from exporter.stats import make_method
from exporter.stats.continuous import wasserstein_sorted
from exporter.stats.kinds import FeatureType

NUMERIC, CATEGORICAL = FeatureType.NUMERIC, FeatureType.CATEGORICAL
EPS = 1e-4
rng = np.random.default_rng(2026)

NUMERIC_CASES = {
    "random": (rng.normal(0, 1, 3_000), rng.normal(0.2, 1.3, 1_500)),
    "large": (rng.normal(0, 1, 30_000), rng.normal(0.05, 1, 12_000)),
    "ties": (rng.integers(0, 20, 2_000).astype(float), rng.integers(0, 22, 900).astype(float)),
    "constant": (np.full(500, 3.0), np.concatenate([np.full(300, 3.0), np.full(20, 4.0)])),
    "window_outside": (rng.uniform(0, 1, 1_000), rng.uniform(5, 6, 400)),
}


def _shares(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Underflow, inner bins, overflow and missing shares, by explicit comparisons."""
    present = x[~np.isnan(x)]
    inner = [np.sum((present >= lo) & (present < hi)) for lo, hi in itertools.pairwise(edges)]
    counts = [np.sum(present < edges[0]), *inner, np.sum(present >= edges[-1]), np.sum(np.isnan(x))]
    return np.array(counts, dtype=float) / x.size


def _expected_binned(name: str, ref: np.ndarray, win: np.ndarray) -> float:
    """PSI by formula, KL via scipy.stats.entropy, JS via scipy, Hellinger by formula."""
    present = ref[~np.isnan(ref)]
    lows = np.unique(
        np.concatenate(([present.min()], np.quantile(present, np.linspace(0, 1, 11)[1:-1])))
    )
    edges = np.append(lows, np.nextafter(present.max(), np.inf))
    r, w = _shares(ref, edges), _shares(win, edges)
    rc, wc = np.clip(r, EPS, None), np.clip(w, EPS, None)
    return {
        "psi": float(np.sum((wc - rc) * np.log(wc / rc))),
        "kl_div": float(stats.entropy(rc, wc)),
        "jensenshannon": float(spatial.distance.jensenshannon(rc, wc)),
        "hellinger": float(np.sqrt(np.sum((np.sqrt(r) - np.sqrt(w)) ** 2) / 2)),
    }[name]


@pytest.mark.parametrize("case", sorted(NUMERIC_CASES))
@pytest.mark.parametrize("name", ["psi", "kl_div", "jensenshannon", "hellinger"])
def test_binned_numeric_distances_equal_the_formula_on_fixed_reference_bins(
    name: str, case: str
) -> None:
    ref, win = NUMERIC_CASES[case]
    result = make_method(name, NUMERIC).fit(ref).score(win)
    assert result.score == pytest.approx(_expected_binned(name, ref, win), abs=1e-9)
    assert result.p_value is None


def test_missing_values_fill_their_own_bucket_and_an_all_missing_window_still_scores() -> None:
    ref = np.where(rng.random(2_000) < 0.1, np.nan, rng.normal(0, 1, 2_000))
    win = np.where(rng.random(800) < 0.4, np.nan, rng.normal(0, 1, 800))
    for name in ("psi", "kl_div", "jensenshannon", "hellinger"):
        method = make_method(name, NUMERIC).fit(ref)
        assert method.score(win).score == pytest.approx(_expected_binned(name, ref, win), abs=1e-9)
        all_missing = np.full(300, np.nan)
        assert method.score(all_missing).score == pytest.approx(
            _expected_binned(name, ref, all_missing), abs=1e-9
        )
        assert method.score(all_missing).drifted


@pytest.mark.parametrize("case", sorted(NUMERIC_CASES))
def test_ks_equals_scipy_ks_2samp(case: str) -> None:
    ref, win = NUMERIC_CASES[case]
    result = make_method("ks", NUMERIC).fit(ref).score(win)
    expected = stats.ks_2samp(ref, win)
    assert result.score == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-9)


@pytest.mark.parametrize("case", sorted(NUMERIC_CASES))
def test_wasserstein_equals_scipy_divided_by_the_reference_sd(case: str) -> None:
    ref, win = NUMERIC_CASES[case]
    sd = np.std(ref) or 1.0
    span = (ref.max() - ref.min()) or sd
    within = np.clip(win, ref.min() - span, ref.max() + span)  # no-op but for window_outside
    assert (within == win).all() != (case == "window_outside")
    expected = stats.wasserstein_distance(ref, within) / sd
    assert make_method("wasserstein", NUMERIC).fit(ref).score(win).score == pytest.approx(
        expected, abs=1e-9
    )


@pytest.mark.parametrize("value", [-1.79e308, 1e12, 1.79e308])
def test_one_corrupt_value_in_a_healthy_window_does_not_flag_wasserstein_drift(
    value: float,
) -> None:
    reference, window = rng.normal(100, 10, 5_000), rng.normal(100, 10, 1_000)
    method = make_method("wasserstein", NUMERIC).fit(reference)
    clean = method.score(window).score
    window[0] = value
    result = method.score(window)
    assert not result.drifted
    # at most as if it sat one range past the range's end: 2 ranges (~15 sd) / 1,000 rows
    assert result.score < clean + 0.016


def test_a_shift_past_the_reference_range_is_still_flagged_by_wasserstein() -> None:
    reference = rng.normal(0, 1, 5_000)
    method = make_method("wasserstein", NUMERIC).fit(reference)
    assert method.score(rng.normal(50, 1, 300)).drifted
    corrupt = rng.normal(0, 1, 1_000)
    corrupt[:20] = 1e300  # 2 % of the rows: no longer one stray value
    assert method.score(corrupt).drifted


@pytest.mark.parametrize("case", ["random", "ties", "window_outside", "constant"])
def test_cramervonmises_anderson_and_energy_equal_scipy(case: str) -> None:
    """CvM and AD only where no value repeats: scipy's CvM T and AD variance assume no ties.

    tests/test_cvm_ties.py and tests/test_anderson_ties.py check the tied cases.
    """
    ref, win = NUMERIC_CASES[case]
    if case in ("random", "window_outside"):
        cvm = stats.cramervonmises_2samp(ref, win)
        got = make_method("cramervonmises", NUMERIC).fit(ref).score(win)
        assert (got.score, got.p_value) == pytest.approx((cvm.statistic, cvm.pvalue), abs=1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ad = stats.anderson_ksamp([ref, win])
        got = make_method("anderson", NUMERIC).fit(ref).score(win)
        assert (got.score, got.p_value) == pytest.approx((ad.statistic, ad.pvalue), abs=1e-9)
    got = make_method("energy", NUMERIC).fit(ref).score(win)
    assert got.score == pytest.approx(stats.energy_distance(ref, win), abs=1e-9)


def test_anderson_on_one_repeated_value_reports_no_drift_where_scipy_refuses() -> None:
    result = make_method("anderson", NUMERIC).fit(np.full(50, 2.0)).score(np.full(30, 2.0))
    assert (result.score, result.p_value, result.drifted) == (0.0, 1.0, False)


CATEGORICAL_CASES = {
    "random": (rng.choice(4, 3_000, p=[0.4, 0.3, 0.2, 0.1]), rng.choice(5, 900)),
    "single_category": (np.zeros(400, dtype=np.int64), np.zeros(200, dtype=np.int64)),
    "empty_bucket": (np.repeat([0, 2], 300), rng.choice(3, 500)),
    "with_missing": (rng.choice([-1, 0, 1, 2], 1_000), rng.choice([-1, 0, 1, 3], 600)),
}


def _categorical_shares(codes: np.ndarray, k: int, missing: bool) -> np.ndarray:
    counts = [np.sum(codes == c) for c in range(k)] + [np.sum(codes >= k)]
    if missing:
        counts.append(np.sum(codes < 0))
    total = codes.size if missing else np.sum(codes >= 0)
    return np.array(counts, dtype=float) / total


@pytest.mark.parametrize("case", sorted(CATEGORICAL_CASES))
def test_categorical_methods_equal_scipy_or_the_formula(case: str) -> None:
    ref, win = CATEGORICAL_CASES[case]
    k = int(ref.max()) + 1
    r, w = _categorical_shares(ref, k, True), _categorical_shares(win, k, True)
    rc, wc = np.clip(r, EPS, None), np.clip(w, EPS, None)
    expected = {
        "psi": float(np.sum((wc - rc) * np.log(wc / rc))),
        "kl_div": float(stats.entropy(rc, wc)),
        "jensenshannon": float(spatial.distance.jensenshannon(rc, wc)),
        "hellinger": float(np.sqrt(np.sum((np.sqrt(r) - np.sqrt(w)) ** 2) / 2)),
    }
    for name, value in expected.items():
        got = make_method(name, CATEGORICAL).fit(ref, k).score(win).score
        assert got == pytest.approx(value, abs=1e-9), name
    observed = _categorical_shares(win, k, False) * np.sum(win >= 0)
    prior = _categorical_shares(ref, k, False) + EPS
    expected_counts = prior / prior.sum() * observed.sum()
    for name, lambda_ in (("chisquare", "pearson"), ("g_test", "log-likelihood")):
        scipy_result = stats.power_divergence(observed, expected_counts, lambda_=lambda_)
        got_test = make_method(name, CATEGORICAL).fit(ref, k).score(win)
        assert got_test.score == pytest.approx(scipy_result.statistic, abs=1e-9), name
        assert got_test.p_value == pytest.approx(scipy_result.pvalue, abs=1e-9), name


def test_z_test_equals_the_pooled_two_proportion_formula() -> None:
    ref, win = rng.choice(2, 2_000, p=[0.7, 0.3]), rng.choice(3, 700, p=[0.6, 0.35, 0.05])
    p1, p2 = np.mean(ref == 0), np.mean(win == 0)
    pooled = (p1 * ref.size + p2 * win.size) / (ref.size + win.size)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / ref.size + 1 / win.size))
    result = make_method("z", CATEGORICAL).fit(ref, 2).score(win)
    assert result.score == pytest.approx(abs(z), abs=1e-9)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-12)
    same = (
        make_method("z", CATEGORICAL)
        .fit(np.zeros(10, dtype=np.int64))
        .score(np.zeros(5, dtype=np.int64))
    )
    assert (same.score, same.p_value) == (0.0, 1.0)


def test_z_test_on_more_than_two_categories_is_refused_at_fit() -> None:
    with pytest.raises(ValueError, match="z: applies to binary features only"):
        make_method("z", CATEGORICAL).fit(np.array([0, 1, 2]))


def test_kl_of_smoothed_shares_equals_scipy_kl_div_sum_after_renormalising() -> None:
    ref, win = CATEGORICAL_CASES["random"]
    method = make_method("kl_div", CATEGORICAL).fit(ref)
    r = np.clip(method.reference_proportions, EPS, None)  # type: ignore[attr-defined]
    w = np.clip(method.window_proportions(win), EPS, None)  # type: ignore[attr-defined]
    expected = float(np.sum(special.kl_div(r / r.sum(), w / w.sum())))
    assert method.score(win).score == pytest.approx(expected, abs=1e-9)


samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=60)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_numeric_distances_stay_in_range_and_symmetric_ones_are_symmetric(
    a: list[float], b: list[float]
) -> None:
    x, y = np.array(a), np.array(b)
    js = make_method("jensenshannon", NUMERIC).fit(x).score(y).score
    hel = make_method("hellinger", NUMERIC).fit(x).score(y).score
    assert 0.0 <= js <= np.sqrt(np.log(2)) + 1e-12
    assert 0.0 <= hel <= 1.0
    for name in ("psi", "kl_div", "wasserstein", "energy"):
        assert make_method(name, NUMERIC).fit(x).score(y).score >= 0.0
    ks_xy = make_method("ks", NUMERIC).fit(x).score(y)
    ks_yx = make_method("ks", NUMERIC).fit(y).score(x)
    assert 0.0 <= ks_xy.score <= 1.0 and ks_xy.score == pytest.approx(ks_yx.score)
    assert ks_xy.p_value is not None and 0.0 <= ks_xy.p_value <= 1.0
    xs, ys = np.sort(x), np.sort(y)
    assert wasserstein_sorted(xs, ys) == pytest.approx(wasserstein_sorted(ys, xs), abs=1e-9)
    w_xy = make_method("wasserstein", NUMERIC).fit(x).score(y).score * (np.std(x) or 1.0)
    assert w_xy <= wasserstein_sorted(xs, ys) + 1e-9  # far window values count less, never more


shares = st.lists(st.integers(0, 4), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(shares, shares)
def test_categorical_distances_stay_in_range_and_psi_is_symmetric_in_shares(
    a: list[int], b: list[int]
) -> None:
    x, y = np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)
    k = 5
    for name, high in (
        ("jensenshannon", np.sqrt(np.log(2))),
        ("hellinger", 1.0),
        ("psi", np.inf),
        ("kl_div", np.inf),
    ):
        value = make_method(name, CATEGORICAL).fit(x, k).score(y).score
        assert 0.0 <= value <= high + 1e-12, name
    psi_xy = make_method("psi", CATEGORICAL).fit(x, k).score(y).score
    psi_yx = make_method("psi", CATEGORICAL).fit(y, k).score(x).score
    assert psi_xy == pytest.approx(psi_yx, abs=1e-9)
    for name in ("chisquare", "g_test"):
        p = make_method(name, CATEGORICAL).fit(x, k).score(y).p_value
        assert p is not None and 0.0 <= p <= 1.0
