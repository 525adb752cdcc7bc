"""Label coverage is the joined share of the joinable predictions made within the window's
duration, whatever order their times, their labels and the stores' limits take."""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry

from exporter.config import LabelsConfig, ModelConfig, ReferenceConfig, StreamsConfig, WindowConfig
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import Task
from tests.helpers import Clock

T0 = 1_700_000_000.0
Entry = tuple[bytes, dict[bytes, bytes]]


def _pipeline(clock: Clock, **overrides: object) -> ModelPipeline:
    fields: dict[str, object] = {
        "name": "m",
        "task": Task.BINARY,
        "features": (),
        "streams": StreamsConfig(predictions="p", labels="l"),
        "reference": ReferenceConfig(file="x"),
        "positive_class": "1",
        "window": WindowConfig(duration_seconds=60),
    }
    fields.update(overrides)
    model = ModelConfig(**fields)  # type: ignore[arg-type]
    return ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), SnapshotStore(), clock)


def _predictions(at: float, ids: range, ts: float | None = None) -> list[Entry]:
    """One entry a prediction, written at `at`, stamped `ts` (the entry's time when None)."""
    out = []
    for seq, i in enumerate(ids):
        record = {"id": f"k{i}", "features": {}, "prediction": 1, "scores": 0.7}
        if ts is not None:
            record["ts"] = ts
        out.append((f"{int(at * 1000)}-{seq}".encode(), {b"data": orjson.dumps(record)}))
    return out


def _labels(at: float, ids: range) -> list[Entry]:
    record = {"id": "k{}", "label": 1}
    return [
        (f"{int(at * 1000)}-{seq}".encode(), {b"data": orjson.dumps({**record, "id": f"k{i}"})})
        for seq, i in enumerate(ids)
    ]


def _coverage(pipeline: ModelPipeline, now: float) -> float | None:
    return pipeline.join.pairs(now).coverage


def test_coverage_is_the_labelled_share_of_the_window_predictions() -> None:
    clock = Clock(T0)
    pipeline = _pipeline(clock)
    pipeline.ingest_predictions(_predictions(T0, range(10)))
    pipeline.ingest_labels(_labels(T0 + 1, range(4)))
    assert _coverage(pipeline, T0 + 2) == 0.4


def test_predictions_without_an_id_or_a_prediction_are_left_out_of_coverage() -> None:
    clock = Clock(T0)
    pipeline = _pipeline(clock)
    entries = _predictions(T0, range(4))
    anonymous = {"features": {}, "prediction": 1}
    failed = {"id": "e", "features": {}, "status": "error"}
    entries += [
        (f"{int(T0 * 1000)}-{9 + i}".encode(), {b"data": orjson.dumps(r)})
        for i, r in enumerate([anonymous, failed])
    ]
    pipeline.ingest_predictions(entries)
    pipeline.ingest_labels(_labels(T0 + 1, range(2)))
    assert len(pipeline.window) == 6 and _coverage(pipeline, T0 + 2) == 0.5


def test_coverage_stays_the_labelled_share_when_labels_outnumber_the_pairs_kept() -> None:
    """Half of 2,000 predictions labelled, 500 rows and pairs kept (window.max_samples)."""
    clock = Clock(T0)
    pipeline = _pipeline(clock, window=WindowConfig(duration_seconds=3600, max_samples=500))
    for start in range(0, 2000, 100):
        clock.now = T0 + start / 10
        pipeline.ingest_predictions(_predictions(clock.now, range(start, start + 100)))
        pipeline.ingest_labels(_labels(clock.now + 1, range(start, start + 100, 2)))
    assert _coverage(pipeline, T0 + 300) == 0.5


def test_one_late_stamped_prediction_does_not_lift_coverage_once_it_leaves_the_window() -> None:
    """The waiting count stopped at the newest prediction stamped before the window: every
    waiting one that arrived before it dropped out, and coverage read 1.0 for 0.5."""
    clock = Clock(T0 + 10)
    pipeline = _pipeline(clock)
    pipeline.ingest_predictions(_predictions(T0 + 10, range(100)))
    pipeline.ingest_labels(_labels(T0 + 11, range(0, 100, 2)))
    clock.now = T0 + 20
    pipeline.ingest_predictions(_predictions(T0 + 20, range(100, 101), ts=T0 - 30))
    assert _coverage(pipeline, T0 + 20) == 50 / 101
    assert _coverage(pipeline, T0 + 40) == 0.5  # the late one is past the 60 s window


def test_labels_out_of_order_past_the_sample_cap_leave_the_share_of_the_rows_kept() -> None:
    clock = Clock(T0)
    pipeline = _pipeline(clock, window=WindowConfig(duration_seconds=60, max_samples=50))
    pipeline.ingest_predictions(_predictions(T0, range(100)))
    pipeline.ingest_labels(_labels(T0 + 1, range(50, 100)))
    pipeline.ingest_labels(_labels(T0 + 2, range(10)))
    assert _coverage(pipeline, T0 + 3) == 0.6  # made within the duration: counted by time


def test_predictions_evicted_before_their_label_count_as_unlabelled() -> None:
    """Coverage divided by what was still waiting: an eviction made it 0.67 for 0.2."""
    clock = Clock(T0)
    pipeline = _pipeline(clock, labels=LabelsConfig(max_pending=30))
    pipeline.ingest_predictions(_predictions(T0, range(100)))
    pipeline.ingest_labels(_labels(T0 + 1, range(80, 100)))
    assert _coverage(pipeline, T0 + 2) == 0.2


def test_predictions_past_the_label_horizon_count_as_unlabelled() -> None:
    clock = Clock(T0)
    pipeline = _pipeline(clock, labels=LabelsConfig(horizon_seconds=10))
    pipeline.ingest_predictions(_predictions(T0, range(100)))
    pipeline.ingest_labels(_labels(T0 + 1, range(50)))
    clock.now = T0 + 20
    pipeline.ingest_labels(_labels(T0 + 20, range(50, 100)))  # too late: unmatched
    assert _coverage(pipeline, T0 + 20) == 0.5


def test_a_prediction_sent_again_with_its_id_counts_once_in_coverage() -> None:
    """The replaced copy stayed waiting for good: at-least-once producers read 0.5."""
    clock = Clock(T0)
    pipeline = _pipeline(clock)
    pipeline.ingest_predictions(_predictions(T0, range(10)))
    pipeline.ingest_predictions(_predictions(T0, range(10)) + _predictions(T0, range(5)))
    pipeline.ingest_labels(_labels(T0 + 1, range(10)))
    assert len(pipeline.window) == 25
    assert _coverage(pipeline, T0 + 2) == 1.0


def test_a_window_capped_by_max_samples_still_counts_labels_that_come_later() -> None:
    """Counted over the rows of a window capped at 100 samples (10 s of traffic here), labels
    30 s late left every row unlabelled: coverage 0, and MLMonLabelsMissing fired on the demo,
    whose every prediction gets its label."""
    clock = Clock(T0)
    pipeline = _pipeline(clock, window=WindowConfig(duration_seconds=3600, max_samples=100))
    for second in range(100):  # 10 predictions a second, each labelled 30 s later
        clock.now = T0 + second
        batch = range(10 * second, 10 * second + 10)
        pipeline.ingest_predictions(_predictions(clock.now, batch))
        if second >= 30:
            labelled = range(10 * (second - 30), 10 * (second - 30) + 10)
            pipeline.ingest_labels(_labels(clock.now, labelled))
    assert len(pipeline.window) == 100
    assert _coverage(pipeline, clock.now) == 700 / 1000
