"""One bad record must never blind the exporter: text, sizes and numbers at their extremes."""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Iterator

import fakeredis
import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import FeatureConfig, ModelConfig, ReferenceConfig, StreamsConfig
from exporter.daemon.pipeline import ModelPipeline
from exporter.decode.columns import FastPredictions
from exporter.decode.wire import Decoder, Reason
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.collector import SnapshotCollector
from exporter.expose.exposition import Exposition
from exporter.expose.live import LiveMetrics
from exporter.logs import setup_logging
from exporter.source.tail import Tail, read_tail, records_in
from exporter.stats.kinds import FeatureType, Task
from exporter.window.vocab import MAX_VALUE_CHARS, OTHER

NOW = time.time()


def model(task: Task = Task.MULTICLASS) -> ModelConfig:
    return ModelConfig(
        name="m",
        task=task,
        features=(
            FeatureConfig(name="x", type=FeatureType.NUMERIC),
            FeatureConfig(name="c", type=FeatureType.CATEGORICAL),
        ),
        streams=StreamsConfig(predictions="mlmon:{m}:predictions", labels="mlmon:{m}:labels"),
        reference=ReferenceConfig(redis_key="mlmon:{m}:reference"),
    )


def entry(payload: bytes, seq: int = 0) -> tuple[bytes, dict[bytes, bytes]]:
    return f"{int(NOW * 1000)}-{seq}".encode(), {b"data": payload}


RECORD = '{"features": {"x": 1.0, "c": %s}, "prediction": %s, "version": %s}'


@pytest.mark.parametrize("where", ["version", "class", "category"])
def test_a_lone_surrogate_anywhere_is_rejected_as_invalid_unicode(where: str) -> None:
    bad = '"v\\ud800"'
    text = RECORD % (
        bad if where == "category" else '"a"',
        bad if where == "class" else '"1"',
        bad if where == "version" else '"v1"',
    )
    decoded = Decoder(model()).predictions(*entry(text.encode()))
    assert decoded.records == [] and decoded.rejected == [Reason.INVALID_UNICODE]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"features": {"x": NaN, "c": "a"}, "prediction": "1"}', Reason.NON_FINITE),
        ('{"features": {"x": 1e999, "c": "a"}, "prediction": "1"}', Reason.NON_FINITE),
        (
            '{"features": {"x": 1.0, "c": "a"}, "prediction": "1", "latency_ms": NaN}',
            Reason.NON_FINITE,
        ),
        ('{"features": {"x": 1.0, "c": "\\udc00"}, "prediction": "1"}', Reason.INVALID_UNICODE),
    ],
)
def test_a_record_python_json_cannot_write_rejects_itself_not_its_batch(
    bad: str, reason: Reason
) -> None:
    """json.dumps writes a pandas NaN as NaN: the whole batch was one non_finite rejection."""
    good = '{"features": {"x": 1.0, "c": "a"}, "prediction": "1"}'
    batch = f"[{good}, {good}, {bad}, {good}]".encode()
    ts = f"{int(NOW * 1000)}-0".encode()
    decoded = Decoder(model()).predictions(ts, {b"batch": batch})
    assert (len(decoded.records), decoded.rejected) == (3, [reason])


def test_an_entry_with_both_a_data_and_a_batch_field_is_rejected_and_counted() -> None:
    """Which field the producer meant is a guess: `data` won and the batch went uncounted."""
    good = b'{"features": {"x": 1.0, "c": "a"}, "prediction": "1"}'
    both = {b"data": good, b"batch": b"[" + b",".join([good] * 4) + b"]"}
    entries = [entry(good, 0), (f"{int(NOW * 1000)}-1".encode(), both), entry(good, 2)]
    live = CollectorRegistry()
    pipeline = ModelPipeline(model(), LiveMetrics(live, [model()]), SnapshotStore())
    pipeline.ingest_predictions(entries)
    assert len(pipeline.window) == 2
    labels = {"model": "m", "reason": "data_and_batch"}
    assert live.get_sample_value("mlmon_records_invalid_total", labels) == 1
    decoded = Decoder(model()).predictions(*entries[1])
    assert decoded.records == [] and decoded.rejected == [Reason.DATA_AND_BATCH]


def test_scores_keyed_as_json_dumps_writes_float_classes_match_their_prediction() -> None:
    """json.dumps({1.0: p}) keys scores "1.0" while the prediction 1.0 is the class "1": the
    real classes' score columns were 0 (multiclass roc_auc 0.5, log loss 36) or absent."""
    records = [
        {"features": {"x": 1.0, "c": "a"}, "prediction": 1.0, "scores": {"0.0": 0.3, "1.0": 0.7}},
        {"features": {"x": 1.0, "c": "a"}, "prediction": "1.0", "scores": {"1.0": 0.6, "2": 0.4}},
    ]
    ts = f"{int(NOW * 1000)}-0".encode()
    entries = [(ts, {b"batch": orjson.dumps(records)})]
    decoded = Decoder(model()).predictions(*entries[0])
    by_record = [r.scores for r in decoded.records]
    ((_, columns),) = FastPredictions(model()).groups(entries)
    assert columns is not None
    assert by_record == columns.scores == [{"0": 0.3, "1": 0.7}, {"1.0": 0.6, "2": 0.4}]


def _exposition(live: CollectorRegistry, metrics: LiveMetrics) -> Exposition:
    collector = SnapshotCollector(SnapshotStore(), [model()], lambda: True)
    return Exposition(live, collector, metrics.render_failures)


