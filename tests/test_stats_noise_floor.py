"""Fixed distance thresholds at small windows: chance alone must not cross them."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.config import load_config_text
from exporter.evaluate.drift import score_column
from exporter.evaluate.fit import FittedReference, fit_reference
from exporter.reference.load import ReferenceData
from exporter.stats import make_method
from exporter.stats.kinds import FeatureType
from exporter.stats.thresholds import RESAMPLE_MAX, LearnedThreshold, NoiseFloor, size_rules

ROWS = 5_000  # past auto's 1,000: Wasserstein and Jensen-Shannon at 0.1, Evidently's defaults
CITIES = tuple(f"c{i:02d}" for i in range(20))
EVALUATIONS = 200
# Share of healthy windows flagged: 5 % plus two binomial standard errors of 200 evaluations.
FALSE_ALARM_BOUND = 0.05 + 2 * np.sqrt(0.05 * 0.95 / EVALUATIONS)


def _fitted(rng: np.random.Generator) -> FittedReference:
    model = load_config_text(
        "models: [{name: m, task: regression, reference: {file: r.csv}, features: ["
        "{name: amount, type: numeric}, {name: city, type: categorical}]}]"
    ).models[0]
    data = ReferenceData(
        ROWS,
        {"amount": rng.gamma(2.0, 2.5, ROWS)},
        {"city": tuple(rng.choice(CITIES, ROWS).tolist())},
        None,
        None,
        None,
        "noise",
    )
    return fit_reference(model, data)


def _window(rng: np.random.Generator, size: int, shift: float = 1.0) -> dict[str, np.ndarray]:
    codes = rng.integers(0, len(CITIES), size)
    return {"amount": rng.gamma(2.0, 2.5, size) * shift, "city": codes.astype(np.int64)}


@pytest.mark.parametrize("size", [100, 200])
def test_a_healthy_feature_scored_by_a_default_distance_is_not_flagged_in_a_small_window(
    size: int,
) -> None:
    """At 100 rows a fixed 0.1 was crossed by chance in 64 % (amount) and 98 % (city) of
    healthy evaluations before the floor."""
    rng = np.random.default_rng(21)
    fitted = _fitted(rng)
    assert [c.method.label for c in fitted.features if c.method] == [
        "wasserstein",
        "jensenshannon",
    ]
    for column in fitted.features:
        flagged = 0
        for _ in range(EVALUATIONS):
            drift = score_column(column, _window(rng, size)[column.name], min_samples=100)
            assert drift is not None
            flagged += drift.drifted
            assert drift.drifted == (drift.score > drift.threshold)  # the exported cut decides
        assert flagged / EVALUATIONS <= FALSE_ALARM_BOUND, column.name


def test_a_large_shift_is_still_flagged_in_a_small_window() -> None:
    rng = np.random.default_rng(22)
    amount = _fitted(rng).features[0]
    drift = score_column(amount, _window(rng, 100, shift=2.0)["amount"], min_samples=100)
    assert drift is not None and drift.drifted and drift.threshold > 0.1


def test_in_a_large_window_the_configured_threshold_decides_as_in_evidently() -> None:
    rng = np.random.default_rng(23)
    for column in _fitted(rng).features:
        drift = score_column(column, _window(rng, 5_000)[column.name], min_samples=100)
        assert drift is not None and drift.threshold == 0.1 and not drift.drifted


def test_tests_and_learned_thresholds_get_no_floor() -> None:
    rng = np.random.default_rng(24)
    model = load_config_text(
        "models: [{name: m, task: regression, reference: {file: r.csv}, features: ["
        "{name: a, type: numeric, method: ks}, {name: b, type: numeric, method: psi,"
        " threshold: learned}, {name: c, type: numeric, method: psi}]}]"
    ).models[0]
    numeric = {name: rng.normal(0, 1, ROWS) for name in "abc"}
    fitted = fit_reference(model, ReferenceData(ROWS, numeric, {}, None, None, None, "t"))
    assert [c.noise is not None for c in fitted.features] == [False, False, True]


def test_the_floor_is_mean_plus_k_sd_of_window_sized_draws_scaled_for_both_samples() -> None:
    rng = np.random.default_rng(25)
    m = 40_000
    reference = rng.normal(0, 1, m)
    method = make_method("wasserstein", FeatureType.NUMERIC).fit(reference)
    floor = NoiseFloor(reference, lambda x: method.score(x).score, k=3.0)
    sample = np.random.default_rng(0).choice(reference, 20_000, replace=False)
    draws = np.random.default_rng(256)  # 256 values: a size it draws (sizes 19 % apart)
    scores = [method.score(sample[draws.integers(0, 20_000, 256)]).score for _ in range(50)]
    measured = np.mean(scores) + 3 * np.std(scores, ddof=1)
    spread = 1 / 256 + 1 / 20_000 - 1 / m  # a draw from the kept 20,000 of the reference
    assert floor.for_size(256) == pytest.approx(measured * np.sqrt((1 / 256 + 1 / m) / spread))
    # Windows past RESAMPLE_MAX are carried from the largest draw.
    assert RESAMPLE_MAX < 8_000
    ratio = floor.for_size(16_000) / floor.for_size(8_000)  # type: ignore[operator]
    assert ratio == pytest.approx(np.sqrt((1 / 16_000 + 1 / m) / (1 / 8_000 + 1 / m)))
    assert NoiseFloor(reference[:150], lambda x: 0.0).for_size(100) is None  # too few rows


def test_the_floor_stays_above_the_healthy_scores_of_a_feature_with_many_rare_categories() -> None:
    """Chunks a twentieth of the reference, carried to the window's size, put the floor under
    the healthy mean: 5-38 % of healthy 1,000-row windows flagged at 5,000 rows."""
    p = 1 / np.arange(1, 201)
    p /= p.sum()
    flagged = 0
    for seed in range(3):
        rng = np.random.default_rng(seed)
        reference = rng.choice(200, 5_000, p=p)
        method = make_method("jensenshannon", FeatureType.CATEGORICAL).fit(reference, 200)
        floor = NoiseFloor(reference, lambda x, m=method: m.score(x).score).for_size(1_000)
        assert floor is not None
        scores = [method.score(rng.choice(200, 1_000, p=p)).score for _ in range(100)]
        flagged += sum(score > max(floor, 0.1) for score in scores)
    assert flagged / 300 <= 0.05


def test_a_long_tail_feature_whose_windows_hold_new_categories_is_not_flagged_when_healthy() -> (
    None
):
    """Draws of the reference never hold a category it lacks, but healthy windows of a
    500-value Zipf feature do (4 % of rows at 3,000 reference rows), all in the `__other__`
    bucket: the floor sat under their score and 78 % of healthy windows were flagged."""
    p = 1 / np.arange(1, 501) ** 1.1
    p /= p.sum()
    flagged = 0
    for seed in range(2):
        rng = np.random.default_rng(seed)
        values = rng.choice(500, 3_000, p=p)
        seen = np.unique(values)
        code = np.full(500, -1)
        code[seen] = np.arange(seen.size)
        method = make_method("jensenshannon", FeatureType.CATEGORICAL).fit(code[values], seen.size)
        floor = size_rules(method, code[values], 3.0, learned=False)[1]
        cut = floor.for_size(1_000) if floor is not None else None
        assert cut is not None
        for _ in range(20):
            window = rng.choice(500, 1_000, p=p)
            codes = np.where(code[window] >= 0, code[window], seen.size + window)  # new: >= k
            flagged += method.score(codes).score > max(cut, 0.1)
    assert flagged <= 2


def test_a_few_valued_numeric_column_scored_by_a_test_keeps_its_p_value_threshold() -> None:
    """auto scores a 0/1 numeric flag by the z test through a wrapper that called itself a
    distance: the floor, measured on the z statistic, replaced the 0.05 p-value threshold and
    every healthy window was flagged."""
    rng = np.random.default_rng(26)
    model = load_config_text(
        "models: [{name: m, task: regression, reference: {file: r.csv},"
        " features: [{name: flag, type: numeric}]}]"
    ).models[0]
    flags = {"flag": rng.choice([0.0, 1.0], 800, p=[0.7, 0.3])}
    (flag,) = fit_reference(model, ReferenceData(800, flags, {}, None, None, None, "z")).features
    assert flag.method is not None and flag.method.label == "z" and flag.noise is None
    flagged = 0
    for _ in range(EVALUATIONS):
        drift = score_column(flag, rng.choice([0.0, 1.0], 300, p=[0.7, 0.3]), min_samples=100)
        assert drift is not None and drift.threshold == 0.05
        flagged += drift.drifted
    assert flagged / EVALUATIONS <= FALSE_ALARM_BOUND


def test_a_tests_learned_threshold_is_learned_from_the_reference_alone() -> None:
    """Chunks given the noise floor's new-category codes taught chisquare, whose empty
    `__other__` expects 1e-4 of the rows, a cut of 23,460: no shift reached it. (A
    distance's learned threshold samples them, as its noise floor does.)"""
    rng = np.random.default_rng(3)
    p = 1 / np.arange(1, 501) ** 1.1
    values = rng.choice(500, 5_000, p=p / p.sum())
    codes = np.unique(values, return_inverse=True)[1]
    method = make_method("chisquare", FeatureType.CATEGORICAL).fit(codes, int(codes.max()) + 1)
    learned = size_rules(method, codes, 3.0, learned=True)[0]
    assert learned is not None
    alone = LearnedThreshold(codes, lambda x: method.score(x).score, 3.0, power=1.0)
    assert learned.for_size(1_000) == alone.for_size(1_000)
