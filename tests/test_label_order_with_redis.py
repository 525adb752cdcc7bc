"""Behind on a model, the reader still joins every label: labels wait for their predictions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.source.connect import make_client
from exporter.source.order import LabelGate
from exporter.source.reader import StreamReader
from tests.conftest import RedisServer
from tests.helpers import make_config, sample, write_reference

PREDICTIONS, LABELS = b"mlmon:{m}:predictions", b"mlmon:{m}:labels"
RECORDS = 3_000


def _record(i: int) -> bytes:
    features = {"x1": 0.1, "x2": 5.0, "x3": 1.0, "c1": "a", "c2": "b"}
    return orjson.dumps({"id": f"p{i}", "features": features, "prediction": 5.0})


def test_a_backlog_of_predictions_and_their_labels_joins_every_label(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Before the gate, the first read took 16 entries of each stream: the labels' eight
    batch entries held all 3,000 labels, the predictions' 16 entries 16 predictions, and
    2,984 labels were counted unmatched for good."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    config = make_config(tmp_path, redis_server.url)
    cfg = config.redis.model_copy(update={"read_count": 1000})
    registry = CollectorRegistry()
    live = LiveMetrics(registry, config.models)
    pipeline = ModelPipeline(config.models[0], live, SnapshotStore())
    reader = StreamReader(make_client(cfg), [pipeline], cfg, live)
    reader.backfill()  # both streams empty: reading starts at their beginnings
    client = redis_server.client()
    pipe = client.pipeline(transaction=False)
    for i in range(RECORDS):
        pipe.xadd(PREDICTIONS, {b"data": _record(i)})
    for start in range(0, RECORDS, 375):  # every label added after every prediction
        labels = [{"id": f"p{i}", "label": 5.5} for i in range(start, start + 375)]
        pipe.xadd(LABELS, {b"batch": orjson.dumps(labels)})
    pipe.execute()

    for _ in range(20):  # a bounded number of reads, not a timed wait
        if reader.last_ids.get(LABELS) == client.xinfo_stream(LABELS)["last-generated-id"]:
            break
        reader.read_once()

    got = {"model": "m"}
    assert registry.get_sample_value("mlmon_labels_total", got) == RECORDS
    assert registry.get_sample_value("mlmon_labels_unmatched_total", got) == 0


def test_a_labels_page_stops_before_the_millisecond_of_the_newest_prediction_read() -> None:
    gate = LabelGate({LABELS: PREDICTIONS})
    labels = [(b"%d-0" % ms, {}) for ms in (5, 9, 10, 10, 11)]
    gate.saw([(PREDICTIONS, [(b"10-3", {})] * 2)], count=2, read=[PREDICTIONS, LABELS])
    assert gate.joinable(LABELS, labels, {PREDICTIONS: b"10-3"}) == labels[:2]  # type: ignore
    gate.saw([], count=2, read=[PREDICTIONS, LABELS])  # predictions caught up: all may join
    assert gate.joinable(LABELS, labels, {PREDICTIONS: b"10-3"}) == labels  # type: ignore
    ordered = gate.ordered([(LABELS, []), (PREDICTIONS, [])])
    assert [key for key, _ in ordered] == [PREDICTIONS, LABELS]


def test_a_restart_remembers_predictions_older_than_the_window_that_wait_for_labels(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The rebuild replayed the window's span only: a label arriving after a restart for a
    prediction a minute old (window 10 s, horizon 1 h) counted as unmatched."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    base = make_config(tmp_path, redis_server.url)
    model = base.models[0].model_copy(
        update={
            "window": base.models[0].window.model_copy(update={"duration_seconds": 10.0}),
            "labels": base.models[0].labels.model_copy(update={"horizon_seconds": 3600.0}),
        }
    )
    now = time.time()
    client = redis_server.client()
    old = orjson.loads(_record(0)) | {"ts": now - 60}
    client.xadd(PREDICTIONS, {b"data": orjson.dumps(old)}, id=f"{int((now - 60) * 1000)}-0")
    registry = CollectorRegistry()
    live = LiveMetrics(registry, [model])
    pipeline = ModelPipeline(model, live, SnapshotStore(), lambda: now)
    reader = StreamReader(make_client(base.redis), [pipeline], base.redis, live, lambda: now)
    reader.backfill()  # a fresh process: the windows rebuilt from the streams
    pipeline.ingest_labels(
        [(f"{int(now * 1000)}-0".encode(), {b"data": b'{"id": "p0", "label": 5.5}'})]
    )
    assert registry.get_sample_value("mlmon_labels_unmatched_total", {"model": "m"}) == 0


def _reader(redis_server: RedisServer, tmp_path: Path) -> tuple[StreamReader, ModelPipeline, Any]:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    config = make_config(tmp_path, redis_server.url)
    registry = CollectorRegistry()
    live = LiveMetrics(registry, config.models)
    pipeline = ModelPipeline(config.models[0], live, SnapshotStore())
    return (
        StreamReader(make_client(config.redis), [pipeline], config.redis, live),
        pipeline,
        registry,
    )


def _pair(client: Any, i: int) -> None:
    """A prediction, then its label, as a model server and its labeller add them."""
    client.xadd(PREDICTIONS, {b"data": _record(i)})
    client.xadd(LABELS, {b"data": orjson.dumps({"id": f"p{i}", "label": 5.5})})


def test_a_label_read_by_the_stream_check_before_its_prediction_waits_for_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The check reads each stream in its own round trip: a prediction and its label added
    between the two reads gave the label first, and it was counted unmatched for good."""
    reader, _, registry = _reader(redis_server, tmp_path)
    reader.backfill()
    client = redis_server.client()
    probe = reader._probe

    def racing(key: bytes) -> Any:
        got = probe(key)
        if key == PREDICTIONS:  # added after the predictions were read, before the labels
            _pair(client, 1)
        return got

    reader._probe = racing  # type: ignore[method-assign]
    reader.check_streams()
    reader.read_once()  # one XREAD of both streams at once
    got = {"model": "m"}
    assert registry.get_sample_value("mlmon_labels_total", got) == 1
    assert registry.get_sample_value("mlmon_labels_unmatched_total", got) == 0


