"""Late labels join by id within the horizon, in bounded memory, and feed the label counters."""

from __future__ import annotations

import gc
import tracemalloc

import orjson
from prometheus_client import CollectorRegistry

from exporter.config import (
    LabelsConfig,
    ModelConfig,
    ReferenceConfig,
    SLOConfig,
    StreamsConfig,
    WindowConfig,
)
from exporter.daemon.pipeline import ModelPipeline
from exporter.decode.batch import batch_of
from exporter.decode.wire import Label, Prediction
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import Task
from exporter.window.early import EARLY_SECONDS
from exporter.window.labels import LabelJoin

T0 = 1_700_000_000.0
HOUR = 3600.0


class Clock:
    """A settable clock, passed in instead of time.time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _model(task: Task = Task.BINARY, **overrides: object) -> ModelConfig:
    fields: dict[str, object] = {
        "name": "m",
        "task": task,
        "features": (),
        "streams": StreamsConfig(predictions="p", labels="l"),
        "reference": ReferenceConfig(file="x"),
        "positive_class": "1" if task is Task.BINARY else None,
    }
    fields.update(overrides)
    return ModelConfig(**fields)  # type: ignore[arg-type]


def _entry(ts: float, payload: dict[str, object]) -> tuple[bytes, dict[bytes, bytes]]:
    return f"{int(ts * 1000)}-0".encode(), {b"data": orjson.dumps(payload)}


def _pipeline(model: ModelConfig, clock: Clock) -> tuple[ModelPipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    return ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore(), clock), registry


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"model": "m", **labels}) or 0.0


def test_a_label_six_hours_late_is_joined_and_counted_in_the_delay_histogram() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(), clock)
    pipeline.ingest_predictions(
        [_entry(T0, {"id": "a", "features": {}, "prediction": 1, "scores": 0.8})]
    )
    clock.now = T0 + 6 * HOUR
    pipeline.ingest_labels([_entry(clock.now, {"id": "a", "label": 1})])
    assert _sample(registry, "mlmon_labels_unmatched_total") == 0
    assert _sample(registry, "mlmon_label_delay_seconds_count") == 1
    assert _sample(registry, "mlmon_label_delay_seconds_sum") == 6 * HOUR
    assert _sample(registry, "mlmon_label_delay_seconds_bucket", le="14400.0") == 0
    assert _sample(registry, "mlmon_label_delay_seconds_bucket", le="28800.0") == 1
    assert _sample(registry, "mlmon_labeled_predictions_total", actual="1", predicted="1") == 1


def test_a_label_a_second_late_is_told_apart_from_one_fifty_seconds_late() -> None:
    """The lowest bucket was 60 s: labels a second late read as a 30 s median on the
    dashboard's histogram_quantile, thirty times their delay."""
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(), clock)
    pipeline.ingest_predictions(
        [_entry(T0, {"id": i, "features": {}, "prediction": 1}) for i in ("a", "b")]
    )
    clock.now = T0 + 1
    pipeline.ingest_labels([_entry(clock.now, {"id": "a", "label": 1})])
    clock.now = T0 + 50
    pipeline.ingest_labels([_entry(clock.now, {"id": "b", "label": 1})])
    assert _sample(registry, "mlmon_label_delay_seconds_bucket", le="1.0") == 1
    assert _sample(registry, "mlmon_label_delay_seconds_bucket", le="30.0") == 1
    assert _sample(registry, "mlmon_label_delay_seconds_bucket", le="60.0") == 2


def test_a_label_after_the_horizon_is_unmatched_and_not_joined() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(labels=LabelsConfig(horizon_seconds=24 * HOUR)), clock)
    pipeline.ingest_predictions([_entry(T0, {"id": "a", "features": {}, "prediction": 1})])
    clock.now = T0 + 25 * HOUR
    pipeline.ingest_labels(
        [
            _entry(clock.now, {"id": "a", "label": 1}),
            _entry(clock.now, {"id": "never-predicted", "label": 0}),
        ]
    )
    clock.now += EARLY_SECONDS + 1  # each waited for a prediction that might come after it
    pipeline.ingest_labels([_entry(clock.now, {"id": "b", "label": 1})])
    assert _sample(registry, "mlmon_labels_unmatched_total") == 2
    assert _sample(registry, "mlmon_label_delay_seconds_count") == 0
    assert len(pipeline.join.pairs(clock.now)) == 0


