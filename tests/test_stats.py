"""Drift statistics agree with plain numpy/scipy and flag what they should."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]

from exporter.stats import (
    BINNED_DISTANCES,
    DEFAULT_METHOD,
    METHODS,
    CategoricalBinned,
    ChiSquare,
    DriftMethod,
    KolmogorovSmirnov,
    NumericBinned,
    binned_methods,
    make_method,
    methods_for,
    psi_from_proportions,
)
from exporter.stats.kinds import FeatureType

NUMERIC = FeatureType.NUMERIC
CATEGORICAL = FeatureType.CATEGORICAL


def numeric_psi(threshold: float | None = None, bins: int = 10) -> NumericBinned:
    """The registered numeric PSI, checked to be the binned method with its edges."""
    method = make_method("psi", NUMERIC, threshold, bins)
    assert isinstance(method, NumericBinned) and method.name == "psi"
    return method


def categorical_psi() -> CategoricalBinned:
    """The registered categorical PSI, checked to be the binned method with its shares."""
    method = make_method("psi", CATEGORICAL)
    assert isinstance(method, CategoricalBinned) and method.name == "psi"
    return method


def _codes(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    """Draw n int64 category codes with the given shares."""
    return rng.choice(len(shares), size=n, p=shares).astype(np.int64)


def test_numeric_psi_equals_a_direct_numpy_computation_on_the_fitted_edges() -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(0.0, 1.0, 5_000)
    window = rng.normal(0.3, 1.2, 2_000)
    method = numeric_psi().fit(reference)

    low, high = reference.min(), reference.max()
    inner_edges = np.append(method.edges[:-1], high)

    def shares(x: np.ndarray) -> np.ndarray:
        inner, _ = np.histogram(x[(x >= low) & (x <= high)], bins=inner_edges)
        counts = np.concatenate(([np.sum(x < low)], inner, [np.sum(x > high)]))
        return counts / x.size

    ref, win = (
        np.clip(shares(reference), 1e-4, None),
        np.clip(shares(window), 1e-4, None),
    )
    expected = float(np.sum((win - ref) * np.log(win / ref)))
    assert method.score(window).score == pytest.approx(expected, abs=1e-9)
    assert psi_from_proportions(shares(reference), shares(window), 1e-4) == pytest.approx(
        expected, abs=1e-9
    )


def test_numeric_psi_uses_deduplicated_reference_quantiles_as_edges() -> None:
    reference = np.array([0.0] * 50 + list(np.linspace(1.0, 2.0, 50)))
    method = numeric_psi(bins=10).fit(reference)
    interior = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    assert np.array_equal(method.edges[:-1], np.unique(np.append(0.0, interior)))
    assert method.edges[-1] == np.nextafter(2.0, np.inf)


def test_values_outside_the_reference_range_land_in_under_and_overflow() -> None:
    reference = np.linspace(0.0, 10.0, 1_001)
    method = numeric_psi(bins=5).fit(reference)
    window = np.array([-5.0, -0.1, 0.0, 10.0, 10.1, 99.0])
    index = np.searchsorted(method.edges, window, side="right")
    overflow = method.edges.size
    assert list(index) == [0, 0, 1, overflow - 1, overflow, overflow]
    assert method.reference_proportions[0] == 0.0
    assert method.reference_proportions[-1] == 0.0
    assert method.score(np.array([-1.0, 11.0] * 50)).drifted


@pytest.mark.parametrize(
    ("n_ref", "n_win", "shift"),
    [(20, 15, 0.0), (300, 200, 0.5), (2_000, 2_000, 0.05), (50_000, 10_000, 0.02)],
)
def test_ks_matches_scipy_ks_2samp_for_several_sizes(n_ref: int, n_win: int, shift: float) -> None:
    rng = np.random.default_rng(n_ref + n_win)
    reference = rng.normal(0.0, 1.0, n_ref)
    window = rng.normal(shift, 1.0, n_win)
    result = KolmogorovSmirnov().fit(reference).score(window)
    expected = stats.ks_2samp(reference, window)
    assert result.score == pytest.approx(expected.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert result.drifted == (expected.pvalue < 0.05)


def test_chisquare_matches_scipy_chisquare_including_the_unseen_bucket() -> None:
    rng = np.random.default_rng(3)
    reference = _codes(rng, [0.5, 0.3, 0.2], 4_000)
    window = np.concatenate([_codes(rng, [0.4, 0.35, 0.25], 900), np.array([3, 7, 9])])
    method = ChiSquare().fit(reference, n_categories=3)
    result = method.score(window)

    observed = np.array([*np.bincount(window[window < 3], minlength=3), 3], dtype=float)
    ref_prop = np.append(np.bincount(reference, minlength=3) / reference.size, 0.0) + 1e-4
    expected = ref_prop / ref_prop.sum() * observed.sum()
    scipy_result = stats.chisquare(observed, expected)
    assert result.score == pytest.approx(scipy_result.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(scipy_result.pvalue, abs=1e-9)
    assert result.drifted


def test_chi2_equals_scipy_chi2_contingency_of_reference_and_window_counts() -> None:
    rng = np.random.default_rng(5)
    reference = _codes(rng, [0.5, 0.3, 0.15, 0.05], 300)
    window = np.concatenate([_codes(rng, [0.45, 0.35, 0.2, 0.0], 2_000), np.array([4, 9])])
    result = make_method("chi2", CATEGORICAL).fit(reference, n_categories=4).score(window)

    unseen = np.count_nonzero(window >= 4)
    table = [
        [*np.bincount(reference, minlength=4), 0],
        [*np.bincount(window[window < 4], minlength=4), unseen],
    ]
    expected = stats.chi2_contingency(np.array(table))
    assert result.score == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi2_skips_buckets_empty_on_both_sides_and_needs_two_to_compare() -> None:
    method = make_method("chi2", CATEGORICAL).fit(np.array([0, 0, 1, 1, 1]), n_categories=3)
    result = method.score(np.array([0, 1, 1, 0]))  # category 2 and __other__: empty on both
    expected = stats.chi2_contingency(np.array([[2, 3], [2, 2]]))
    assert result.p_value == pytest.approx(expected.pvalue)
    only = make_method("chi2", CATEGORICAL).fit(np.array([0, 0, 0]), n_categories=1)
    assert only.score(np.array([0, 0])).p_value == 1.0


def test_numeric_psi_ignores_same_distribution_but_flags_a_one_std_shift() -> None:
    rng = np.random.default_rng(7)
    method = make_method("psi", NUMERIC).fit(rng.normal(5.0, 2.0, 10_000))
    same = method.score(rng.normal(5.0, 2.0, 10_000))
    shifted = method.score(rng.normal(7.0, 2.0, 10_000))
    assert not same.drifted and same.score < 0.02
    assert shifted.drifted and shifted.score > 0.5
    assert shifted.p_value is None and shifted.threshold == 0.1


def test_categorical_psi_ignores_the_same_mix_but_flags_a_changed_mix() -> None:
    rng = np.random.default_rng(11)
    method = make_method("psi", CATEGORICAL).fit(_codes(rng, [0.5, 0.3, 0.2], 10_000))
    same = method.score(_codes(rng, [0.5, 0.3, 0.2], 10_000))
    changed = method.score(_codes(rng, [0.2, 0.3, 0.5], 10_000))
    assert not same.drifted and same.score < 0.01
    assert changed.drifted


def test_chisquare_flags_a_changed_category_mix() -> None:
    rng = np.random.default_rng(12)
    method = ChiSquare().fit(_codes(rng, [0.5, 0.3, 0.2], 10_000))
    result = method.score(_codes(rng, [0.45, 0.3, 0.25], 10_000))
    assert result.drifted and result.p_value is not None and result.p_value < 1e-6


def test_unseen_categories_raise_categorical_psi() -> None:
    rng = np.random.default_rng(13)
    reference = _codes(rng, [0.6, 0.4], 5_000)
    window = _codes(rng, [0.6, 0.4], 5_000)
    method = categorical_psi().fit(reference, n_categories=2)
    baseline = method.score(window).score
    with_unseen = window.copy()
    with_unseen[:500] = np.where(np.arange(500) % 2 == 0, 2, 5)
    assert method.score(with_unseen).score > baseline + 0.1
    assert method.reference_proportions[-1] == 0.0


def test_categorical_fit_honours_n_categories_beyond_the_observed_codes() -> None:
    method = categorical_psi().fit(np.array([0, 1, 1]), n_categories=4)
    assert method.n_categories == 4
    assert method.reference_proportions.size == 6  # 4 categories, __other__, missing
    with pytest.raises(ValueError, match="psi"):
        categorical_psi().fit(np.array([0, 3]), n_categories=2)


def test_numeric_methods_accept_and_ignore_n_categories() -> None:
    reference = np.arange(100, dtype=float)
    for method in (numeric_psi(), KolmogorovSmirnov()):
        assert method.fit(reference, n_categories=7).score(reference).drifted is False


def test_make_method_rejects_a_method_that_does_not_apply_to_the_type() -> None:
    with pytest.raises(ValueError, match="'ks' does not apply to categorical features") as err:
        make_method("ks", CATEGORICAL)
    assert "chisquare" in str(err.value) and "psi" in str(err.value)
    with pytest.raises(ValueError, match="'chisquare' does not apply to numeric features"):
        make_method("chisquare", NUMERIC)


def test_make_method_rejects_an_unknown_name_listing_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'wasserstain'") as err:
        make_method("wasserstain", NUMERIC)
    assert all(name in str(err.value) for name in METHODS)


def test_make_method_passes_threshold_and_bins_through() -> None:
    method = make_method("psi", NUMERIC, threshold=0.25, bins=4)
    assert method.threshold == 0.25 and method.bins == 4
    assert make_method("ks", NUMERIC).threshold == 0.05


def test_every_table_entry_is_named_and_typed_consistently() -> None:
    for name, by_type in METHODS.items():
        for feature_type, method_class in by_type.items():
            assert method_class.name == name
            assert feature_type in method_class.feature_types
    assert methods_for(NUMERIC) == [
        "anderson",
        "auto",
        "cramervonmises",
        "energy",
        "hellinger",
        "jensenshannon",
        "kl_div",
        "ks",
        "psi",
        "wasserstein",
    ]
    assert methods_for(CATEGORICAL) == [
        "auto",
        "chi2",
        "chisquare",
        "g_test",
        "hellinger",
        "jensenshannon",
        "kl_div",
        "psi",
        "z",
    ]
    assert all(DEFAULT_METHOD[t] in methods_for(t) for t in FeatureType)


@pytest.mark.parametrize(
    "method", [numeric_psi(), KolmogorovSmirnov(), categorical_psi(), ChiSquare()]
)
def test_score_before_fit_raises_naming_the_method(method: DriftMethod) -> None:
    with pytest.raises(RuntimeError, match=f"^{method.name}: score"):
        method.score(np.array([1, 2, 3]))


@pytest.mark.parametrize(
    "method", [numeric_psi(), KolmogorovSmirnov(), categorical_psi(), ChiSquare()]
)
def test_fitting_an_empty_reference_raises_naming_the_method(
    method: DriftMethod,
) -> None:
    with pytest.raises(ValueError, match=f"^{method.name}: .*empty reference"):
        method.fit(np.array([], dtype=np.int64))


def test_invalid_thresholds_and_bins_are_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="ks: threshold"):
        KolmogorovSmirnov(threshold=1.5)
    with pytest.raises(ValueError, match="psi: threshold"):
        numeric_psi(threshold=-0.1)
    with pytest.raises(ValueError, match="psi: bins"):
        numeric_psi(bins=0)


def test_constant_reference_still_scores_with_under_and_overflow_bins() -> None:
    method = numeric_psi().fit(np.full(100, 3.0))
    assert method.edges.size == 2
    assert not method.score(np.full(50, 3.0)).drifted
    assert method.score(np.array([2.0, 3.0, 4.0] * 10)).drifted


def test_every_binned_formula_registers_one_numeric_and_one_categorical_method() -> None:
    for formula in BINNED_DISTANCES:
        by_type = METHODS[formula]
        assert set(by_type) == {NUMERIC, CATEGORICAL}
        assert issubclass(by_type[NUMERIC], NumericBinned)
        assert issubclass(by_type[CATEGORICAL], CategoricalBinned)
        for method_class in by_type.values():
            assert (method_class.name, method_class.is_test) == (formula, False)
            assert method_class.default_threshold == 0.1 and method_class.handles_missing


def test_a_formula_added_to_the_table_scores_numeric_and_categorical_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def total_variation(ref: np.ndarray, win: np.ndarray) -> float:
        return float(np.abs(ref - win).sum() / 2)

    monkeypatch.setitem(BINNED_DISTANCES, "tv", total_variation)
    by_type = binned_methods("tv")
    numeric = by_type[NUMERIC]().fit(np.arange(100.0)).score(np.arange(50.0))
    assert numeric.score == pytest.approx(0.5) and numeric.p_value is None
    categorical = by_type[CATEGORICAL]().fit(np.array([0, 1])).score(np.array([1, 1, -1, 1]))
    assert categorical.score == pytest.approx(0.5) and categorical.drifted
