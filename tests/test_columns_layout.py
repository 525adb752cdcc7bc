"""A `columns` entry is read as the batch of its records, quickly when it is plain."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from exporter.daemon.pipeline import ModelPipeline
from exporter.decode.columns import FastPredictions
from exporter.decode.wire import Decoder
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.source.tail import records_in
from exporter.stats.kinds import Task
from tests.test_fuzz_pipeline import MODELS
from tests.test_ingest_columns import _ingest, _plain, _same, plain_or_hostile

Entry = tuple[bytes, dict[bytes, bytes]]
NOW = time.time()
ENTRY_ID = f"{int(NOW * 1000)}-0".encode()
KEYS = ("id", "ts", "version", "features", "prediction", "scores", "latency_ms", "status")


def columns(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Records as one `columns` object; a key a record lacks is null in its array."""
    keys = sorted({k for r in records for k in r if k != "features"})
    out: dict[str, Any] = {k: [r.get(k) for r in records] for k in keys}
    tags = out.get("tags", [])
    if tags and all(isinstance(t, dict | None) for t in tags):
        names = sorted({k for t in tags if t for k in t})
        out["tags"] = {k: [t.get(k) if t else None for t in tags] for k in names}
    features = [r.get("features") for r in records]
    if all(isinstance(f, dict) for f in features):
        names = sorted({k for f in features for k in f})
        out["features"] = {k: [f.get(k) for f in features] for k in names}
    elif any(f is not None for f in features):
        out["features"] = features  # not an object of arrays: the entry is unusable
    return out


def _entries(bodies: list[tuple[bytes, bytes]]) -> list[Entry]:
    millis = int(NOW * 1000)
    return [(f"{millis}-{seq}".encode(), {f: b}) for seq, (f, b) in enumerate(bodies)]


def _columns_entries(groups: list[list[dict[str, Any]]]) -> list[Entry]:
    return _entries([(b"columns", json.dumps(columns(g)).encode()) for g in groups])


def _batch_entries(groups: list[list[dict[str, Any]]]) -> list[Entry]:
    return _entries([(b"batch", json.dumps(g).encode()) for g in groups])


def _counted(task: Task, entries: list[Entry]) -> dict[str, float]:
    registry = CollectorRegistry()
    model = MODELS[task]
    pipeline = ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore())
    pipeline.ingest_predictions(entries)
    return {
        s.labels.get("reason", s.name): s.value
        for family in registry.collect()
        for s in family.samples
        if s.name in ("mlmon_records_invalid_total", "mlmon_records_read_total")
    }


def test_a_plain_columns_entry_is_read_without_the_per_record_decoder() -> None:
    entries = _columns_entries([[_plain(i) for i in range(j, j + 100)] for j in (0, 100, 200)])
    groups = list(FastPredictions(MODELS[Task.BINARY]).groups(entries))
    assert [len(batch) for _, batch in groups] == [300]


def test_a_plain_columns_entry_with_tags_is_read_without_the_per_record_decoder() -> None:
    tagged = [{**_plain(i), "tags": {"region": "eu" if i % 2 else "us"}} for i in range(100)]
    entries = _columns_entries([tagged])
    groups = list(FastPredictions(MODELS[Task.BINARY]).groups(entries))
    assert [len(batch) for _, batch in groups] == [100]
    assert groups[0][1].tags[:2] == [{"region": "us"}, {"region": "eu"}]


def test_columns_entries_leave_the_same_window_join_and_counters_as_batches_of_rows() -> None:
    groups = [[_plain(i) for i in range(j, j + 40)] for j in range(0, 200, 40)]
    for task in MODELS:
        by_columns = _ingest(_columns_entries(groups), task, fast=True)
        assert len(by_columns["window"][0]) == 200
        assert _same(by_columns, _ingest(_batch_entries(groups), task, fast=True))


# Records that differ in the keys they have, so arrays carry nulls for the missing ones.
ragged = st.lists(
    plain_or_hostile.flatmap(
        lambda r: st.sets(st.sampled_from(KEYS)).map(
            lambda drop: {k: v for k, v in r.items() if k not in drop or k == "features"}
        )
    ),
    min_size=1,
    max_size=12,
)
MANY = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@MANY
@given(groups=st.lists(ragged, min_size=1, max_size=4), task=st.sampled_from(list(MODELS)))
def test_any_columns_entries_are_read_the_same_by_the_fast_path_and_record_by_record(
    groups: list[list[dict[str, Any]]], task: Task
) -> None:
    entries = _columns_entries(groups)
    assert _same(_ingest(entries, task, True), _ingest(entries, task, False))


def test_a_null_in_an_array_is_the_record_without_that_key() -> None:
    records = [_plain(i) for i in range(6)]
    body = columns(records)
    body["status"] = [None, "error", None, None, None, None]
    body["ts"][2] = None
    for record in records:
        record["status"] = "ok"
    records[1]["status"] = "error"
    del records[2]["ts"]
    fast = _ingest(_entries([(b"columns", json.dumps(body).encode())]), Task.BINARY, True)
    assert _same(fast, _ingest(_batch_entries([records]), Task.BINARY, True))