def test_a_label_stamped_past_the_horizon_is_unmatched_even_before_expiry_runs() -> None:
    join = LabelJoin(_model(labels=LabelsConfig(horizon_seconds=HOUR)), Clock(T0))
    join.remember(batch_of([Prediction("a", T0, None, {}, "1", None, None, True, 1.0)], ()))
    assert join.join([Label("a", "1", T0 + 2 * HOUR)]).unmatched == 1


def test_classes_beyond_the_configured_list_fold_into_other() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(Task.MULTICLASS, classes=("a", "b")), clock)
    pipeline.ingest_predictions(
        [
            _entry(T0, {"id": str(i), "features": {}, "prediction": p})
            for i, p in enumerate(("a", "z", "y"))
        ]
    )
    pipeline.ingest_labels(
        [_entry(T0 + 5, {"id": str(i), "label": a}) for i, a in enumerate(("b", "a", "x"))]
    )
    count = {
        (a, p): _sample(registry, "mlmon_labeled_predictions_total", actual=a, predicted=p)
        for a, p in (("b", "a"), ("a", "__other__"), ("__other__", "__other__"))
    }
    assert count == {("b", "a"): 1, ("a", "__other__"): 1, ("__other__", "__other__"): 1}


def test_regression_labels_add_the_sums_promql_needs() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(Task.REGRESSION), clock)
    pipeline.ingest_predictions(
        [
            _entry(T0, {"id": str(i), "features": {}, "prediction": p})
            for i, p in enumerate((1.0, 4.0))
        ]
    )
    pipeline.ingest_labels(
        [_entry(T0 + 5, {"id": str(i), "label": a}) for i, a in enumerate((2.0, 1.0))]
    )
    assert _sample(registry, "mlmon_regression_labeled_total") == 2
    assert _sample(registry, "mlmon_regression_absolute_error_total") == 4.0
    assert _sample(registry, "mlmon_regression_squared_error_total") == 10.0
    assert _sample(registry, "mlmon_regression_target_positive_total") == 3.0
    assert _sample(registry, "mlmon_regression_target_negative_total") == 0.0
    assert _sample(registry, "mlmon_regression_target_squared_total") == 5.0


def test_negative_regression_labels_move_the_negative_sum_and_lose_nothing() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(Task.REGRESSION), clock)
    pipeline.ingest_predictions(
        [
            _entry(T0, {"id": str(i), "features": {}, "prediction": p})
            for i, p in enumerate((-1.0, 0.5, -3.0))
        ]
    )
    pipeline.ingest_labels(
        [_entry(T0 + 5, {"id": str(i), "label": a}) for i, a in enumerate((-2.0, 1.5, -0.5))]
    )
    assert _sample(registry, "mlmon_regression_labeled_total") == 3
    assert _sample(registry, "mlmon_regression_target_positive_total") == 1.5
    assert _sample(registry, "mlmon_regression_target_negative_total") == 2.5
    assert _sample(registry, "mlmon_regression_absolute_error_total") == 1.0 + 1.0 + 2.5


def test_a_regression_value_whose_square_would_overflow_is_rejected_with_its_reason() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(Task.REGRESSION), clock)
    pipeline.ingest_predictions(
        [
            _entry(T0, {"id": "a", "features": {}, "prediction": 1.0}),
            _entry(T0, {"id": "b", "features": {}, "prediction": 2e200}),
        ]
    )
    pipeline.ingest_labels([_entry(T0 + 5, {"id": "a", "label": -2e200})])
    assert _sample(registry, "mlmon_records_invalid_total", reason="value_too_large") == 2
    assert _sample(registry, "mlmon_regression_labeled_total") == 0
    assert _sample(registry, "mlmon_regression_squared_error_total") == 0


