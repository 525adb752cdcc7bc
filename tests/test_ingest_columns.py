"""The columnar fast path reads exactly what the per-record decoder reads, only sooner."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from exporter.daemon.pipeline import ModelPipeline
from exporter.decode.columns import SMALLEST_SPLIT, FastPredictions
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import Task
from tests.test_fuzz_pipeline import MODELS, hostile_fields

Entry = tuple[bytes, dict[bytes, bytes]]
NOW = time.time()


def _plain(i: int) -> dict[str, Any]:
    """A record as a healthy producer writes it."""
    return {
        "id": f"req-{i}",
        "ts": NOW - i * 0.001,
        "version": "v2" if i % 3 else "v1",
        "features": {"x": i / 7, "c": "abc"[i % 3]},
        "prediction": i % 2,
        "scores": (i % 10) / 10,
        "latency_ms": 3.5 + i % 40,
        "status": "error" if i % 11 == 0 else "ok",
        "sample_rate": 0.5,
    }


def _entries(payloads: Sequence[tuple[Any, bool]]) -> list[Entry]:
    millis = int(NOW * 1000)
    out = []
    for seq, (payload, batch) in enumerate(payloads):
        field = b"batch" if batch else b"data"
        out.append((f"{millis}-{seq}".encode(), {field: json.dumps(payload).encode()}))
    return out


def _per_record(pipeline: ModelPipeline) -> ModelPipeline:
    """The pipeline with its fast path turned off: every group goes record by record."""

    def every_group_per_record(entries: Sequence[Entry]) -> Iterator[tuple[Any, None]]:
        yield entries, None

    pipeline._fast.groups = every_group_per_record  # type: ignore[method-assign]
    return pipeline


def _state(pipeline: ModelPipeline, registry: CollectorRegistry) -> dict[str, Any]:
    view = pipeline.window.view(NOW + 1)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith(("_created", "timestamp_seconds"))
        and not s.name.startswith(("process_", "python_"))
    }
    pairs = pipeline.join.pairs(NOW + 1)
    return {
        "window": (view.ts, view.numeric, view.categorical, view.prediction, view.score),
        "codes": (view.categories, view.classes),
        "pending": pipeline.join.pending,
        "recent": (pairs.window_predicted, pairs.window_scores),
        "samples": samples,
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


def _ingest(entries: list[Entry], task: Task, fast: bool) -> dict[str, Any]:
    registry = CollectorRegistry()
    model = MODELS[task]
    pipeline = ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore())
    if not fast:
        _per_record(pipeline)
    pipeline.ingest_predictions(entries[: len(entries) // 2])
    pipeline.ingest_predictions(entries[len(entries) // 2 :])
    return _state(pipeline, registry)


def test_plain_single_and_batch_entries_decode_to_columns_without_the_per_record_decoder() -> None:
    entries = _entries([(_plain(i), False) for i in range(50)])
    entries += _entries([([_plain(i) for i in range(50, 150)], True)])
    groups = list(FastPredictions(MODELS[Task.BINARY]).groups(entries))
    assert all(columns is not None for _, columns in groups)
    assert sum(len(columns) for _, columns in groups) == 150


def test_one_bad_record_sends_only_a_small_group_of_entries_record_by_record() -> None:
    payloads: list[tuple[Any, bool]] = [(_plain(i), False) for i in range(200)]
    payloads[77] = ({**_plain(77), "ts": "yesterday"}, False)
    groups = list(FastPredictions(MODELS[Task.BINARY]).groups(_entries(payloads)))
    slow = [group for group, columns in groups if columns is None]
    assert sum(len(group) for group in slow) < SMALLEST_SPLIT
    assert sum(len(columns) for _, columns in groups if columns is not None) > 190


def test_plain_records_leave_the_same_window_join_and_counters_either_way() -> None:
    payloads = [(_plain(i), False) for i in range(120)]
    payloads += [([_plain(i) for i in range(j, j + 30)], True) for j in range(120, 240, 30)]
    for task in MODELS:
        fast = _ingest(_entries(payloads), task, fast=True)
        assert fast["pending"] > 0 and len(fast["window"][0]) == 240
        assert _same(fast, _ingest(_entries(payloads), task, fast=False))


# A plain record with up to two fields made hostile, so most examples reach the fast path.
plain_or_hostile = st.builds(
    lambda i, hostile: {**_plain(i), **hostile},
    st.integers(0, 500),
    st.lists(
        st.sampled_from(sorted(set(hostile_fields) - {"label"})), max_size=2, unique=True
    ).flatmap(lambda keys: st.fixed_dictionaries({k: hostile_fields[k] for k in keys})),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    mix=st.lists(
        st.tuples(plain_or_hostile, st.booleans()),
        min_size=1,
        max_size=40,
    ),
    task=st.sampled_from(list(MODELS)),
)
def test_any_mix_of_plain_and_hostile_records_is_read_the_same_as_record_by_record(
    mix: list[tuple[dict[str, Any], bool]], task: Task
) -> None:
    payloads = [([record] * 3 if batch else record, batch) for record, batch in mix]
    assert _same(_ingest(_entries(payloads), task, True), _ingest(_entries(payloads), task, False))
