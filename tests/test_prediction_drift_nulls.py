"""Prediction drift compares the predictions both sides made, not the reference's null share."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.config import load_config_text
from exporter.decode.batch import batch_of
from exporter.decode.wire import Prediction
from exporter.evaluate.evaluator import evaluate
from exporter.evaluate.fit import fit_reference
from exporter.reference.load import parse_reference
from exporter.window.labels import JoinedPairs
from exporter.window.ring import Window

ROWS, WINDOW, WINDOWS = 5_000, 1_000, 20
CLASSES = ("a", "b", "c")
SHARES = (0.5, 0.3, 0.2)


def _reference(rng: np.random.Generator, binary: bool, nulls: float) -> bytes:
    """A CSV whose prediction and score cells are empty in `nulls` of the rows."""
    lines = ["x,prediction,score"]
    for _ in range(ROWS):
        blank = rng.uniform() < nulls
        score = f"{rng.uniform():.4f}"
        label = str(rng.integers(2)) if binary else str(rng.choice(CLASSES, p=SHARES))
        lines.append(f"{rng.normal():.4f},{'' if blank else label},{'' if blank else score}")
    return ("\n".join(lines) + "\n").encode()


def _record(rng: np.random.Generator, binary: bool, i: int) -> Prediction:
    """A healthy record: the reference's distribution, its prediction and score present."""
    score = float(rng.uniform())
    label = str(int(score > 0.5)) if binary else str(rng.choice(CLASSES, p=SHARES))
    features = {"x": float(rng.normal())}
    return Prediction(
        f"r{i}", 1e9 + i, None, features, label, score if binary else None, 0.01, True, 1.0
    )


@pytest.mark.parametrize(
    ("task", "drift"),
    [
        ("multiclass_classification", "method: auto"),  # jensenshannon on the classes
        ("binary_classification", "method: psi"),  # on the positive-class score
    ],
)
def test_healthy_predictions_are_not_drift_when_the_reference_has_null_predictions(
    task: str, drift: str
) -> None:
    """A fifth of the reference's predictions null: every healthy window was flagged, since
    the binned method kept that fifth in its missing bucket and the window's nulls are
    dropped before scoring."""
    binary = task == "binary_classification"
    positive = "positive_class: '1', " if binary else ""
    model = load_config_text(
        f"models: [{{name: m, task: {task}, {positive}reference: {{file: r.csv}}, "
        f"window: {{duration: 1d, max_samples: {WINDOW}}}, prediction_drift: {{{drift}}}, "
        "features: [{name: x, type: numeric}]}]"
    ).models[0]
    rng = np.random.default_rng(3)
    reference = parse_reference(model, _reference(rng, binary, 0.2), "csv", "r.csv")
    fitted = fit_reference(model, reference)
    flagged = 0
    for w in range(WINDOWS):
        window = Window(model)
        window.extend(
            batch_of([_record(rng, binary, w * WINDOW + i) for i in range(WINDOW)], [("x", True)])
        )
        now = 1e9 + (w + 1) * WINDOW
        snapshot = evaluate(model, fitted, window.view(now), JoinedPairs((), ()), now)
        assert snapshot.prediction_drift is not None
        flagged += snapshot.prediction_drift.drifted
    assert flagged <= 2, f"{flagged} of {WINDOWS} healthy windows read as prediction drift"
