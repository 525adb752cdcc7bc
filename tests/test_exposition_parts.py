"""Snapshot text kept per model: client_python's own bytes, and only the evaluated model redone."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

from exporter.config import ModelConfig
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot, SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.exposition import Combined, Exposition
from exporter.expose.live import LiveMetrics
from tests.config_cases import load_doc

FORMATS = (
    ("text/plain", generate_latest),
    ("application/openmetrics-text; version=1.0.0", openmetrics.generate_latest),
)


def _models(names: list[str]) -> tuple[ModelConfig, ...]:
    models: list[dict[str, Any]] = [
        {
            "name": name,
            "task": "binary_classification",
            "positive_class": "1",
            "features": [{"name": f"f{i}", "type": "numeric"} for i in range(3)],
            "performance": {"accuracy": {"min": 0.7, "max_drop": 0.03}, "log_loss": {"max": 1}},
            "slo": {"latency_target": "250ms", "objective": 0.99, "availability": 0.999},
        }
        for name in names
    ]
    return load_doc({"models": models}).models


def _snapshot(name: str, shift: float) -> ModelSnapshot:
    """Every part a snapshot can carry, some absent, with a value that moves with shift."""
    features = (
        FeatureSnapshot("f0", DriftValue("ks", 0.1 + shift, 0.02, 0.05, True), 0.0, 0.01),
        FeatureSnapshot("f1", DriftValue("psi", 0.3, None, 0.2, True, True), None),
        FeatureSnapshot("f2", None, 0.5, None, 0.125),
        FeatureSnapshot('we"ird\\\nname', DriftValue("ks", 1e-300, 1.0, 0.05, False), 1.0),
    )
    return ModelSnapshot(
        name, 1_700_000_000.123 + shift, 0.25, 500, 5000, features, 2 / 3, True,
        DriftValue("chisquare", 4.5, 0.03, 0.05, True),
        (("accuracy", 0.8 - shift), ("log_loss", 0.4)), (("accuracy", 0.9),),
        (("1", "recall", 0.7), ("0", "recall", 0.95)), (("accuracy", 0.82),),
        (("accuracy", 0.02),), 0.4 + shift,
        DriftValue("pca", 0.07, None, 0.05, True), DriftValue("chisquare", 2.0, 0.2, 0.05, False),
    )  # fmt: skip


Wired = tuple[SnapshotStore, SnapshotCollector, Exposition, CollectorRegistry]


def _wired(models: tuple[ModelConfig, ...]) -> Wired:
    """As the daemon wires it: the exposition, and a registry of the same series for users."""
    store, live, registry = SnapshotStore(), CollectorRegistry(), CollectorRegistry()
    metrics = LiveMetrics(live, models)
    collector = SnapshotCollector(store, models, lambda: True)
    registry.register(Combined(live, collector))
    return store, collector, Exposition(live, collector, metrics.render_failures), registry


@pytest.mark.parametrize(("accept", "encode"), FORMATS)
def test_the_assembled_body_is_byte_for_byte_what_client_python_renders(
    accept: str, encode: Any
) -> None:
    models = _models(["a", "b", "c", "d"])
    store, _, exposition, registry = _wired(models)
    for name, shift in (("c", 0.1), ("a", 0.2), ("b", 0.3)):  # store order differs from config
        store.publish(_snapshot(name, shift))  # and "d" has no snapshot yet
    assert exposition.render(accept)[0] == encode(registry)
    store.publish(_snapshot("a", 0.4))
    store.publish(_snapshot("d", 0.5))
    body = exposition.render(accept)[0]
    assert body == encode(registry)
    assert b'model="d"' in body


def test_an_evaluation_of_one_model_renders_only_that_models_text_again() -> None:
    models = _models([f"m{i}" for i in range(5)])
    store, _, exposition, registry = _wired(models)
    for i, model in enumerate(models):
        store.publish(_snapshot(model.name, i / 10))
    exposition.render("text/plain")
    assert exposition.model_renders == {m.name: 1 for m in models}
    exposition.render("text/plain")  # nothing evaluated: nothing rendered
    store.publish(_snapshot("m3", 0.9))
    body = exposition.render("text/plain")[0]
    assert exposition.model_renders == {m.name: 2 if m.name == "m3" else 1 for m in models}
    assert body == generate_latest(registry)
    assert b'mlmon_label_coverage_ratio{model="m3"} 1.3' in body


def test_a_reloaded_config_renders_its_models_again_and_forgets_removed_ones() -> None:
    models = _models(["a", "b"])
    store, collector, exposition, registry = _wired(models)
    store.publish(_snapshot("a", 0.0))
    store.publish(_snapshot("b", 0.0))
    exposition.render("text/plain")
    collector.set_models(_models(["b"]))
    store.retain({"b"})
    body = exposition.render("text/plain")[0]
    assert b'mlmon_window_samples{model="a"}' not in body
    assert b'mlmon_slo_latency_target_seconds{model="a"}' not in body
    assert b'mlmon_slo_latency_target_seconds{model="b"}' in body
    assert exposition.model_renders == {"a": 1, "b": 2}  # b's config is a new object
    assert body == generate_latest(registry)


def test_an_unreadable_openmetrics_version_gets_the_text_format_not_an_error() -> None:
    models = _models(["a"])
    store, _, exposition, registry = _wired(models)
    store.publish(_snapshot("a", 0.1))
    for accept in ("application/openmetrics-text; version=abc", "text/plain; version=1.x"):
        body, content_type = exposition.render(accept)
        assert content_type == "text/plain; version=0.0.4; charset=utf-8"
        assert body == generate_latest(registry)
    assert exposition.healthy


def test_openmetrics_versions_other_than_1_0_0_share_one_rendering_and_content_type() -> None:
    models = _models(["a", "b"])
    store, _, exposition, registry = _wired(models)
    for name in ("a", "b"):
        store.publish(_snapshot(name, 0.1))
    first, content_type = exposition.render("application/openmetrics-text; version=1.0.0")
    for patch in range(1, 30):  # a client (or an attacker) varying the version string
        accept = f"application/openmetrics-text; version=1.0.{patch}; escaping=underscores"
        assert exposition.render(accept) == (first, content_type)
    assert exposition.model_renders == {"a": 1, "b": 1}
    assert content_type.startswith("application/openmetrics-text; version=1.0.0;")
    assert first == openmetrics.generate_latest(registry)
