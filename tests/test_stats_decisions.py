"""Decisions on top of scores: auto choice, correction, learned thresholds, dataset share, PCA."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]
from sklearn import decomposition  # type: ignore[import-untyped]

from bench.stats_false_alarms import any_alarm_share
from exporter.evaluate.drift import correct, dataset_share
from exporter.evaluate.features import reference_codes
from exporter.evaluate.fit import FittedColumn
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot
from exporter.stats import DEFAULT_METHOD, choose_method, make_method, resolve
from exporter.stats.correction import adjust_p_values
from exporter.stats.kinds import FeatureType
from exporter.stats.multivariate import PCAReconstruction
from exporter.stats.thresholds import LearnedThreshold, size_rules

NUMERIC, CATEGORICAL = FeatureType.NUMERIC, FeatureType.CATEGORICAL


@pytest.mark.parametrize(
    ("ftype", "rows", "unique", "expected"),
    [
        (NUMERIC, 1000, 50, "ks"),
        (NUMERIC, 1000, 5, "chi2"),
        (NUMERIC, 800, 2, "z"),
        (CATEGORICAL, 500, 7, "chi2"),
        (CATEGORICAL, 500, 2, "z"),
        (NUMERIC, 1001, 6, "wasserstein"),
        (NUMERIC, 5000, 4, "jensenshannon"),
        (CATEGORICAL, 5000, 2, "jensenshannon"),
    ],
)
def test_auto_follows_evidentlys_rule_but_tests_categories_for_homogeneity(
    ftype: FeatureType, rows: int, unique: int, expected: str
) -> None:
    assert choose_method(ftype, rows, unique) == expected


@pytest.mark.parametrize(("reference_rows", "window_rows"), [(300, 300), (300, 3_000)])
def test_auto_flags_about_alpha_of_healthy_category_windows_against_a_small_reference(
    reference_rows: int, window_rows: int
) -> None:
    # Evidently's goodness of fit flagged 30 % (300 rows) and 91 % (3,000 rows) of these.
    rng = np.random.default_rng(41)
    shares = [0.4, 0.3, 0.2, 0.07, 0.03]
    runs, flagged = 400, 0
    for _ in range(runs):
        method = make_method("auto", CATEGORICAL).fit(rng.choice(5, reference_rows, p=shares), 5)
        flagged += method.score(rng.choice(5, window_rows, p=shares)).drifted
    assert resolve(method).label == "chi2"
    assert flagged / runs <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / runs)


def test_auto_is_the_default_and_exports_the_method_it_chose() -> None:
    rng = np.random.default_rng(3)
    assert DEFAULT_METHOD == {NUMERIC: "auto", CATEGORICAL: "auto", FeatureType.EMBEDDING: "mmd"}
    big = resolve(make_method("auto", NUMERIC).fit(rng.normal(0, 1, 5000)))
    small = resolve(make_method("auto", NUMERIC).fit(rng.normal(0, 1, 500)))
    flags = resolve(make_method("auto", NUMERIC).fit(rng.choice([0.0, 1.0], 500)))
    assert (big.label, small.label, flags.label) == ("wasserstein", "ks", "z")
    shifted = flags.score(rng.choice([0.0, 1.0], 500, p=[0.2, 0.8]))
    assert shifted.drifted and shifted.p_value is not None


def test_auto_on_a_few_valued_numeric_column_counts_values_it_never_saw_as_other() -> None:
    rng = np.random.default_rng(4)
    method = resolve(make_method("auto", NUMERIC).fit(rng.choice([1.0, 2.0, 3.0], 5000)))
    assert method.label == "jensenshannon"
    assert method.score(rng.choice([1.0, 2.0, 3.0], 2000)).score < 0.05
    assert method.score(np.full(1000, 7.0)).drifted


def test_auto_counts_every_distinct_value_even_those_only_past_the_first_rows() -> None:
    flags_then_more = np.concatenate([np.zeros(490), np.ones(490), np.arange(2.0, 9.0)])
    assert resolve(make_method("auto", NUMERIC).fit(flags_then_more)).label == "ks"
    assert resolve(make_method("auto", NUMERIC).fit(flags_then_more[:980])).label == "z"


def test_bh_and_bonferroni_adjusted_p_values_equal_scipy_and_the_formula() -> None:
    p = np.random.default_rng(1).uniform(0, 0.2, 40) ** 2
    np.testing.assert_allclose(
        adjust_p_values(p, "fdr_bh"), stats.false_discovery_control(p, method="bh"), atol=1e-12
    )
    np.testing.assert_allclose(adjust_p_values(p, "bonferroni"), np.minimum(p * 40, 1))
    np.testing.assert_array_equal(adjust_p_values(p, "none"), p)


def test_correction_changes_the_decision_but_not_the_exported_p_value() -> None:
    def feature(name: str, p: float | None, score: float = 1.0) -> FeatureSnapshot:
        return FeatureSnapshot(
            name, DriftValue("ks", score, p, 0.05 if p else 0.1, p is None or p < 0.05), 0.0
        )

    features = (feature("a", 0.001), feature("b", 0.04), feature("c", 0.5), feature("d", None))
    decided = correct(features, "fdr_bh")
    assert [f.drift.drifted for f in decided if f.drift] == [True, False, False, True]
    assert [f.drift.p_value for f in decided if f.drift] == [0.001, 0.04, 0.5, None]
    uncorrected = correct(features, "none")
    assert [f.drift.drifted for f in uncorrected if f.drift] == [True, True, False, True]


def test_fdr_bh_keeps_false_alarms_of_50_features_within_alpha_plus_two_standard_errors() -> None:
    bound = 0.05 + 2 * np.sqrt(0.05 * 0.95 / 200)
    assert any_alarm_share(correction="fdr_bh") <= bound


def test_without_correction_a_50_feature_model_alarms_on_most_no_drift_windows() -> None:
    assert any_alarm_share(evaluations=40, correction="none") > 0.5


def test_learned_threshold_is_mean_plus_k_sd_of_chunk_scores_carried_to_a_new_window() -> None:
    rng = np.random.default_rng(9)
    reference = rng.normal(0, 1, 20_000)
    method = make_method("psi", NUMERIC).fit(reference)
    learned = LearnedThreshold(reference, lambda x: method.score(x).score, k=3.0, power=1.0)
    shuffled = np.random.default_rng(0).permutation(reference)
    chunk = 980  # 1,000 rounded down to sizes 2 ** (1 / 16) apart: 2 ** (159 / 16)
    draws = np.random.default_rng(chunk)  # 50 independent random parts, fixed seed
    scores = [
        method.score(shuffled[draws.choice(20_000, chunk, replace=False)]).score for _ in range(50)
    ]
    apart = (1 / 1000 + 1 / 20_000) / (1 / chunk - 1 / 20_000)  # a window, not a part of it
    expected = (np.mean(scores) + 3 * np.std(scores, ddof=1)) * apart
    assert learned.for_size(1000) == pytest.approx(expected)
    assert learned.for_size(5000) is None  # four chunks are too few: the fixed one applies
    assert method.score(rng.normal(0, 1, 1000)).score < learned.for_size(1000)  # type: ignore
    assert method.score(rng.normal(0.3, 1, 1000)).score > learned.for_size(1000)  # type: ignore


@pytest.mark.parametrize(("name", "kind"), [("wasserstein", NUMERIC), ("psi", NUMERIC)])
def test_a_learned_threshold_flags_few_healthy_windows_of_a_fifth_of_the_reference(
    name: str, kind: FeatureType
) -> None:
    """Chunks scored against the reference they are part of, and an sd from five of them:
    15 % (wasserstein) and 27 % (psi) of these healthy windows crossed mean + 3 sd."""
    rng = np.random.default_rng(23)
    runs, flagged = 200, 0
    for _ in range(runs):
        reference = rng.normal(0, 1, 5000)
        method = make_method(name, kind).fit(reference)
        learned, _ = size_rules(method, reference, 3.0, learned=True)
        assert learned is not None
        flagged += method.score(rng.normal(0, 1, 1000)).score > learned.for_size(1000)  # type: ignore[operator]
    assert flagged / runs <= 0.08


def test_a_learned_threshold_is_as_honest_on_each_reference_as_on_average() -> None:
    """Chunks sliced at random offsets overlapped and moved together, so each reference's sd
    rested on about five values: a binary feature's learned chi2 cut flagged 19 % of healthy
    windows on one 5,000-row reference, and more than 10 % on 27 of 100 references."""
    rng = np.random.default_rng(31)
    rates = []
    for _ in range(30):
        reference = (rng.random(5000) < 0.3).astype(np.int64)
        method = resolve(make_method("chi2", CATEGORICAL).fit(reference, 2))
        learned, _ = size_rules(method, reference, 3.0, learned=True)
        assert learned is not None
        cut = learned.for_size(1000)
        assert cut is not None
        windows = [(rng.random(1000) < 0.3).astype(np.int64) for _ in range(100)]
        rates.append(np.mean([method.score(w).score > cut for w in windows]))
    assert np.mean(rates) <= 0.05
    assert sum(rate > 0.10 for rate in rates) <= 3


def test_dataset_share_is_weighted_by_feature_importance() -> None:
    columns = tuple(
        FittedColumn(n, NUMERIC, None, importance=w)
        for n, w in (("a", 3.0), ("b", 1.0), ("c", 1.0))
    )
    features = tuple(
        FeatureSnapshot(n, DriftValue("ks", 0, 0.5, 0.05, d), 0.0)
        for n, d in (("a", True), ("b", False), ("c", False))
    )
    assert dataset_share(columns, features) == pytest.approx(3 / 5)


def _correlated(rng: np.random.Generator, n: int, rho: float) -> np.ndarray:
    a = rng.normal(0, 1, n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.normal(0, 1, n)
    return np.column_stack([a, b, rng.normal(0, 1, n)])


def test_pca_reconstruction_error_equals_sklearn_and_flags_a_broken_correlation() -> None:
    rng = np.random.default_rng(11)
    reference = _correlated(rng, 20_000, 0.9)
    pca = PCAReconstruction.fit(reference, variance=0.65)
    window = _correlated(rng, 1000, -0.9)
    z = (reference - reference.mean(0)) / reference.std(0)
    sk = decomposition.PCA(n_components=0.65, svd_solver="full").fit(z)
    zw = (window - reference.mean(0)) / reference.std(0)
    expected = np.linalg.norm(zw - sk.inverse_transform(sk.transform(zw)), axis=1)
    by_sklearn = PCAReconstruction(pca.mean, pca.scale, sk.components_[None], np.empty(0))
    np.testing.assert_allclose(by_sklearn.row_errors(window), expected, rtol=1e-6)
    # Rebuilt by components fitted on four fifths of the reference, rows err about as much.
    assert np.mean(pca.row_errors(window)) == pytest.approx(np.mean(expected), rel=0.01)
    steady = pca.score(_correlated(rng, 1000, 0.9))
    assert steady < pca.threshold(1000) < pca.score(window)
    for column in range(3):  # each marginal is still N(0, 1): univariate KS sees nothing
        p = stats.ks_2samp(reference[:, column], window[:, column]).pvalue
        assert p > 0.001


@pytest.mark.parametrize(("features", "reference", "window"), [(8, 400, 1500), (12, 5000, 2000)])
def test_pca_reconstruction_rarely_flags_healthy_windows_of_independent_features(
    features: int, reference: int, window: int
) -> None:
    """Errors of the rows the components were fitted on set the threshold: 100 % and 20 % of
    these healthy windows were flagged, at a threshold meant as mean + 3 sd."""
    rng = np.random.default_rng(17)
    runs, flagged = 100, 0
    for _ in range(runs):
        pca = PCAReconstruction.fit(rng.normal(size=(reference, features)))
        rows = rng.normal(size=(window, features))
        flagged += pca.drifted(pca.score(rows), pca.threshold(window))
    assert flagged <= 3


def test_a_learned_threshold_on_a_chi_square_statistic_scales_as_a_squared_one() -> None:
    """Scaled as a distance (the square root), chi2's learned cut flagged 10 % of these
    healthy windows: a chi-square statistic spreads as 1/n + 1/m itself."""
    rng = np.random.default_rng(29)
    shares = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04]
    runs, flagged = 300, 0
    for _ in range(runs):
        reference = rng.choice(6, 2500, p=shares)
        method = make_method("chi2", CATEGORICAL).fit(reference, 6)
        learned, _ = size_rules(method, reference, 3.0, learned=True)
        assert learned is not None
        window = rng.choice(6, 500, p=shares)
        flagged += method.score(window).score > learned.for_size(500)  # type: ignore[operator]
    assert flagged / runs <= 0.06


def _zipf_codes(
    rng: np.random.Generator, size: int, categories: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """A sparse categorical sample (shares 1/rank): many categories any sample misses."""
    p = 1 / np.arange(1, categories + 1)
    return rng.choice(categories, size, p=p / p.sum()), p / p.sum()


def _as_reference_codes(reference: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, int]:
    """Window values as evaluate.features.reference_codes gives them: a category the reference
    lacks gets a code of its own from k on."""
    seen = np.unique(reference)
    code = {c: i for i, c in enumerate(seen.tolist())}
    unseen = {c: len(seen) + j for j, c in enumerate(sorted(set(window.tolist()) - set(code)))}
    return np.array([code.get(c, unseen.get(c)) for c in window.tolist()]), len(seen)


@pytest.mark.parametrize(("reference_rows", "window_rows"), [(800, 1000), (300, 3000)])
def test_chi2_stays_near_alpha_on_a_healthy_feature_with_many_rare_categories(
    reference_rows: int, window_rows: int
) -> None:
    """One `__other__` column, 0 in the reference by construction, flagged 57 % (800 rows)
    and 100 % (300 rows) of healthy windows of a 200-category feature."""
    rng = np.random.default_rng(17)
    flagged = 0
    for _ in range(200):
        reference, _ = _zipf_codes(rng, reference_rows)
        window, _ = _zipf_codes(rng, window_rows)
        codes, k = _as_reference_codes(reference, window)
        ref_codes = np.searchsorted(np.unique(reference), reference)
        method = make_method("chi2", CATEGORICAL).fit(ref_codes, n_categories=k)
        flagged += method.score(codes).drifted
    assert flagged / 200 <= 0.08


def test_chi2_still_flags_a_new_category_that_takes_a_fifth_of_the_window() -> None:
    rng = np.random.default_rng(18)
    reference, _ = _zipf_codes(rng, 800)
    window = np.concatenate([_zipf_codes(rng, 800)[0], np.full(200, 10_000)])
    codes, k = _as_reference_codes(reference, window)
    ref_codes = np.searchsorted(np.unique(reference), reference)
    result = make_method("chi2", CATEGORICAL).fit(ref_codes, n_categories=k).score(codes)
    assert result.drifted and result.p_value is not None and result.p_value < 1e-6


def test_window_values_the_reference_lacks_each_get_a_code_of_their_own() -> None:
    column = FittedColumn("c", CATEGORICAL, None, codes={"a": 0, "b": 1})
    values = ["b", "new1", "a", "new2"]  # the window vocabulary's code order
    codes = reference_codes(column, values, np.array([0, 1, 1, 2, 3, 3]))
    assert codes.tolist() == [1, 2, 2, 0, 3, 3]


def test_values_folded_past_the_vocabulary_cap_count_as_distinct_rare_categories() -> None:
    """Once max_new_categories filled, new values fold into `__other__`: as one column with a
    reference count of 0, chi2 flagged every healthy window (p = 0 from the fourth)."""
    rng = np.random.default_rng(19)
    flagged = 0
    for _ in range(50):
        reference, _ = _zipf_codes(rng, 800)
        seen = np.unique(reference)
        window, _ = _zipf_codes(rng, 300)
        values = [f"c{c}" for c in seen.tolist()] + ["__other__"]  # the window's vocabulary
        at = np.searchsorted(seen, window)
        known = (at < seen.size) & (seen[np.minimum(at, seen.size - 1)] == window)
        window_codes = np.where(known, at, len(values) - 1)  # unseen: folded, cap full
        column = FittedColumn(
            "c", CATEGORICAL, None, codes={v: i for i, v in enumerate(values[:-1])}
        )
        codes = reference_codes(column, values, window_codes)
        assert (codes[~known] >= seen.size).all() and np.unique(codes[~known]).size == (
            ~known
        ).sum()
        method = make_method("chi2", CATEGORICAL).fit(np.searchsorted(seen, reference), seen.size)
        flagged += method.score(codes).drifted
    assert flagged <= 5