def test_slow_and_sampling_aware_prediction_counters() -> None:
    clock = Clock(T0)
    model = _model(slo=SLOConfig(latency_target_seconds=0.1))
    pipeline, registry = _pipeline(model, clock)
    pipeline.ingest_predictions(
        [
            _entry(T0, {"features": {}, "prediction": 1, "latency_ms": 50, "version": "v1"}),
            _entry(
                T0,
                {
                    "features": {},
                    "prediction": 1,
                    "latency_ms": 150,
                    "version": "v1",
                    "sample_rate": 0.25,
                },
            ),
        ]
    )
    assert _sample(registry, "mlmon_slow_predictions_total", version="v1") == 1
    assert _sample(registry, "mlmon_predictions_estimated_total", version="v1") == 5.0


def test_a_reload_that_adds_a_latency_target_counts_slow_predictions_from_then_on() -> None:
    registry = CollectorRegistry()
    before, after = _model(), _model(slo=SLOConfig(latency_target_seconds=0.1))
    live = LiveMetrics(registry, [before])
    slow = {"features": {}, "prediction": 1, "latency_ms": 150, "version": "v1"}
    ModelPipeline(before, live, SnapshotStore(), Clock(T0)).ingest_predictions([_entry(T0, slow)])
    live.configure([after])
    ModelPipeline(after, live, SnapshotStore(), Clock(T0)).ingest_predictions([_entry(T0, slow)])
    assert _sample(registry, "mlmon_predictions_total", version="v1") == 2
    assert _sample(registry, "mlmon_slow_predictions_total", version="v1") == 1


def test_unversioned_records_leave_every_version_slot_to_versions_as_the_window_does() -> None:
    clock = Clock(T0)
    pipeline, registry = _pipeline(_model(max_versions=2), clock)
    records = [{"features": {}, "prediction": 1}]
    records += [{"features": {}, "prediction": 1, "version": v} for v in ("v1", "v2", "v3")]
    pipeline.ingest_predictions([_entry(T0, r) for r in records])
    counted = {
        v: _sample(registry, "mlmon_predictions_total", version=v)
        for v in ("unknown", "v1", "v2", "__other__")
    }
    assert counted == {"unknown": 1, "v1": 1, "v2": 1, "__other__": 1}
    assert pipeline.window.slicer.versions.values == ("v1", "v2", "__other__")


def test_after_a_restart_the_counters_keep_the_versions_the_rebuilt_window_keeps() -> None:
    """The rebuild's replay gave the window's version slices v1 and v2, but only counted
    records reached the counters: new v3 traffic was counted as v3 while its drift and
    performance slices folded it into __other__."""
    pipeline, registry = _pipeline(_model(max_versions=2), Clock(T0))
    replayed = [{"features": {}, "prediction": 1, "version": v} for v in ("v1", "v2")]
    pipeline.ingest_predictions([_entry(T0, r) for r in replayed], count=False)
    pipeline.ingest_predictions([_entry(T0, {"features": {}, "prediction": 1, "version": "v3"})])
    assert _sample(registry, "mlmon_predictions_total", version="__other__") == 1
    assert (
        registry.get_sample_value("mlmon_predictions_total", {"model": "m", "version": "v3"})
        is None
    )
    assert _sample(registry, "mlmon_predictions_total", version="v1") == 0
    assert pipeline.window.slicer.versions.values == ("v1", "v2", "__other__")


