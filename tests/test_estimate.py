"""Label-free estimates track realised performance on calibrated models under covariate shift."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.config import ModelConfig, ReferenceConfig, StreamsConfig
from exporter.evaluate.estimate import estimate, expected_auc, fit_calibration, isotonic
from exporter.evaluate.performance import performance
from exporter.reference.load import ReferenceData
from exporter.stats.kinds import Task
from exporter.window.classnames import Compact

ROWS = 5000
CLASSES = ("a", "b", "c")


def _model(task: Task, positive: str | None = None) -> ModelConfig:
    return ModelConfig(
        name="m",
        task=task,
        features=(),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x"),
        positive_class=positive,
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


def _binary(
    rng: np.random.Generator, shift: float, sharpen: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions and scores; sharpen != 1 makes the scores overconfident."""
    x = rng.normal(shift, 1.0 + shift / 4, ROWS)
    truth = _sigmoid(1.5 * x - 0.5)
    y = np.where(rng.uniform(size=ROWS) < truth, "1", "0")
    score = _sigmoid(sharpen * (1.5 * x - 0.5))
    return y, np.where(score >= 0.5, "1", "0"), score


def _multiclass(
    rng: np.random.Generator, shift: float
) -> tuple[np.ndarray, np.ndarray, list[Compact]]:
    x = rng.normal(shift, 1.0, (ROWS, 2))
    logits = np.stack([x[:, 0], x[:, 1], -x[:, 0] - x[:, 1]], axis=1) * 1.2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    cumulative = probs.cumsum(axis=1)
    y = np.asarray(CLASSES)[(rng.uniform(size=(ROWS, 1)) > cumulative).sum(axis=1)]
    pred = np.asarray(CLASSES)[probs.argmax(axis=1)]
    return y, pred, [(CLASSES, tuple(float(v) for v in row)) for row in probs]


def _close(
    estimated: dict[str, float],
    realised: dict[str, float],
    names: tuple[str, ...],
    tolerance: float = 0.02,
) -> None:
    for name in names:
        assert abs(estimated[name] - realised[name]) <= tolerance, (
            name,
            estimated[name],
            realised[name],
        )


@pytest.mark.parametrize("shift", [0.0, 0.8, 1.5])
def test_binary_estimates_are_within_two_points_of_realised_under_covariate_shift(
    shift: float,
) -> None:
    model = _model(Task.BINARY, "1")
    y, pred, score = _binary(np.random.default_rng(42), shift)
    scores = [float(v) for v in score]
    realised = dict(performance(model, list(pred), list(y), scores))
    estimated = dict(estimate(model, None, list(pred), scores))
    _close(estimated, realised, ("accuracy", "f1", "precision", "recall", "roc_auc"))


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_multiclass_estimates_are_within_two_points_of_realised_under_covariate_shift(
    shift: float,
) -> None:
    model = _model(Task.MULTICLASS)
    y, pred, scores = _multiclass(np.random.default_rng(43), shift)
    realised = dict(performance(model, list(pred), list(y), scores))
    estimated = dict(estimate(model, None, list(pred), scores))
    _close(estimated, realised, ("accuracy", "f1_macro", "precision_macro", "recall_macro"))


def test_isotonic_calibration_from_the_reference_repairs_overconfident_scores() -> None:
    model = _model(Task.BINARY, "1")
    rng = np.random.default_rng(44)
    ref_y, ref_pred, ref_score = _binary(rng, 0.0, sharpen=3.0)
    reference = ReferenceData(ROWS, {}, {}, tuple(ref_pred), ref_score, tuple(ref_y), "d")
    calibration = fit_calibration(model, reference)
    assert calibration is not None
    y, pred, score = _binary(rng, 0.8, sharpen=3.0)
    scores = [float(v) for v in score]
    realised = dict(performance(model, list(pred), list(y), scores))
    raw = dict(estimate(model, None, list(pred), scores))
    calibrated = dict(estimate(model, calibration, list(pred), scores))
    assert abs(raw["accuracy"] - realised["accuracy"]) > 0.04
    _close(calibrated, realised, ("accuracy", "f1"))


