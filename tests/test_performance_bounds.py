"""max_drop: performance bounds relative to the reference, served as the existing min/max gauges."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from exporter.config import (
    Bounds,
    FeatureConfig,
    ModelConfig,
    ReferenceConfig,
    StreamsConfig,
)
from exporter.config.performance import LOWER_IS_BETTER, PERFORMANCE_METRICS
from exporter.evaluate.snapshot import ModelSnapshot, SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.stats.kinds import FeatureType, Task


def test_errors_and_losses_are_the_metrics_where_lower_is_better() -> None:
    assert {"mae", "rmse", "mape", "log_loss", "brier", "ece"} == LOWER_IS_BETTER
    assert set(PERFORMANCE_METRICS) >= LOWER_IS_BETTER


@pytest.mark.parametrize(
    ("metric", "bounds", "expected"),
    [
        ("accuracy", Bounds(max_drop=0.05), (0.73, None)),
        ("roc_auc", Bounds(max_drop=0.05, max=0.99), (0.73, 0.99)),
        ("accuracy", Bounds(min=0.75, max_drop=0.05), (0.75, None)),  # the stricter wins
        ("accuracy", Bounds(min=0.7, max_drop=0.05), (0.73, None)),
        ("log_loss", Bounds(max_drop=0.05), (None, 0.83)),
        ("mae", Bounds(max=0.8, max_drop=0.05), (None, 0.8)),
        ("rmse", Bounds(min=0.1, max_drop=0.2), (0.1, 0.98)),
    ],
)
def test_max_drop_tightens_the_side_where_the_metric_gets_worse(
    metric: str, bounds: Bounds, expected: tuple[float | None, float | None]
) -> None:
    low, high = bounds.resolve(metric, 0.78)
    assert (low, high) == pytest.approx(expected)


def test_without_a_reference_value_max_drop_sets_no_bound() -> None:
    assert Bounds(max_drop=0.05).resolve("accuracy", None) == (None, None)
    assert Bounds(min=0.5, max_drop=0.05).resolve("accuracy", None) == (0.5, None)


def _model() -> ModelConfig:
    return ModelConfig(
        name="fraud",
        task=Task.BINARY,
        positive_class="1",
        features=(FeatureConfig(name="amount", type=FeatureType.NUMERIC),),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(redis_key="r"),
        performance=(
            ("accuracy", Bounds(max_drop=0.05)),
            ("log_loss", Bounds(max_drop=0.1)),
            ("recall", Bounds(min=0.5)),
        ),
    )


def _snapshot(reference: tuple[tuple[str, float], ...]) -> ModelSnapshot:
    return ModelSnapshot("fraud", 1.0, 0.1, 500, 5000, (), None, None, None, (), reference)


def test_the_gauges_serve_the_resolved_bound_once_the_reference_performance_is_known() -> None:
    store = SnapshotStore()
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(store, [_model()], lambda: True))

    def bound(name: str, metric: str) -> float | None:
        return registry.get_sample_value(name, {"model": "fraud", "metric": metric})

    assert bound("mlmon_model_performance_min_ratio", "accuracy") is None
    assert bound("mlmon_model_performance_min_ratio", "recall") == 0.5
    store.publish(_snapshot((("accuracy", 0.779), ("log_loss", 0.335), ("recall", 0.6))))
    assert bound("mlmon_model_performance_min_ratio", "accuracy") == pytest.approx(0.729)
    assert bound("mlmon_model_loss_max", "log_loss") == pytest.approx(0.435)
    assert bound("mlmon_model_performance_max_ratio", "accuracy") is None
    assert bound("mlmon_model_performance_min_ratio", "recall") == 0.5
