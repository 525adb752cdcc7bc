"""A segment value's max_drop bound allows for the sampling error of its baseline and window."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.config import ModelConfig, load_config_text
from exporter.evaluate.fit import FittedReference, fit_reference
from exporter.evaluate.segments import evaluate_segments
from exporter.evaluate.snapshot import SegmentSnapshot
from exporter.reference.data import ReferenceData
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView

COUNTRIES = ("A", "B")
WINDOWS = 30


def _model() -> ModelConfig:
    text = """
models:
  - name: m
    task: binary_classification
    positive_class: "1"
    reference: {file: ref.csv}
    features:
      - {name: x, type: numeric, method: ks}
      - {name: country, type: categorical, method: chi2}
    segments: [{feature: country, max_values: 5, min_samples: 100}]
    performance: {accuracy: {max_drop: 0.05}}
"""
    return load_config_text(text).models[0]


def _draw(
    rng: np.random.Generator, n: int, b_share: float = 0.07, flipped: float = 0.0
) -> dict[str, np.ndarray]:
    """One model, equally good in A and B (accuracy 0.778); `flipped` of B's labels wrong."""
    country = (rng.random(n) < b_share).astype(np.int32)
    x = rng.normal(0, 1, n)
    score = 1 / (1 + np.exp(-2.0 * x))
    label = (rng.random(n) < score).astype(int)
    flip = (country == 1) & (rng.random(n) < flipped)
    label[flip] = 1 - label[flip]
    return {"country": country, "x": x, "score": score, "label": label, "pred": score > 0.5}


def _lucky_reference() -> ReferenceData:
    """The first 2,000-row reference whose B rows (about 140) are right 0.04 more often than
    the model is: about one reference in seven."""
    for seed in range(1000):
        d = _draw(np.random.default_rng(seed), 2000)
        b = d["country"] == 1
        if np.mean(d["label"][b] == d["pred"][b]) - 0.778 >= 0.04:
            break
    return ReferenceData(
        rows=2000,
        numeric={"x": d["x"]},
        categorical={"country": tuple(COUNTRIES[c] for c in d["country"])},
        prediction=tuple(str(int(p)) for p in d["pred"]),
        score=d["score"],
        label=tuple(str(y) for y in d["label"]),
        digest="lucky",
    )


def _segments(
    model: ModelConfig, fitted: FittedReference, d: dict[str, np.ndarray]
) -> dict[str, SegmentSnapshot]:
    n = len(d["x"])
    view = WindowView(
        ts=np.zeros(n),
        numeric={"x": d["x"]},
        categorical={"country": d["country"]},
        prediction=d["pred"].astype(float),
        score=d["score"],
        categories={"country": COUNTRIES},
        classes=("0", "1"),
    )
    pairs = JoinedPairs(
        predicted=tuple(str(int(p)) for p in d["pred"]),
        actual=tuple(str(y) for y in d["label"]),
        scores=tuple(float(s) for s in d["score"]),
        classes=("0", "1"),
        slices=d["country"][:, None],
    )
    return {s.value: s for s in evaluate_segments(model, fitted, view, pairs)}


def test_a_healthy_segment_with_a_lucky_reference_stays_within_its_bounds() -> None:
    """B's 135 reference rows were right 0.837 of the time, the model 0.778 everywhere: B broke
    max_drop 0.05 in about two thirds of healthy windows, and the alert fired."""
    model = _model()
    fitted = fit_reference(model, _lucky_reference())
    rng = np.random.default_rng(12345)
    broken = 0
    for _ in range(WINDOWS):
        b = _segments(model, fitted, _draw(rng, 3000))["B"]
        broken += dict(b.out_of_bounds)["accuracy"]
    assert broken <= 3, f"healthy B out of bounds in {broken} of {WINDOWS} windows"


def test_the_bound_a_segment_is_held_to_is_in_its_snapshot_below_the_reference_less_max_drop() -> (
    None
):
    model = _model()
    fitted = fit_reference(model, _lucky_reference())
    b = _segments(model, fitted, _draw(np.random.default_rng(1), 3000))["B"]
    ((metric, low, high),) = b.bounds
    own = dict(fitted.segments["country"]["B"].baseline.metrics)["accuracy"]
    assert metric == "accuracy" and high is None and low is not None
    assert 0.6 < low < own - 0.05


def test_a_segment_whose_labels_turned_a_quarter_wrong_is_out_of_bounds() -> None:
    """B at 30 % of the traffic with a quarter of its labels flipped: accuracy 0.778 to 0.59."""
    model = _model()
    rng = np.random.default_rng(7)
    d = _draw(rng, 4000, b_share=0.3)
    reference = ReferenceData(
        rows=4000,
        numeric={"x": d["x"]},
        categorical={"country": tuple(COUNTRIES[c] for c in d["country"])},
        prediction=tuple(str(int(p)) for p in d["pred"]),
        score=d["score"],
        label=tuple(str(y) for y in d["label"]),
        digest="plain",
    )
    fitted = fit_reference(model, reference)
    broken = 0
    for _ in range(10):
        segments = _segments(model, fitted, _draw(rng, 3000, b_share=0.3, flipped=0.25))
        broken += dict(segments["B"].out_of_bounds)["accuracy"]
        assert not dict(segments["A"].out_of_bounds)["accuracy"]
    assert broken == 10


def test_the_bound_widens_by_students_t_of_the_jackknife_degrees_of_freedom() -> None:
    from scipy import stats  # type: ignore[import-untyped]

    from exporter.evaluate import baselines

    expected = stats.t.ppf(1 - baselines.ALPHA, baselines.GROUPS - 1)
    assert pytest.approx(expected, rel=1e-12) == baselines.T
