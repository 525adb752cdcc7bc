"""Challenger against champion: the tests flag a worse version often and an equal one rarely."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]
from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped]

from exporter.stats.kinds import Task
from exporter.stats.versions import (
    Labelled,
    auc_worse,
    choose_champion,
    compare_versions,
    delong,
    losses_worse,
    prediction_drift,
    proportion_worse,
)

TRIALS, ALPHA, LABELLED = 200, 0.05, 2000
# Equal versions may be flagged by chance in alpha of the trials, give or take two standard errors.
FALSE_ALARM_BOUND = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / TRIALS)


def _classified(hits: np.ndarray) -> Labelled:
    """A multiclass version's records: truth always "a", predicted "a" exactly on the hits."""
    return Labelled(np.full(hits.size, "a"), np.where(hits, "a", "b"))


def accuracy_flag_rate(champion: float, challenger: float, seed: int) -> float:
    """Share of seeded trials in which compare_versions says the challenger's accuracy is worse."""
    rng = np.random.default_rng(seed)
    hits_a = rng.random((TRIALS, LABELLED)) < champion
    hits_b = rng.random((TRIALS, LABELLED)) < challenger
    flagged = [
        {
            c.metric: c.worse
            for c in compare_versions(
                Task.MULTICLASS, _classified(a), _classified(b), ALPHA, min_labeled=200
            )
        }["accuracy"]
        for a, b in zip(hits_a, hits_b, strict=True)
    ]
    return float(np.mean(flagged))


def mae_flag_rate(champion_sd: float, challenger_sd: float, seed: int) -> float:
    """Share of seeded regression trials in which Welch's test calls the challenger's MAE worse."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(10, 3, (TRIALS, LABELLED))
    pred_a = truth + rng.normal(0, champion_sd, (TRIALS, LABELLED))
    pred_b = truth + rng.normal(0, challenger_sd, (TRIALS, LABELLED))
    flagged = [
        {
            c.metric: c.worse
            for c in compare_versions(Task.REGRESSION, Labelled(t, a), Labelled(t, b), ALPHA)
        }["mae"]
        for t, a, b in zip(truth, pred_a, pred_b, strict=True)
    ]
    return float(np.mean(flagged))


def test_a_challenger_five_accuracy_points_worse_is_flagged_in_at_least_90_percent_of_trials() -> (
    None
):
    assert accuracy_flag_rate(0.85, 0.80, seed=20) >= 0.90


def test_versions_of_equal_accuracy_are_flagged_no_more_often_than_alpha_allows() -> None:
    assert accuracy_flag_rate(0.85, 0.85, seed=21) <= FALSE_ALARM_BOUND


def test_a_challenger_with_larger_errors_is_flagged_by_welch_in_at_least_90_percent_of_trials() -> (
    None
):
    assert mae_flag_rate(1.0, 1.1, seed=22) >= 0.90


def test_versions_with_equal_errors_are_flagged_by_welch_no_more_often_than_alpha_allows() -> None:
    assert mae_flag_rate(1.0, 1.0, seed=23) <= FALSE_ALARM_BOUND


def test_a_better_challenger_is_never_called_worse() -> None:
    assert accuracy_flag_rate(0.80, 0.85, seed=24) == 0.0


def test_the_proportion_test_gives_the_pooled_z_formulas_p_value() -> None:
    result = proportion_worse("accuracy", (1700, 2000), (1600, 2000), ALPHA)
    pooled = 3300 / 4000
    z = (0.85 - 0.80) / math.sqrt(pooled * (1 - pooled) * (2 / 2000))
    assert result.p_value == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert (result.champion, result.challenger, result.test) == (0.85, 0.80, "two_proportion_z")
    assert result.worse


def test_welch_gives_scipys_p_value_and_the_hand_formulas() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.exponential(1.0, 400), rng.exponential(1.2, 300)
    result = losses_worse("mae", a, b, ALPHA)
    expected = stats.ttest_ind(b, a, equal_var=False, alternative="greater").pvalue
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    t = (b.mean() - a.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert result.p_value == pytest.approx(stats.t.sf(t, df), rel=1e-9)
    assert (result.champion, result.challenger) == pytest.approx((a.mean(), b.mean()))


def test_rmse_is_reported_as_the_root_of_the_squared_errors_it_tests() -> None:
    result = losses_worse("rmse", np.array([1.0, 4.0, 4.0]), np.array([9.0, 9.0, 9.1]), root=True)
    assert result.champion == pytest.approx(math.sqrt(3.0))
    assert result.challenger == pytest.approx(math.sqrt(9.1 / 3 + 6.0))


def _scored(rng: np.random.Generator, n: int, separation: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores whose AUC grows with `separation`; scores rounded so ties occur."""
    truth = rng.random(n) < 0.4
    scores = np.round(1 / (1 + np.exp(-(rng.normal(0, 1, n) + separation * truth))), 2)
    return truth, scores