def test_calibration_is_skipped_when_the_scores_are_already_calibrated() -> None:
    model = _model(Task.BINARY, "1")
    y, pred, score = _binary(np.random.default_rng(45), 0.0)
    reference = ReferenceData(ROWS, {}, {}, tuple(pred), score, tuple(y), "d")
    assert fit_calibration(model, reference) is None


def test_isotonic_fit_is_monotone_and_pools_violators() -> None:
    fitted = isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    assert list(fitted.apply(np.array([0.1, 0.2, 0.3, 0.4]))) == [0.0, 0.5, 0.5, 1.0]


def test_expected_auc_of_certain_scores_is_the_exact_auc() -> None:
    assert expected_auc(np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert expected_auc(np.full(10, 0.5)) == pytest.approx(0.5)


def test_too_few_scored_rows_give_no_estimate() -> None:
    model = _model(Task.BINARY, "1")
    assert estimate(model, None, ["1"] * 50, [0.9] * 50) == ()


def test_the_estimation_error_compares_the_estimate_with_realised_on_the_same_rows() -> None:
    """Half the labelled rows carry no score: realised was over all of them, the estimate
    over the scored half, and the error measured the two halves' difference."""
    from exporter.evaluate.outcomes import assess
    from exporter.window.labels import JoinedPairs

    rng = np.random.default_rng(31)
    y, pred, score = _binary(rng, 0.0)
    scored = np.arange(ROWS) < ROWS // 2
    pred = np.where(scored, pred, y)  # the unscored half is always right
    scores: list[Compact] = [float(s) if k else None for s, k in zip(score, scored, strict=True)]
    model = _model(Task.BINARY, "1")
    pairs = JoinedPairs(
        tuple(pred), tuple(y), tuple(scores), slices=np.full((ROWS, 1), -1, np.int32)
    )
    outcome = assess(model, pairs, None)
    on_scored = dict(performance(model, list(pred[scored]), list(y[scored])))
    estimated = dict(estimate(model, None, tuple(pred), tuple(scores)))
    error = dict(outcome.estimation_error)
    assert error["accuracy"] == pytest.approx(abs(estimated["accuracy"] - on_scored["accuracy"]))


def test_the_estimation_error_of_folded_classes_does_not_read_their_labels() -> None:
    """Predictions folded into `__other__` whose label was another folded class are joined as
    `__other__mismatch__`: the estimate read that marker, a miss, where the window's rows
    hold `__other__`, and its error looked small (0.010 against a 0.05 gap in a review)."""
    from exporter.evaluate.outcomes import assess
    from exporter.window.classnames import OTHER_MISMATCH
    from exporter.window.labels import JoinedPairs

    rng = np.random.default_rng(32)
    named, folded = ("a", "b", "__other__"), ROWS // 2
    scores: list[Compact] = [(named, (0.7, 0.2, 0.1))] * (ROWS - folded)
    scores += [(named, (0.1, 0.1, 0.8))] * folded
    truth = np.where(rng.random(ROWS - folded) < 0.7, "a", "b").tolist()
    hit = rng.random(folded) < 0.5  # the same folded class, or another one
    predicted = ["a"] * (ROWS - folded) + ["__other__" if h else OTHER_MISMATCH for h in hit]
    actual = truth + ["__other__"] * folded
    model = _model(Task.MULTICLASS)
    pairs = JoinedPairs(
        tuple(predicted), tuple(actual), tuple(scores), slices=np.zeros(ROWS, np.int64)
    )
    outcome = assess(model, pairs, None)
    as_held = tuple(["a"] * (ROWS - folded) + ["__other__"] * folded)
    estimated = dict(estimate(model, None, as_held, tuple(scores)))["accuracy"]
    realised = dict(outcome.performance)["accuracy"]
    assert dict(outcome.estimation_error)["accuracy"] == pytest.approx(abs(estimated - realised))
