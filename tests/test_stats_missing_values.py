"""Thresholds that follow the window's size count the values a method scores, not null rows."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.config import load_config_text
from exporter.evaluate.drift import score_column
from exporter.evaluate.fit import FittedColumn, fit_reference
from exporter.reference.load import ReferenceData
from exporter.stats import make_method, resolve
from exporter.stats.kinds import FeatureType

EVALUATIONS = 400
# Two seeded runs of 400 healthy windows each; a rate near 3 % has a standard error of 0.85
# points, so the two rates' difference has one of 1.2: three of them.
SAME_RATE = 0.036


def _fitted(drift: str, values: np.ndarray) -> FittedColumn:
    """Feature x's fitted column, `drift` its settings, `values` its reference column."""
    model = load_config_text(
        "models: [{name: m, task: regression, reference: {file: r.csv}, features: ["
        f"{{name: x, type: numeric, {drift}}}]}}]"
    ).models[0]
    data = ReferenceData(values.size, {"x": values}, {}, None, None, None, "t")
    return fit_reference(model, data).features[0]


def _column(drift: str, rows: int, seed: int) -> FittedColumn:
    """An N(0, 1) feature's fitted column, its reference complete."""
    return _fitted(drift, np.random.default_rng(seed).normal(0, 1, rows))


def _with_nulls(values: np.ndarray, seed: int) -> np.ndarray:
    """The same values in the same order, a null row after each at random positions."""
    out = np.full(2 * values.size, np.nan)
    at = np.sort(np.random.default_rng(seed).choice(out.size, values.size, replace=False))
    out[at] = values
    return out


def _flagged(
    column: FittedColumn,
    seed: int,
    present: int,
    nulls: float,
    shift: float = 0.0,
    evaluations: int = EVALUATIONS,
) -> float:
    """Share of windows flagged: `present` values on average, `nulls` of the rows null."""
    rng = np.random.default_rng(seed)
    rows = round(present / (1 - nulls))
    flagged = 0
    for _ in range(evaluations):
        window = rng.normal(shift, 1, rows)
        window[rng.random(rows) < nulls] = np.nan
        drift = score_column(column, window, min_samples=100)
        assert drift is not None
        flagged += drift.drifted
    return flagged / evaluations


@pytest.mark.parametrize(
    ("drift", "rows", "present"),
    [
        ("method: auto", 5_000, 125),  # wasserstein under its noise floor
        ("method: wasserstein, threshold: learned", 10_000, 500),
        ("method: ks, threshold: learned", 10_000, 500),
    ],
)
def test_healthy_windows_half_null_are_flagged_as_often_as_complete_ones_of_as_many_values(
    drift: str, rows: int, present: int
) -> None:
    """Sized by rows, nulls included, the threshold was that of twice the values: 15 % of the
    half-null windows flagged under the floor against 2 % of the complete ones, 17 % against
    0.5 % with ks' learned threshold, 7.7 % against 1 % with wasserstein's. Over four
    references: one reference's cut at one size is as lucky as its 50 chunks."""
    columns = [_column(drift, rows, seed=seed) for seed in range(5, 9)]
    runs = EVALUATIONS // len(columns)
    half_null = np.mean(
        [_flagged(c, 20 + i, present, 0.5, 0.0, runs) for i, c in enumerate(columns)]
    )
    complete = np.mean(
        [_flagged(c, 30 + i, present, 0.0, 0.0, runs) for i, c in enumerate(columns)]
    )
    assert abs(half_null - complete) <= SAME_RATE, (half_null, complete)
    assert half_null <= 0.06


@pytest.mark.parametrize(
    ("drift", "rows", "present", "shift"),
    [
        ("method: auto", 5_000, 200, 0.35),
        ("method: ks, threshold: learned", 10_000, 500, 0.2),
    ],
)
def test_a_reference_half_null_sets_the_threshold_of_its_present_values(
    drift: str, rows: int, present: int, shift: float
) -> None:
    """The same reference values with as many null rows among them: sized by its rows, the
    threshold was that of windows half null, and 27 points fewer of these shifts were
    flagged (73 % against 99.5 % under the floor, 61 % against 88 % with ks)."""
    values = np.random.default_rng(8).normal(0, 1, rows)
    half_null = _flagged(_fitted(drift, _with_nulls(values, 9)), 10, present, 0.0, shift)
    complete = _flagged(_fitted(drift, values), 10, present, 0.0, shift)
    assert abs(half_null - complete) <= SAME_RATE, (half_null, complete)
    assert complete >= 0.5


def test_a_binned_distance_still_counts_missing_values_as_a_bucket_of_their_own() -> None:
    """psi and the other binned distances score the missing share, so nulls stay in its size."""
    column = _column("method: psi", 10_000, seed=10)
    assert column.noise is not None and column.method is not None
    window = np.random.default_rng(11).normal(0, 1, 2_000)
    window[:1_000] = np.nan
    drift = score_column(column, window, min_samples=100)
    assert drift is not None and drift.drifted
    assert drift.threshold == max(0.1, column.noise.for_size(2_000) or 0.0)


def test_auto_chooses_by_the_present_values_so_a_half_null_reference_gets_the_small_rule() -> None:
    """1,600 rows half null are 800 values, the rule's small reference: counted with their
    nulls they got the distances, and jensenshannon's missing bucket then flagged every
    healthy window of a categorical feature whose null share was 30 % instead of 50 %."""
    rng = np.random.default_rng(12)
    numeric = rng.normal(0, 1, 1_600)
    numeric[rng.random(1_600) < 0.5] = np.nan
    assert resolve(make_method("auto", FeatureType.NUMERIC).fit(numeric)).label == "ks"
    shares = [0.4, 0.3, 0.2, 0.07, 0.03]
    codes = rng.choice(5, 1_600, p=shares)
    codes[rng.random(1_600) < 0.5] = -1
    method = resolve(make_method("auto", FeatureType.CATEGORICAL).fit(codes, 5))
    assert method.label == "chi2"
    flagged = 0
    for _ in range(100):
        window = rng.choice(5, 1_000, p=shares)
        window[rng.random(1_000) < 0.3] = -1
        flagged += method.score(window).drifted
    assert flagged <= 12