def test_a_label_value_that_cannot_be_encoded_is_repaired_not_fatal() -> None:
    live = CollectorRegistry()
    metrics = LiveMetrics(live, [model()])
    metrics.predictions.labels("m", "v\ud800").inc()
    exposition = _exposition(live, metrics)
    for accept in ("", "application/openmetrics-text; version=1.0.0"):
        body, _ = exposition.render(accept)
        assert 'version="v\ufffd"' in body.decode("utf-8")
    assert exposition.healthy


def test_a_failing_render_serves_the_last_good_body_and_is_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = CollectorRegistry()
    metrics = LiveMetrics(live, [model()])
    exposition = _exposition(live, metrics)
    good, _ = exposition.render("")

    def broken() -> Iterator[object]:
        raise RuntimeError("a collector bug")

    openmetrics, _ = exposition.render("application/openmetrics-text")
    monkeypatch.setattr(live, "collect", broken)
    for failures in (1, 2):  # the alert on the counter fires while rendering still fails
        body, content_type = exposition.render("")
        shown = b"mlmon_exposition_failures_total %d.0" % failures
        assert shown in body and content_type.startswith("text/plain")
        assert body.replace(shown, b"mlmon_exposition_failures_total 0.0") == good
    assert not exposition.healthy
    body, _ = exposition.render("application/openmetrics-text")
    assert b"mlmon_exposition_failures_total 3.0" in body and body.count(b"# EOF") == 1
    assert len(body) == len(openmetrics) and body.endswith(b"# EOF\n")
    monkeypatch.undo()
    again, _ = exposition.render("")
    assert b"mlmon_exposition_failures_total 3.0" in again and exposition.healthy


def test_long_versions_categories_and_classes_fold_into_other_and_are_counted() -> None:
    registry = CollectorRegistry()
    m = model()
    pipeline = ModelPipeline(m, LiveMetrics(registry, [m]), SnapshotStore())
    huge = "v" * (MAX_VALUE_CHARS + 1)
    pipeline.ingest_predictions(
        [
            entry(
                orjson.dumps(
                    {"features": {"x": 1.0, "c": huge}, "prediction": huge, "version": huge}
                ),
                i,
            )
            for i in range(20)
        ]
    )
    assert (
        registry.get_sample_value("mlmon_predictions_total", {"model": "m", "version": OTHER}) == 20
    )
    for kind in ("version", "category", "class"):
        assert (
            registry.get_sample_value("mlmon_series_limited_total", {"model": "m", "kind": kind})
            == 20
        ), kind
    assert pipeline.window.vocabularies["c"].values == (OTHER,)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"scores": {str(i): 0.0 for i in range(5000)}}, Reason.TOO_MANY_SCORES),
        ({"sample_rate": 5e-324}, Reason.BAD_SAMPLE_RATE),
        ({"id": "x" * 1000}, Reason.BAD_ID),
        ({"latency_ms": 1e300}, Reason.BAD_LATENCY),
    ],
)
def test_records_that_would_hold_memory_or_break_sums_are_rejected(
    record: dict[str, object], reason: Reason
) -> None:
    payload = orjson.dumps({"features": {"x": 1.0}, "prediction": "1", **record})
    assert Decoder(model()).predictions(*entry(payload)).rejected == [reason]


def test_numpy_warnings_reach_the_log_as_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("json", "info")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            np.log(np.zeros(1))
    finally:
        logging.captureWarnings(False)
        root.handlers[:] = handlers  # other tests see logging as it was
        root.setLevel(level)
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert lines and all(json.loads(line)["level"] == "warning" for line in lines)
    assert "divide by zero" in lines[0]


def test_a_rebuild_reads_whole_entries_until_the_window_is_full_not_every_entry() -> None:
    client = fakeredis.FakeRedis()
    batch = orjson.dumps([{"features": {"x": 1.0}, "prediction": 1}] * 5000)
    for _ in range(200):
        client.xadd("s", {"batch": batch})
    client.xadd("s", {"data": b"x" * 600_000})  # over max_entry_bytes: not replayed
    tail = read_tail(client, b"s", 0, b"+", 10_000, 512 * 1024)
    assert len(tail.entries) == 2 and tail.records == 10_000
    assert tail.oversized == 1 and tail.full
    newest = client.xrevrange("s", count=1)[0][0]
    assert tail.newest == newest
    assert records_in({b"batch": b"not json"}) == 1


def test_a_rebuild_hands_its_replay_on_in_runs_of_about_ten_thousand_records() -> None:
    """A replay back to the label horizon may hold max_pending records: decoded at once,
    their objects alone would take hundreds of megabytes."""
    entries = [(b"%d-0" % i, {b"batch": b"[]"}) for i in range(100)]
    tail = Tail(entries, None, records=100 * 5000, oversized=0, full=True)  # 5,000 a batch
    runs = list(tail.parts())
    assert [len(r) for r in runs] == [2] * 50 and [e for r in runs for e in r] == entries


def test_a_rebuild_replays_an_entry_whose_other_fields_are_large_as_reading_it_live_does() -> None:
    """Its data is what the decoder reads and checks against max_entry_bytes; a rebuild that
    summed every field dropped such entries from the window a restart rebuilt."""
    client = fakeredis.FakeRedis()
    record = orjson.dumps({"features": {"x": 1.0, "c": "a"}, "prediction": "1"})
    client.xadd("s", {"data": record, "trace": b"t" * 70_000})
    tail = read_tail(client, b"s", 0, b"+", 10_000, 64 * 1024)
    assert (len(tail.entries), tail.oversized) == (1, 0)
    decoded = Decoder(model()).predictions(*tail.entries[0])  # type: ignore[arg-type]
    assert len(decoded.records) == 1
