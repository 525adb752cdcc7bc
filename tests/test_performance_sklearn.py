"""Every realised metric equals scikit-learn's on the same arrays; undefined ones are absent."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn import calibration  # type: ignore[import-untyped]
from sklearn import metrics as sk

from exporter.config import ModelConfig, ReferenceConfig, StreamsConfig
from exporter.evaluate.performance import performance, realised
from exporter.stats.kinds import Task
from exporter.window.labels import Compact


def _model(
    task: Task, positive: str | None = None, classes: tuple[str, ...] | None = None
) -> ModelConfig:
    return ModelConfig(
        name="m",
        task=task,
        features=(),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x"),
        positive_class=positive,
        classes=classes,
    )


def _sk(fn: Any, *args: Any, **kwargs: Any) -> float | None:
    """scikit-learn's value, None where it is undefined (NaN) or refuses the input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = float(fn(*args, **kwargs))
        except ValueError:
            return None
    return value if np.isfinite(value) else None


def _ece(hit: np.ndarray, confidence: np.ndarray) -> float:
    """ECE from scikit-learn's reliability curve and the same bins' counts."""
    prob_true, prob_pred = calibration.calibration_curve(hit, confidence, n_bins=10)
    ids = np.searchsorted(np.linspace(0, 1, 11)[1:-1], confidence)
    counts = np.bincount(ids, minlength=10)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.abs(prob_true - prob_pred)) / counts.sum())


def _averaged(y: np.ndarray, pred: np.ndarray) -> dict[str, float | None]:
    out: dict[str, float | None] = {"accuracy": _sk(sk.accuracy_score, y, pred)}
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        for avg in ("macro", "weighted"):
            out[f"{name}_{avg}"] = _sk(fn, y, pred, average=avg, zero_division=np.nan)
    return out


def _check(ours: tuple[tuple[str, float], ...], expected: dict[str, float | None]) -> None:
    got = dict(ours)
    for name, value in expected.items():
        if value is None:
            assert name not in got, f"{name} should be absent, got {got.get(name)}"
        else:
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert all(np.isfinite(v) for v in got.values())


def _binary_expected(y: np.ndarray, pred: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    truth = y == "1"
    expected = _averaged(y, pred)
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        expected[name] = _sk(fn, truth, pred == "1", zero_division=np.nan)
    expected["roc_auc"] = _sk(sk.roc_auc_score, truth, p)
    expected["log_loss"] = _sk(sk.log_loss, truth, p, labels=[False, True])
    expected["brier"] = _sk(sk.brier_score_loss, truth, p, labels=[False, True])
    expected["ece"] = _ece(truth, p)
    return expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_binary_metrics_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.round(rng.uniform(0, 1, 700), 2)  # rounded, so AUC meets ties
    y = np.where(rng.uniform(0, 1, 700) < p, "1", "0")
    pred = np.where(p >= 0.5, "1", "0")
    ours = performance(_model(Task.BINARY, "1"), list(pred), list(y), [float(v) for v in p])
    _check(ours, _binary_expected(y, pred, p))


def test_a_single_class_binary_window_leaves_undefined_metrics_absent() -> None:
    y = np.array(["0"] * 50)
    pred = np.array(["0"] * 45 + ["1"] * 5)
    p = np.linspace(0.05, 0.6, 50)
    ours = performance(_model(Task.BINARY, "1"), list(pred), list(y), [float(v) for v in p])
    names = dict(ours)
    assert "roc_auc" not in names and "recall" not in names
    assert names["precision"] == 0.0
    _check(ours, _binary_expected(y, pred, p))


def _multiclass(
    rng: np.random.Generator, n: int, classes: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    logits = rng.normal(0, 1.5, (n, len(classes)))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(classes, p=row) for row in probs])
    pred = np.asarray(classes)[probs.argmax(axis=1)]
    return y, pred, probs


def _compact(probs: np.ndarray, classes: list[str]) -> list[Compact]:
    keys = tuple(classes)
    return [(keys, tuple(float(v) for v in row)) for row in probs]


