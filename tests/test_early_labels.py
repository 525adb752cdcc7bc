"""A label written before its prediction joins it, live as after a restart's rebuild."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, ReferenceConfig, StreamsConfig, WindowConfig
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import Task
from exporter.window import early
from exporter.window.early import EARLY_SECONDS
from tests.conftest import RedisServer
from tests.helpers import Clock
from tests.test_label_order_with_redis import _reader

T0 = 1_700_000_000.0
Entry = tuple[bytes, dict[bytes, bytes]]


def _pipeline(clock: Clock) -> tuple[ModelPipeline, CollectorRegistry]:
    model = ModelConfig(
        name="m",
        task=Task.BINARY,
        positive_class="1",
        features=(),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x"),
        window=WindowConfig(duration_seconds=3600),
    )
    registry = CollectorRegistry()
    return ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore(), clock), registry


def _entries(at: float, records: list[dict[str, object]]) -> list[Entry]:
    return [
        (f"{int(at * 1000)}-{seq}".encode(), {b"data": orjson.dumps(record)})
        for seq, record in enumerate(records)
    ]


def _predictions(at: float, ids: range, prediction: int = 1) -> list[Entry]:
    records = [{"id": f"p{i}", "features": {}, "prediction": prediction} for i in ids]
    return _entries(at, records)  # type: ignore[arg-type]


def _labels(at: float, ids: range, label: int) -> list[Entry]:
    return _entries(at, [{"id": f"p{i}", "label": label} for i in ids])


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"model": "m", **labels}) or 0.0


def test_a_label_read_before_its_prediction_joins_when_the_prediction_arrives() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(clock)
    pipeline.ingest_labels(_labels(T0, range(10), label=0))
    clock.now = T0 + 2
    pipeline.ingest_predictions(_predictions(T0 + 2, range(10)))
    assert _value(registry, "mlmon_labels_unmatched_total") == 0
    assert _value(registry, "mlmon_labels_total") == 10
    assert _value(registry, "mlmon_labeled_predictions_total", actual="0", predicted="1") == 10
    pairs = pipeline.join.pairs(clock.now)
    assert (pairs.predicted, pairs.actual) == (("1",) * 10, ("0",) * 10)
    assert pairs.coverage == 1.0


def test_live_reading_and_a_rebuild_of_the_same_streams_give_the_same_pairs_and_coverage() -> None:
    """Labels written before their predictions were unmatched live and joined by the rebuild,
    which replays predictions first: accuracy 1.0 live, 0.6 after a restart."""
    early_labels = _labels(T0, range(40), label=0)
    predictions = _predictions(T0 + 1, range(100))
    late_labels = _labels(T0 + 2, range(40, 100), label=1)
    live_clock = Clock(T0)
    live, live_registry = _pipeline(live_clock)
    live.ingest_labels(early_labels)
    live_clock.now = T0 + 1
    live.ingest_predictions(predictions)
    live_clock.now = T0 + 2
    live.ingest_labels(late_labels)
    rebuilt, _ = _pipeline(Clock(T0 + 2))
    rebuilt.ingest_predictions(predictions, count=False)
    rebuilt.ingest_labels(early_labels + late_labels, count=False)
    assert _value(live_registry, "mlmon_labels_unmatched_total") == 0
    for pipeline in (live, rebuilt):
        pairs = pipeline.join.pairs(T0 + 2)
        assert sorted(zip(pairs.predicted, pairs.actual, strict=True)) == sorted(
            [("1", "0")] * 40 + [("1", "1")] * 60
        )
        assert pairs.coverage == 1.0


def test_a_label_whose_prediction_never_comes_is_unmatched_after_the_grace() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(clock)
    pipeline.ingest_labels(_labels(T0, range(3), label=1))
    assert _value(registry, "mlmon_labels_unmatched_total") == 0  # still waiting
    clock.now = T0 + EARLY_SECONDS + 1
    pipeline.evaluate(None)  # no record arrives: the scheduled run lets them go
    assert _value(registry, "mlmon_labels_unmatched_total") == 3
    pipeline.ingest_predictions(_predictions(clock.now, range(3)))
    assert len(pipeline.join.pairs(clock.now)) == 0


def test_a_second_label_for_an_id_already_waiting_is_unmatched_and_the_first_joins() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(clock)
    pipeline.ingest_labels(_labels(T0, range(1), label=0) + _labels(T0, range(1), label=1))
    assert _value(registry, "mlmon_labels_unmatched_total") == 1
    pipeline.ingest_predictions(_predictions(T0 + 1, range(1)))
    assert pipeline.join.pairs(T0 + 1).actual == ("0",)


def test_labels_held_past_the_limit_are_unmatched_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(early, "EARLY_LIMIT", 5)
    clock = Clock(T0)
    pipeline, registry = _pipeline(clock)
    pipeline.ingest_labels(_labels(T0, range(8), label=1))
    assert _value(registry, "mlmon_labels_unmatched_total") == 3
    pipeline.ingest_predictions(_predictions(T0 + 1, range(8)))
    assert len(pipeline.join.pairs(T0 + 1)) == 5  # p3..p7 were still held


PREDICTIONS, LABELS = b"mlmon:{m}:predictions", b"mlmon:{m}:labels"


def test_labels_added_before_their_predictions_join_live_and_after_a_restart_alike(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    features = {"x1": 0.1, "x2": 5.0, "x3": 1.0, "c1": "a", "c2": "b"}
    first, live, registry = _reader(redis_server, tmp_path)
    first.backfill()
    client = redis_server.client()
    for i in range(20):  # each label read on its own, before its prediction exists
        client.xadd(LABELS, {b"data": orjson.dumps({"id": f"p{i}", "label": 4.0})})
    first.read_once()
    for i in range(20):
        record = {"id": f"p{i}", "features": features, "prediction": 5.0}
        client.xadd(PREDICTIONS, {b"data": orjson.dumps(record)})
    first.read_once()
    assert registry.get_sample_value("mlmon_labels_unmatched_total", {"model": "m"}) == 0
    second, rebuilt, _ = _reader(redis_server, tmp_path)
    second.backfill()  # a restart: the window and the joins rebuilt from the streams
    for pipeline in (live, rebuilt):
        pairs = pipeline.join.pairs(pipeline.window.view(0).ts.max() + 1)
        assert (sorted(pairs.predicted), sorted(pairs.actual)) == ([5.0] * 20, [4.0] * 20)


def test_a_label_replayed_before_its_prediction_joins_when_the_prediction_comes() -> None:
    """A restart between a label and its prediction: the replay did not hold the label."""
    clock = Clock(T0)
    pipeline, registry = _pipeline(clock)
    pipeline.ingest_labels(_labels(T0, range(3), label=1), count=False)  # the rebuild
    clock.now = T0 + 2
    pipeline.ingest_predictions(_predictions(T0 + 2, range(3)))
    assert len(pipeline.join.pairs(clock.now)) == 3
    pipeline.ingest_labels(_labels(clock.now, range(10, 12), label=1), count=False)
    clock.now += EARLY_SECONDS + 1
    pipeline.evaluate(None)
    assert _value(registry, "mlmon_labels_unmatched_total") == 0  # the first process counts