def test_a_version_gone_from_the_window_gives_its_slot_to_a_new_one() -> None:
    """The max_versions slots went to the first versions seen, for good: after them every
    release was pooled into __other__ and a bad canary was never compared."""
    model = _model(max_versions=2, window=WindowConfig(duration_seconds=3600, max_samples=50))
    pipeline, registry = _pipeline(model, Clock(T0))

    def send(version: str, n: int) -> None:
        record = {"features": {}, "prediction": 1, "version": version}
        pipeline.ingest_predictions([_entry(T0, record) for _ in range(n)])

    send("v1", 50)
    send("v2", 50)  # the window (50 rows) now holds v2 only
    send("v3", 60)
    assert _sample(registry, "mlmon_predictions_total", version="v3") == 60
    assert _sample(registry, "mlmon_predictions_total", version="__other__") == 0
    assert (
        registry.get_sample_value("mlmon_predictions_total", {"model": "m", "version": "v1"})
        is None
    )
    assert _sample(registry, "mlmon_series_limited_total", kind="version") == 0
    assert set(pipeline.window.slicer.versions.values) == {"v3", "v2"}
    view = pipeline.window.view(T0)
    assert {view.version_values[c] for c in set(view.versions.tolist())} == {"v3"}


def test_versions_whose_rows_and_labels_are_older_than_the_window_give_their_slots_back() -> None:
    """Joined pairs held their versions' slots until max_samples newer labels pushed them out,
    however old: on a model with light traffic a rollout went to __other__ for good."""
    model = _model(max_versions=2, window=WindowConfig(duration_seconds=30, max_samples=5000))
    clock = Clock(T0)
    pipeline, registry = _pipeline(model, clock)

    def send(version: str, n: int, first: int) -> None:
        ids = [f"{version}-{i}" for i in range(first, first + n)]
        pipeline.ingest_predictions(
            [_entry(clock.now, {"id": i, "features": {}, "prediction": 1, "version": version})
             for i in ids]
        )  # fmt: skip
        pipeline.ingest_labels([_entry(clock.now, {"id": i, "label": 1}) for i in ids])

    send("v1", 400, 0)
    send("v2", 400, 0)
    clock.now = T0 + 40  # past the window's 30 s: no row nor label of v1 or v2 is seen again
    for batch in range(3):
        send("v3", 400, batch * 400)
    assert _sample(registry, "mlmon_predictions_total", version="v3") == 1200
    assert _sample(registry, "mlmon_series_limited_total", kind="version") == 0


def test_a_model_removed_and_added_again_counts_from_zero() -> None:
    registry = CollectorRegistry()
    model = _model()
    live = LiveMetrics(registry, [model])
    entry = _entry(T0, {"features": {}, "prediction": 1, "version": "v1"})
    ModelPipeline(model, live, SnapshotStore(), Clock(T0)).ingest_predictions([entry])
    live.configure([])
    assert _sample(registry, "mlmon_predictions_total", version="v1") == 0
    live.configure([model])
    ModelPipeline(model, live, SnapshotStore(), Clock(T0)).ingest_predictions([entry])
    assert (
        registry.get_sample_value("mlmon_predictions_total", {"model": "m", "version": "v1"}) == 1
    )


def _fill(join: LabelJoin, start: int, count: int) -> None:
    scores = {"a": 0.2, "b": 0.5, "c": 0.3}
    batch = 10_000
    for base in range(start, start + count, batch):
        records = [
            Prediction(f"id-{i}", T0 + i * 1e-3, "v1", {}, "b", scores, 0.01, True, 1.0)
            for i in range(base, base + batch)
        ]
        join.remember(batch_of(records, ()))


def test_memory_stays_flat_while_predictions_that_never_get_labels_pour_in() -> None:
    join = LabelJoin(
        _model(Task.MULTICLASS, labels=LabelsConfig(max_pending=20_000)), Clock(T0 + 2000)
    )
    gc.collect()
    tracemalloc.start()
    try:
        _fill(join, 0, 60_000)
        gc.collect()
        at_cap, _ = tracemalloc.get_traced_memory()
        _fill(join, 60_000, 140_000)  # ten times the cap in all
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert join.pending == 20_000
    assert after < at_cap * 1.05 + 1_000_000
    assert after < 20_000 * 600  # pending and recent scores: ~600 bytes each at most