def test_delongs_auc_is_sklearns_roc_auc_even_with_ties() -> None:
    truth, scores = _scored(np.random.default_rng(6), 1500, 1.0)
    assert delong(truth, scores)[0] == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)


def test_delongs_variance_is_close_to_a_bootstrap_estimate() -> None:
    rng = np.random.default_rng(7)
    truth, scores = _scored(rng, 1000, 1.0)
    draws = rng.integers(0, truth.size, (2000, truth.size))
    ranks, positive = stats.rankdata(scores[draws], axis=1), truth[draws]
    m = positive.sum(axis=1)
    boot = ((ranks * positive).sum(axis=1) - m * (m + 1) / 2) / (m * (truth.size - m))
    assert delong(truth, scores)[1] == pytest.approx(np.var(boot, ddof=1), rel=0.1)


def test_a_challenger_with_a_clearly_lower_auc_is_flagged_and_an_equal_one_is_not() -> None:
    rng = np.random.default_rng(8)
    champion = _scored(rng, 2000, 1.5)
    assert auc_worse(champion, _scored(rng, 2000, 1.0), ALPHA).worse
    assert not auc_worse(champion, _scored(rng, 2000, 1.5), ALPHA).worse


def _binary(rng: np.random.Generator, n: int, noise: float) -> Labelled:
    truth, scores = _scored(rng, n, 1.5)
    flipped = rng.random(n) < noise
    predicted = np.where((scores >= 0.5) ^ flipped, "yes", "no")
    return Labelled(np.where(truth, "yes", "no"), predicted, scores)


def test_a_binary_model_is_compared_on_every_metric_that_applies_to_it() -> None:
    rng = np.random.default_rng(9)
    result = compare_versions(
        Task.BINARY, _binary(rng, 800, 0.0), _binary(rng, 800, 0.0), positive="yes"
    )
    by_metric = {c.metric: c.test for c in result}
    assert by_metric == {
        "accuracy": "two_proportion_z",
        "precision": "two_proportion_z",
        "recall": "two_proportion_z",
        "roc_auc": "delong_z",
        "log_loss": "welch_t",
        "brier": "welch_t",
    }
    assert all(0.0 <= c.p_value <= 1.0 for c in result)


def test_a_multiclass_model_with_score_rows_is_compared_on_its_losses_too() -> None:
    rng = np.random.default_rng(10)
    classes = ("a", "b", "c")

    def version(sharpness: float) -> Labelled:
        truth = rng.choice(classes, 600)
        logits = rng.normal(0, 1, (600, 3)) + sharpness * (truth[:, None] == np.array(classes))
        rows = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return Labelled(truth, np.asarray(classes)[rows.argmax(axis=1)], rows)

    result = compare_versions(Task.MULTICLASS, version(2.0), version(0.5), classes=classes)
    assert {c.metric: c.worse for c in result} == {
        "accuracy": True,
        "log_loss": True,
        "brier": True,
    }


def test_versions_with_too_few_labelled_records_get_no_decision() -> None:
    rng = np.random.default_rng(11)
    plenty, few = _binary(rng, 500, 0.0), _binary(rng, 199, 0.5)
    assert compare_versions(Task.BINARY, plenty, few, min_labeled=200, positive="yes") == ()
    assert compare_versions(Task.BINARY, few, plenty, min_labeled=200, positive="yes") == ()


def test_a_challenger_predicting_a_class_the_champion_never_did_has_drifted_predictions() -> None:
    rng = np.random.default_rng(12)
    champion = rng.choice(["no", "yes"], 1000, p=[0.7, 0.3])
    same = prediction_drift(champion, rng.choice(["no", "yes"], 1000, p=[0.7, 0.3]))
    new = prediction_drift(champion, rng.choice(["no", "yes", "maybe"], 1000, p=[0.6, 0.3, 0.1]))
    assert same is not None and new is not None
    assert (same.method, same.result.drifted) == ("chisquare", False)
    assert new.result.drifted


