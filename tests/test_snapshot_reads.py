"""A scrape renders one generation of snapshots, and forgotten models leave nothing behind."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import Metric

from exporter.config import ModelConfig, ReferenceConfig, StreamsConfig
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot, SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.exposition import Exposition
from exporter.stats.kinds import Task


def _model(name: str) -> ModelConfig:
    return ModelConfig(
        name=name,
        task=Task.REGRESSION,
        features=(),
        streams=StreamsConfig(predictions=f"{name}:p", labels=f"{name}:l"),
        reference=ReferenceConfig(redis_key=f"{name}:ref"),
    )


def _snapshot(name: str, window: int, mae: float) -> ModelSnapshot:
    drift = DriftValue("psi", 0.3, None, 0.1, True)
    feature = FeatureSnapshot("x", drift, 0.0)
    return ModelSnapshot(
        name, 1.0, 0.1, window, 100, (feature,), 1.0, True, None, (("mae", mae),), ()
    )


def _value(metrics: list[Metric], name: str) -> float:
    return next(s.value for m in metrics for s in m.samples if s.name == name)


def test_a_generation_taken_before_a_publish_still_renders_the_older_evaluation() -> None:
    store = SnapshotStore()
    collector = SnapshotCollector(store, [_model("m")], lambda: True)
    store.publish(_snapshot("m", 500, 1.0))
    generation = collector.version
    store.publish(_snapshot("m", 900, 2.0))
    old = list(collector.derived(generation))
    assert _value(old, "mlmon_window_samples") == 500
    assert _value(old, "mlmon_model_regression_error") == 1.0
    new = list(collector.derived())
    assert _value(new, "mlmon_window_samples") == 900


def test_the_cached_metrics_body_follows_a_new_evaluation() -> None:
    store = SnapshotStore()
    live = CollectorRegistry()
    registry = CollectorRegistry()
    failures = Counter("mlmon_exposition_failures", "render failures", registry=registry)
    exposition = Exposition(live, SnapshotCollector(store, [_model("m")], lambda: True), failures)
    store.publish(_snapshot("m", 500, 1.0))
    assert b'mlmon_window_samples{model="m"} 500.0' in exposition.render("text/plain")[0]
    store.publish(_snapshot("m", 900, 2.0))
    body = exposition.render("text/plain")[0]
    assert b'mlmon_window_samples{model="m"} 900.0' in body
    assert b'mlmon_model_regression_error{metric="mae",model="m"} 2.0' in body


def test_a_model_dropped_from_the_config_loses_its_drift_history_too() -> None:
    store = SnapshotStore()
    store.publish(_snapshot("gone", 500, 1.0))
    store.publish(_snapshot("kept", 500, 1.0))
    store.retain({"kept"})
    assert store.history("gone") == ()
    assert len(store.history("kept")) == 1
    store.publish(_snapshot("gone", 500, 1.0))  # configured again: starts afresh
    assert len(store.history("gone")) == 1
