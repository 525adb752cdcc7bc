"""A back-fill of labels older than the performance window leaves the window's performance as it
was, read live or replayed by a restart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import load_config_text
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.live import LiveMetrics
from tests.helpers import Clock

T0 = 1_700_000_000.0
HOUR = 3600.0
Entry = tuple[bytes, dict[bytes, bytes]]
CONFIG = """models:
  - name: m
    task: binary_classification
    positive_class: "1"
    reference: {file: ref.csv}
    window: {duration: 1h, max_samples: 1000}
    labels: {horizon: 1d}
    features: [{name: x, type: numeric}]
"""


def _pipeline(tmp_path: Path, clock: Clock) -> tuple[ModelPipeline, CollectorRegistry]:
    """A fitted pipeline, and a registry that serves its evaluations as a scrape does."""
    rng = np.random.default_rng(1)
    rows = [f"{x!r},{int(x > 0)},{int(x > 0.2)}" for x in rng.normal(0, 1, 500).tolist()]
    (tmp_path / "ref.csv").write_text("\n".join(["x,prediction,label", *rows]) + "\n")
    model = load_config_text(CONFIG, base_dir=str(tmp_path)).models[0]
    store, registry = SnapshotStore(), CollectorRegistry()
    registry.register(SnapshotCollector(store, [model], lambda: True))
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), store, clock)
    return pipeline, registry


def _entry(at: float, records: list[dict[str, object]]) -> Entry:
    return f"{int(at * 1000)}-0".encode(), {b"batch": orjson.dumps(records)}


def _predictions(prefix: str, times: np.ndarray, predicted: np.ndarray) -> list[Entry]:
    """One entry a prediction, stamped by its entry's time."""
    return [
        _entry(float(t), [{"id": f"{prefix}{i}", "features": {"x": 0.0}, "prediction": int(p)}])
        for i, (t, p) in enumerate(zip(times, predicted, strict=True))
    ]


def _labels(prefix: str, times: np.ndarray, truth: np.ndarray) -> list[dict[str, object]]:
    return [
        {"id": f"{prefix}{i}", "label": int(y), "ts": float(t)}
        for i, (t, y) in enumerate(zip(times, truth, strict=True))
    ]


def _accuracy(registry: CollectorRegistry) -> float | None:
    labels = {"model": "m", "metric": "accuracy"}
    return registry.get_sample_value("mlmon_model_performance_ratio", labels)


def test_a_backfill_of_labels_older_than_the_window_keeps_the_windows_accuracy(
    tmp_path: Path,
) -> None:
    """400 predictions of the last 50 minutes labelled 30 s after each, then a nightly job's
    2,000 labels of predictions 20 to 3 hours old (outcomes an hour after each, inside the
    horizon, before the window): the 1,000 pairs kept held only back-filled ones, which the
    window never shows, and accuracy went absent."""
    rng = np.random.default_rng(2)
    recent_at = np.linspace(T0 - 50 * 60, T0 - 60, 400)
    recent_predicted, recent_truth = rng.random(400) < 0.5, rng.random(400) < 0.5
    old_at = np.linspace(T0 - 20 * HOUR, T0 - 3 * HOUR, 2000)
    old_predicted, old_truth = rng.random(2000) < 0.5, rng.random(2000) < 0.5
    predictions = _predictions("old", old_at, old_predicted)
    predictions += _predictions("new", recent_at, recent_predicted)
    realtime = [_entry(T0, _labels("new", recent_at + 30, recent_truth))]
    backfill = [_entry(T0, _labels("old", old_at + HOUR, old_truth))]
    expected = float(np.mean(recent_predicted == recent_truth))

    live, live_registry = _pipeline(tmp_path, Clock(T0))
    live.ingest_predictions(predictions)
    live.ingest_labels(realtime)
    assert live.evaluate(None)
    assert _accuracy(live_registry) == expected
    live.ingest_labels(backfill)
    assert live.evaluate(None)
    assert _accuracy(live_registry) == expected

    rebuilt, rebuilt_registry = _pipeline(tmp_path, Clock(T0))  # a restart replays both
    rebuilt.ingest_predictions(predictions, count=False)
    rebuilt.ingest_labels(realtime + backfill, count=False)
    assert rebuilt.evaluate(None)
    assert _accuracy(rebuilt_registry) == expected