def test_arrays_of_different_lengths_reject_the_entry_once_as_a_bad_batch() -> None:
    body = columns([_plain(i) for i in range(5)])
    body["features"]["x"] = body["features"]["x"][:4]
    counted = _counted(Task.BINARY, _entries([(b"columns", json.dumps(body).encode())]))
    assert counted["bad_batch"] == 1
    assert counted["mlmon_records_read_total"] == 0


def test_a_columns_field_that_is_not_an_object_of_arrays_is_a_bad_batch() -> None:
    for body in ([_plain(0)], {"id": "a"}, {"features": [1, 2]}):
        got = Decoder(MODELS[Task.BINARY]).predictions(
            ENTRY_ID, {b"columns": json.dumps(body).encode()}
        )
        assert [str(r) for r in got.rejected] == ["bad_batch"], body


def test_a_nan_or_a_bad_value_in_one_element_rejects_only_its_record() -> None:
    body = columns([_plain(i) for i in range(4)])
    body["features"]["x"][1] = float("nan")  # json.dumps writes NaN, as pandas data gives
    body["latency_ms"][3] = -5
    got = Decoder(MODELS[Task.BINARY]).predictions(
        ENTRY_ID, {b"columns": json.dumps(body).encode()}
    )
    assert len(got.records) == 2
    assert sorted(str(r) for r in got.rejected) == ["bad_latency", "non_finite"]


def test_an_unknown_key_is_counted_for_each_record_that_has_it() -> None:
    body = {**columns([_plain(i) for i in range(3)]), "score": [0.1, None, 0.3]}
    got = Decoder(MODELS[Task.BINARY]).predictions(
        ENTRY_ID, {b"columns": json.dumps(body).encode()}
    )
    assert len(got.records) == 3
    assert got.unknown == [("score",), ("score",)]


def test_a_features_column_the_config_does_not_name_is_ignored_whatever_it_holds() -> None:
    body = columns([_plain(i) for i in range(3)])
    body["features"]["unmonitored"] = "not an array"
    got = Decoder(MODELS[Task.BINARY]).predictions(
        ENTRY_ID, {b"columns": json.dumps(body).encode()}
    )
    assert len(got.records) == 3 and not got.rejected


def test_an_entry_with_columns_and_another_record_field_is_rejected_once() -> None:
    body = json.dumps(columns([_plain(0)])).encode()
    for other in (b"data", b"batch"):
        fields = {b"columns": body, other: json.dumps(_plain(1)).encode()}
        got = Decoder(MODELS[Task.BINARY]).predictions(ENTRY_ID, fields)
        assert [str(r) for r in got.rejected] == ["data_and_batch"] and not got.records


def test_labels_may_come_as_columns_too() -> None:
    body = {"id": ["a", "b", None], "label": [1, 0, 1]}
    got = Decoder(MODELS[Task.BINARY]).labels(ENTRY_ID, {b"columns": json.dumps(body).encode()})
    assert [r.id for r in got.records] == ["a", "b"]
    assert [str(r) for r in got.rejected] == ["bad_id"]


def test_a_rebuild_counts_the_records_of_a_columns_entry() -> None:
    body = json.dumps(columns([_plain(i) for i in range(37)])).encode()
    assert records_in({b"columns": body}) == 37


def _without_nulls(record: dict[str, Any]) -> dict[str, Any]:
    """The record a columns entry makes of it: a null value is a key it lacks."""
    return {k: v for k, v in record.items() if v is not None}


@MANY
@given(groups=st.lists(ragged, min_size=1, max_size=3), task=st.sampled_from(list(MODELS)))
def test_any_columns_entries_are_read_as_the_batches_of_their_records(
    groups: list[list[dict[str, Any]]], task: Task
) -> None:
    rows = [[_without_nulls(r) for r in group] for group in groups]
    by_columns = _ingest(_columns_entries(groups), task, True)
    assert _same(by_columns, _ingest(_batch_entries(rows), task, True))


def test_an_unconfigured_feature_named_by_a_lone_surrogate_rejects_the_records_that_have_it() -> (
    None
):
    records = [_plain(0), {**_plain(1), "features": {**_plain(1)["features"], "\ud800": 1}}]
    for field, body in (
        (b"batch", json.dumps(records)),
        (b"columns", json.dumps(columns(records))),
    ):
        got = Decoder(MODELS[Task.BINARY]).predictions(ENTRY_ID, {field: body.encode()})
        assert len(got.records) == 1, field
        assert [str(r) for r in got.rejected] == ["invalid_unicode"], field


def test_a_null_features_object_is_each_record_without_features() -> None:
    body = {**columns([_plain(0), _plain(1)]), "features": None}
    got = Decoder(MODELS[Task.BINARY]).predictions(
        ENTRY_ID, {b"columns": json.dumps(body).encode()}
    )
    assert [str(r) for r in got.rejected] == ["missing_features"] * 2


def test_a_rebuild_counts_every_record_of_an_entry_holding_a_nan() -> None:
    records = [_plain(i) for i in range(40)]
    records[3]["latency_ms"] = float("nan")  # json.dumps writes NaN, orjson refuses it
    assert records_in({b"batch": json.dumps(records).encode()}) == 40
    assert records_in({b"columns": json.dumps(columns(records)).encode()}) == 40