def test_a_restart_rebuild_leaves_labels_newer_than_its_predictions_to_the_live_reads(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The labels tail was replayed up to its end after the predictions tail: a label added
    in between, for a prediction the predictions tail missed, was dropped uncounted, and its
    prediction then waited for a label until the horizon."""
    client = redis_server.client()
    for i in range(20):
        _pair(client, i)
    newest = int(client.xinfo_stream(LABELS)["last-generated-id"].split(b"-")[0])
    while time.time() * 1000 < newest + 2:  # the next pair in a later millisecond
        time.sleep(0.0005)
    reader, pipeline, registry = _reader(redis_server, tmp_path)
    rebuild = reader._rebuild

    def racing(key: bytes, *args: Any) -> None:
        rebuild(key, *args)
        if key == PREDICTIONS:  # added after the predictions were replayed
            _pair(client, 20)

    reader._rebuild = racing  # type: ignore[method-assign]
    reader.backfill()
    reader.read_once()
    assert registry.get_sample_value("mlmon_labels_unmatched_total", {"model": "m"}) == 0
    assert len(pipeline.join.pairs(time.time())) == 21  # every prediction joined its label


def test_labels_added_after_the_last_prediction_but_before_a_restart_are_replayed(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Bounding the labels replay by the newest prediction's ID read labels added after the
    last prediction (traffic stopped, labels still arriving) live: the new process counted
    what the old one had counted already."""
    client = redis_server.client()
    for i in range(20):
        client.xadd(PREDICTIONS, {b"data": _record(i)})
    newest = int(client.xinfo_stream(PREDICTIONS)["last-generated-id"].split(b"-")[0])
    while time.time() * 1000 < newest + 2:  # the labels in a later millisecond
        time.sleep(0.0005)
    for i in range(20):
        client.xadd(LABELS, {b"data": orjson.dumps({"id": f"p{i}", "label": 5.5})})
    reader, pipeline, registry = _reader(redis_server, tmp_path)
    reader.backfill()
    reader.check_streams()
    assert registry.get_sample_value("mlmon_labels_total", {"model": "m"}) == 0  # replayed
    assert len(pipeline.join.pairs(time.time())) == 20


def test_labels_older_than_the_replay_are_not_read_again_after_a_restart(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """With nothing to replay, the labels cursor was left at the replay's bound, above the
    stream's last ID: the stream check took that for another stream and read all 50 labels,
    days old, again, counted unmatched."""
    client = redis_server.client()
    old = int((time.time() - 3 * 86_400) * 1000)
    for i in range(50):
        label = orjson.dumps({"id": f"p{i}", "label": 5.5})
        client.xadd(LABELS, {b"data": label}, id=f"{old + i}-0")
    client.xadd(PREDICTIONS, {b"data": _record(0)})
    reader, _, registry = _reader(redis_server, tmp_path)
    reader.backfill()
    reader.check_streams()
    reader.read_once()
    assert registry.get_sample_value("mlmon_labels_total", {"model": "m"}) == 0
    assert reader.last_ids[LABELS] == f"{old + 49}-0".encode()


def _restarted_pairs(
    redis_server: RedisServer,
    tmp_path: Path,
    window: float,
    horizon: float,
    made: float,
    written_at_start: bool = False,
) -> int:
    """Labelled pairs a fresh process rebuilds from a prediction made `made` seconds ago and
    its label 50 s later, within the horizon (a pair counts while its label is in the window);
    written_at_start: another prediction is added as the process starts, and is counted."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    base = make_config(tmp_path, redis_server.url)
    model = base.models[0].model_copy(
        update={
            "window": base.models[0].window.model_copy(update={"duration_seconds": window}),
            "labels": base.models[0].labels.model_copy(update={"horizon_seconds": horizon}),
        }
    )
    now = time.time()
    client = redis_server.client()
    prediction = orjson.loads(_record(0)) | {"ts": now - made}
    client.xadd(
        PREDICTIONS, {b"data": orjson.dumps(prediction)}, id=f"{int((now - made) * 1000)}-0"
    )
    label = orjson.dumps({"id": "p0", "label": 5.5, "ts": now - made + 50})
    client.xadd(LABELS, {b"data": label}, id=f"{int((now - made + 50) * 1000)}-0")
    registry = CollectorRegistry()
    live = LiveMetrics(registry, [model])
    pipeline = ModelPipeline(model, live, SnapshotStore(), lambda: now)
    reader = StreamReader(make_client(base.redis), [pipeline], base.redis, live, lambda: now)
    if written_at_start:  # as a live producer does while the new process fits its references
        fresh = orjson.loads(_record(1)) | {"ts": now}
        client.xadd(PREDICTIONS, {b"data": orjson.dumps(fresh)}, id=f"{int(now * 1000) + 1}-0")
    reader.backfill()  # a fresh process: the windows rebuilt from the streams
    read = registry.get_sample_value(
        "mlmon_records_read_total", {"model": "m", "kind": "predictions"}
    )
    assert read == (1 if written_at_start else 0), "the prediction added at start-up, once"
    return len(pipeline.join.pairs(now))


def test_a_restart_keeps_a_pair_whose_prediction_is_older_than_the_horizon(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Window 1 h, horizon 60 s, a label 50 s after its prediction 10 minutes ago: the replay
    expired the prediction by the clock before its label was replayed, and the restarted
    process lost the pair (accuracy, coverage gone, MLMonLabelsMissing firing)."""
    assert _restarted_pairs(redis_server, tmp_path, window=3600, horizon=60, made=600) == 1


def test_a_restart_replays_predictions_a_horizon_before_the_window_for_its_labels(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Window 40 s, horizon 60 s, a prediction 70 s ago labelled 50 s later: the replay reached
    back max(window, horizon), so the prediction of a label inside the window was not read."""
    assert _restarted_pairs(redis_server, tmp_path, window=40, horizon=60, made=70) == 1


def test_a_prediction_written_during_start_up_does_not_cost_the_replayed_pairs_past_the_horizon(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Window 1 h, horizon 60 s, a pair made 10 minutes ago, and one prediction added as the
    new process starts: counted in the middle of the replay, before the labels were replayed,
    that prediction expired the replayed ones by the clock (850 pairs: coverage 1.0 to 0)."""
    pairs = _restarted_pairs(
        redis_server, tmp_path, window=3600, horizon=60, made=600, written_at_start=True
    )
    assert pairs == 1
