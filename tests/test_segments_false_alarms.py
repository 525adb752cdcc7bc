"""Many segments times many features must not raise the false-alarm rate of one evaluation."""

from __future__ import annotations

import math

import numpy as np

from exporter.config import ModelConfig, load_config_text
from exporter.evaluate.fit import fit_reference
from exporter.evaluate.segments import evaluate_segments
from exporter.reference.data import ReferenceData
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView

SEGMENTS = tuple(f"s{i}" for i in range(10))
FEATURES = tuple(f"x{i}" for i in range(20))
TRIALS = 200
ALPHA = 0.05


def _model() -> ModelConfig:
    features = "".join(f"      - {{name: {f}, type: numeric}}\n" for f in FEATURES)
    text = f"""
models:
  - name: m
    task: regression
    reference: {{file: ref.csv}}
    min_samples: 100
    drift: {{numeric: {{method: ks, threshold: {ALPHA}}}, correction: fdr_bh}}
    features:
{features}      - {{name: seg, type: categorical}}
    segments: [{{feature: seg, max_values: 10, min_samples: 100}}]
"""
    return load_config_text(text).models[0]


def _reference(rng: np.random.Generator, per_segment: int) -> ReferenceData:
    n = per_segment * len(SEGMENTS)
    return ReferenceData(
        rows=n,
        numeric={f: rng.normal(0.0, 1.0, n) for f in FEATURES},
        categorical={"seg": tuple(np.repeat(SEGMENTS, per_segment).tolist())},
        prediction=None,
        score=None,
        label=None,
        digest="null",
    )


def _window(rng: np.random.Generator, per_segment: int) -> WindowView:
    n = per_segment * len(SEGMENTS)
    return WindowView(
        ts=np.zeros(n),
        numeric={f: rng.normal(0.0, 1.0, n) for f in FEATURES},
        categorical={"seg": np.repeat(np.arange(len(SEGMENTS), dtype=np.int32), per_segment)},
        prediction=np.full(n, np.nan),
        score=np.full(n, np.nan),
        categories={"seg": SEGMENTS},
        classes=(),
    )


def test_fdr_across_ten_segments_and_twenty_features_keeps_false_alarms_near_alpha() -> None:
    """No drift anywhere: an evaluation flagging any segment feature is a false alarm.

    Benjamini-Hochberg over all 200 tests of an evaluation bounds that chance by alpha when
    nothing drifts; without the joint correction it would be about 1 - 0.95^200, nearly 1.
    """
    rng = np.random.default_rng(20)
    model = _model()
    fitted = fit_reference(model, _reference(rng, 500))
    alarms = 0
    for _ in range(TRIALS):
        segments = evaluate_segments(model, fitted, _window(rng, 150), JoinedPairs((), ()))
        assert len(segments) == len(SEGMENTS)
        assert all(s.evaluated and s.reference_own for s in segments)
        flagged = [f for s in segments for f in s.features if f.drift and f.drift.drifted]
        alarms += bool(flagged)
    bound = ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / TRIALS)
    assert alarms / TRIALS <= bound, (alarms, bound)