def test_regression_predictions_are_compared_with_ks() -> None:
    rng = np.random.default_rng(13)
    champion = rng.normal(0, 1, 1000)
    shifted = prediction_drift(champion, rng.normal(0.3, 1, 1000))
    assert shifted is not None and (shifted.method, shifted.result.drifted) == ("ks", True)
    assert prediction_drift(champion, np.array([np.nan])) is None


def test_the_champion_is_the_configured_version_else_the_busiest_real_one() -> None:
    traffic = {"v1": 300, "v2": 500, "__other__": 900, "v3": 500}
    assert choose_champion(traffic) == "v2"
    assert choose_champion(traffic, configured="v1") == "v1"
    assert choose_champion({"__other__": 10}) is None


def test_a_correction_across_metrics_keeps_an_equal_challengers_alarms_within_alpha() -> None:
    rng = np.random.default_rng(25)
    truth = rng.random((2, TRIALS, LABELLED)) < 0.4
    hits = rng.random((2, TRIALS, LABELLED)) < 0.85
    predicted = np.where(hits, truth, ~truth)

    def side(v: int, t: int) -> Labelled:
        return Labelled(np.where(truth[v, t], "yes", "no"), np.where(predicted[v, t], "yes", "no"))

    def any_flagged(correction: str) -> float:
        return float(
            np.mean(
                [
                    any(
                        c.worse
                        for c in compare_versions(
                            Task.BINARY,
                            side(0, t),
                            side(1, t),
                            positive="yes",
                            correction=correction,
                        )
                    )
                    for t in range(TRIALS)
                ]
            )
        )

    assert any_flagged("bonferroni") <= FALSE_ALARM_BOUND
    assert any_flagged("none") >= any_flagged("bonferroni")


def test_bonferroni_multiplies_each_p_value_by_the_metrics_compared() -> None:
    rng = np.random.default_rng(14)
    a, b = _binary(rng, 600, 0.0), _binary(rng, 600, 0.1)
    plain = compare_versions(Task.BINARY, a, b, positive="yes")
    adjusted = compare_versions(Task.BINARY, a, b, positive="yes", correction="bonferroni")
    assert [c.metric for c in adjusted] == [c.metric for c in plain]
    for before, after in zip(plain, adjusted, strict=True):
        assert after.p_value == pytest.approx(min(1.0, before.p_value * len(plain)))
        assert after.worse == (after.p_value < ALPHA)


@pytest.mark.filterwarnings("error")
def test_welch_on_constant_errors_decides_without_warnings() -> None:
    zeros, ones, spread = np.zeros(300), np.ones(300), np.random.default_rng(15).random(300)
    assert losses_worse("mae", zeros, ones).p_value == 0.0
    assert losses_worse("mae", ones, zeros).p_value == 1.0
    assert not losses_worse("mae", ones, ones).worse
    assert losses_worse("mae", np.full(300, 0.3), spread).p_value == pytest.approx(
        stats.t.sf((spread.mean() - 0.3) / (spread.std(ddof=1) / math.sqrt(300)), 299)
    )


def prediction_drift_rate(shift: float, seed: int) -> tuple[float, float]:
    """Shares of seeded trials whose class and numeric predictions drift between two versions."""
    rng = np.random.default_rng(seed)
    shares = np.array([0.5, 0.3, 0.2])
    moved = shares + np.array([-shift, shift, 0.0])
    classes = rng.random((2, TRIALS, LABELLED))
    champion = np.array(["a", "b", "c"])[np.searchsorted(np.cumsum(shares), classes[0])]
    challenger = np.array(["a", "b", "c"])[np.searchsorted(np.cumsum(moved), classes[1])]
    numbers = rng.normal(0.0, 1.0, (2, TRIALS, LABELLED)) + np.array([0.0, shift])[:, None, None]
    flags = [
        (prediction_drift(champion[t], challenger[t]), prediction_drift(*numbers[:, t]))
        for t in range(TRIALS)
    ]
    return (
        float(np.mean([c is not None and c.result.drifted for c, _ in flags])),
        float(np.mean([n is not None and n.result.drifted for _, n in flags])),
    )


def test_equal_versions_predictions_drift_no_more_often_than_alpha_allows() -> None:
    classes, numbers = prediction_drift_rate(0.0, seed=26)
    assert classes <= FALSE_ALARM_BOUND and numbers <= FALSE_ALARM_BOUND


def test_a_challenger_moving_six_points_between_two_classes_is_seen_to_drift() -> None:
    classes, _ = prediction_drift_rate(0.06, seed=27)
    assert classes >= 0.90
