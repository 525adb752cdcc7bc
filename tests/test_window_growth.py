"""A window's buffers grow as it fills, and keep exactly the newest rows in arrival order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import FeatureConfig, ModelConfig, ReferenceConfig, StreamsConfig
from exporter.config.settings import WindowConfig
from exporter.decode.batch import batch_of
from exporter.decode.wire import Prediction, struct_order
from exporter.stats.kinds import FeatureType, Task
from exporter.window.ring import Window

CAP = 2500  # above the first buffer size, so a full window has grown more than once


def _model(cap: int) -> ModelConfig:
    return ModelConfig(
        name="m",
        task=Task.REGRESSION,
        features=(
            FeatureConfig(name="x", type=FeatureType.NUMERIC),
            FeatureConfig(name="c", type=FeatureType.CATEGORICAL),
        ),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="ref.csv"),
        window=WindowConfig(duration_seconds=1e9, max_samples=cap),
    )


def _records(start: int, count: int) -> list[Prediction]:
    return [
        Prediction(
            None, float(i), None, {"x": i / 2, "c": f"k{i % 3}"}, float(i), None, None, True, 1.0
        )
        for i in range(start, start + count)
    ]


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 1800), max_size=8))
def test_the_window_holds_the_newest_rows_in_order_whatever_the_batch_sizes(
    sizes: list[int],
) -> None:
    model = _model(CAP)
    window, start = Window(model), 0
    for size in sizes:
        window.extend(batch_of(_records(start, size), struct_order(model)))
        start += size
    expected = np.arange(max(0, start - CAP), start, dtype=float)
    view = window.view(now=float(start))
    assert len(window) == len(expected)
    assert np.array_equal(view.ts, expected)
    assert np.array_equal(view.numeric["x"], expected / 2)
    assert np.array_equal(view.prediction, expected)
    assert [view.categories["c"][code] for code in view.categorical["c"]] == [
        f"k{int(i) % 3}" for i in expected
    ]


def test_a_window_that_never_fills_does_not_hold_its_whole_cap_in_memory() -> None:
    model = _model(1_000_000)
    window = Window(model)
    window.extend(batch_of(_records(0, 10), struct_order(model)))
    assert window._ts.nbytes < 100_000