def _multiclass_expected(
    y: np.ndarray, pred: np.ndarray, probs: np.ndarray, classes: list[str]
) -> dict[str, float | None]:
    expected = _averaged(y, pred)
    aucs = [_sk(sk.roc_auc_score, y == c, probs[:, i]) for i, c in enumerate(classes)]
    defined = [a for a in aucs if a is not None]
    expected["roc_auc"] = float(np.mean(defined)) if defined else None
    expected["log_loss"] = _sk(sk.log_loss, y, probs, labels=classes)
    expected["brier"] = _sk(sk.brier_score_loss, y, probs, labels=classes)
    column = np.searchsorted(np.asarray(classes), pred)
    expected["ece"] = _ece(pred == y, probs[np.arange(len(y)), column])
    return expected


def test_multiclass_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    classes = ["a", "b", "c", "d"]
    y, pred, probs = _multiclass(rng, 900, classes)
    ours = performance(_model(Task.MULTICLASS), list(pred), list(y), _compact(probs, classes))
    expected = _multiclass_expected(y, pred, probs, classes)
    assert sk.roc_auc_score(y, probs, multi_class="ovr", labels=classes) == pytest.approx(
        expected["roc_auc"]
    )
    _check(ours, expected)


def test_a_class_missing_from_the_window_is_left_out_of_averages_and_auc() -> None:
    rng = np.random.default_rng(8)
    classes = ["a", "b", "c", "d"]
    y, pred, probs = _multiclass(rng, 900, classes)
    keep = (y != "d") & (pred != "d")
    y, pred, probs = y[keep], pred[keep], probs[keep]
    ours = performance(_model(Task.MULTICLASS), list(pred), list(y), _compact(probs, classes))
    _check(ours, _multiclass_expected(y, pred, probs, classes))


def test_a_class_only_ever_predicted_has_no_recall_and_macro_recall_skips_it() -> None:
    y = np.array(["a"] * 30 + ["b"] * 30)
    pred = np.array(["a"] * 25 + ["c"] * 5 + ["b"] * 30)
    result = realised(_model(Task.MULTICLASS, classes=("a", "b", "c")), list(pred), list(y))
    per_class = {(c, m): v for c, m, v in result.per_class}
    assert ("c", "recall") not in per_class
    assert per_class[("c", "precision")] == 0.0
    assert per_class[("a", "recall")] == pytest.approx(25 / 30)
    _check(result.metrics, _averaged(y, pred))


def test_per_class_metrics_equal_scikit_learn_for_configured_classes_only() -> None:
    rng = np.random.default_rng(9)
    classes = ["a", "b", "c", "d"]
    y, pred, _ = _multiclass(rng, 600, classes)
    result = realised(_model(Task.MULTICLASS, classes=("a", "c")), list(pred), list(y))
    per_class = {(c, m): v for c, m, v in result.per_class}
    assert {c for c, _ in per_class} == {"a", "c"}
    for name, fn in (
        ("precision", sk.precision_score),
        ("recall", sk.recall_score),
        ("f1", sk.f1_score),
    ):
        values = fn(y, pred, labels=["a", "c"], average=None)
        assert per_class[("a", name)] == pytest.approx(values[0])
        assert per_class[("c", name)] == pytest.approx(values[1])


def test_a_single_class_multiclass_window_keeps_only_defined_metrics() -> None:
    y = np.array(["a"] * 40)
    pred = np.array(["a"] * 40)
    probs = np.tile([0.7, 0.2, 0.1], (40, 1))
    ours = performance(
        _model(Task.MULTICLASS), list(pred), list(y), _compact(probs, ["a", "b", "c"])
    )
    assert "roc_auc" not in dict(ours)
    _check(ours, _multiclass_expected(y, pred, probs, ["a", "b", "c"]))


def test_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(10, 3, 500)
    pred = y + rng.normal(0.3, 1.0, 500)
    ours = performance(_model(Task.REGRESSION), list(pred), list(y))
    _check(
        ours,
        {
            "mae": sk.mean_absolute_error(y, pred),
            "rmse": sk.root_mean_squared_error(y, pred),
            "r2": sk.r2_score(y, pred),
            "mape": sk.mean_absolute_percentage_error(y, pred),
        },
    )


@pytest.mark.parametrize(("value", "rows"), [(3.0, 20), (0.1, 150)])
def test_r2_is_absent_for_a_constant_target(value: float, rows: int) -> None:
    """150 labels of 0.1 have a computed variance of 7.7e-34, not 0: r2 was -1.2e29."""
    y = np.full(rows, value)
    pred = np.linspace(2, 4, rows)
    ours = dict(performance(_model(Task.REGRESSION), list(pred), list(y)))
    assert "r2" not in ours
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(y, pred))
