"""A stream trimmed past the reader's position while it was cut off: the gap is counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.source.connect import make_client
from exporter.source.reader import StreamReader
from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import make_config, records, running, sample, value, write_reference, xadd_all
from tests.test_reads_with_redis import read_until_caught_up, reader_for

STREAM = "mlmon:{m}:predictions"
PREDICTIONS, LABELS = STREAM.encode(), b"mlmon:{m}:labels"
READ = "mlmon_records_read_total"
SKIPPED = "mlmon_records_skipped_total"


def test_entries_trimmed_while_disconnected_are_counted_as_skipped_and_reading_moves_on(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(9)
    write_reference(tmp_path / "ref.csv", sample(rng, 1000))
    config = make_config(tmp_path, redis_server.url)
    with running(config) as daemon:
        xadd_all(redis_server.client(), STREAM, records(sample(rng, 100)))
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 100,
            what="the first 100 records read",
        )
        redis_server.shutdown_saving()
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 0, what="the outage noticed")

        # While the exporter cannot reach it, the same data set is served elsewhere and trimmed.
        aside = RedisServer(free_port(), redis_server.workdir)
        aside.start()
        xadd_all(aside.client(), STREAM, records(sample(rng, 500), start=100))
        aside.client().xtrim(STREAM, maxlen=10, approximate=False)
        aside.shutdown_saving()

        redis_server.start()
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 110,
            what="the 10 entries still in the stream read",
        )
        wait_for(
            lambda: (
                value(daemon, "mlmon_records_skipped_total", model="m", kind="predictions") == 490
            ),
            what="490 trimmed entries counted",
        )
        xadd_all(redis_server.client(), STREAM, records(sample(rng, 5), start=600))
        settles_at(
            lambda: value(daemon, READ, model="m", kind="predictions"),
            115,
            what="records read, going on after the gap",
        )
        assert value(daemon, "mlmon_records_skipped_total", model="m", kind="predictions") == 490


def test_entries_trimmed_from_a_stream_redis_lost_and_recreated_while_cut_off_are_counted(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Redis restarted empty, and the producers' new stream was trimmed before the exporter
    reconnected: the new stream has fewer entries added than the old one had, and its
    trimmed entries were taken for nothing lost (0 counted for 190)."""
    rng = np.random.default_rng(10)
    write_reference(tmp_path / "ref.csv", sample(rng, 1000))
    config = make_config(tmp_path, redis_server.url)
    with running(config) as daemon:
        xadd_all(redis_server.client(), STREAM, records(sample(rng, 300)))
        wait_for(lambda: value(daemon, READ, model="m", kind="predictions") == 300)
        redis_server.stop()  # without saving: its data is gone
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 0, what="the outage noticed")

        fresh = RedisServer(free_port(), redis_server.workdir)  # what it restarts with
        fresh.start()
        xadd_all(fresh.client(), STREAM, records(sample(rng, 200), start=300))
        fresh.client().xtrim(STREAM, maxlen=10, approximate=False)
        fresh.shutdown_saving()

        redis_server.start()
        wait_for(lambda: value(daemon, READ, model="m", kind="predictions") == 310)
        skipped = "mlmon_records_skipped_total"
        wait_for(
            lambda: value(daemon, skipped, model="m", kind="predictions") == 190,
            what="190 trimmed entries counted",
        )


def test_a_trim_past_the_reader_is_counted_at_the_next_check_though_entries_keep_coming(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The check's own read moved the cursor into what was left, so the count waited for a
    moment the reader had caught up (2 min under steady traffic in a review), and meanwhile
    the unread count exceeded the stream's length."""
    reader, recorder, backlog = reader_for(redis_server, tmp_path, read_count=7, entries=50)
    read_until_caught_up(reader, recorder, len(backlog))
    client = redis_server.client()
    for i in range(1000):
        client.xadd(STREAM, {"data": b'{"id": "n%d"}' % i})
    client.xtrim(STREAM, maxlen=100, approximate=False)

    reader.check_streams()  # reads a page of what is left, still behind

    assert recorder.skipped == 900
    (family,) = reader._live.lag_entries.collect()
    (unread,) = (s.value for s in family.samples if s.labels["kind"] == "predictions")
    assert unread == 100 - (len(recorder.got) - len(backlog))


def _labelled(redis_server: RedisServer, tmp_path: Path) -> tuple[StreamReader, CollectorRegistry]:
    """A reader over model m's predictions and labels, and the registry it counts in."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(1), 300))
    config = make_config(tmp_path, redis_server.url)
    registry = CollectorRegistry()
    live = LiveMetrics(registry, config.models)
    pipeline = ModelPipeline(config.models[0], live, SnapshotStore())
    return StreamReader(make_client(config.redis), [pipeline], config.redis, live), registry


def _pair(client: Any, i: int) -> None:
    """A prediction, then its label, as a model server and its labeller add them."""
    features = {"x1": 0.1, "x2": 5.0, "x3": 1.0, "c1": "a", "c2": "b"}
    prediction = {"id": f"p{i}", "features": features, "prediction": 5.0}
    client.xadd(STREAM, {b"data": orjson.dumps(prediction)})
    client.xadd(LABELS, {b"data": orjson.dumps({"id": f"p{i}", "label": 5.5})})


def _restarted_during_a_pair(
    redis_server: RedisServer, tmp_path: Path
) -> tuple[StreamReader, CollectorRegistry, Any]:
    """20 pairs, then a reader's start-up whose labels replay misses a pair added after its
    predictions were replayed: the label is left to the live reads, credited at the baseline."""
    client = redis_server.client()
    for i in range(20):
        _pair(client, i)
    reader, registry = _labelled(redis_server, tmp_path)
    rebuild = reader._rebuild

    def racing(key: bytes, *args: Any) -> None:
        rebuild(key, *args)
        if key == PREDICTIONS:  # added after the predictions were replayed
            _pair(client, 20)

    reader._rebuild = racing  # type: ignore[method-assign]
    reader.backfill()
    reader.check_streams()  # the new label waits for the prediction this check reads
    return reader, registry, client


def _skipped(registry: CollectorRegistry, kind: str) -> float | None:
    return registry.get_sample_value(SKIPPED, {"model": "m", "kind": kind})


def test_labels_added_while_a_restart_replays_its_predictions_are_not_counted_as_trimmed(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The labels replay stops where the predictions replay began; a label added since was
    credited at the start-up baseline and again when read. Once the labels paused and the
    reader caught up, the stream looked recreated and 20 of its 21 labels counted trimmed."""
    reader, registry, client = _restarted_during_a_pair(redis_server, tmp_path)
    reader.read_once()  # the label is read here
    reader.check_streams()  # caught up: every label read, none trimmed
    assert (_skipped(registry, "predictions"), _skipped(registry, "labels")) == (0, 0)
    assert reader.last_ids[LABELS] == client.xinfo_stream(LABELS)["last-generated-id"]


def test_a_trim_past_the_labels_cursor_after_such_a_restart_counts_exactly_the_trimmed(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    reader, registry, client = _restarted_during_a_pair(redis_server, tmp_path)
    for i in range(21, 51):
        _pair(client, i)
    client.xtrim(LABELS, maxlen=10, approximate=False)  # labels 21 to 40, never read

    reader.check_streams()

    assert (_skipped(registry, "predictions"), _skipped(registry, "labels")) == (0, 20)


def test_a_reader_count_one_over_entries_added_is_not_taken_for_a_recreated_stream(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Whatever credits an entry twice, Redis's own counts say the stream is the same one:
    taking it for recreated counted 29 of its 35 entries trimmed, though all were read."""
    reader, recorder, backlog = reader_for(redis_server, tmp_path, read_count=1000, entries=30)
    read_until_caught_up(reader, recorder, len(backlog))
    reader.check_streams()
    reader._gaps._accounted[PREDICTIONS] += 1  # one entry credited twice
    for i in range(5):
        redis_server.client().xadd(STREAM, {"data": b'{"id": "n%d"}' % i})
    read_until_caught_up(reader, recorder, len(backlog) + 5)

    reader.check_streams()

    assert recorder.skipped == 0
    assert reader._gaps.counts()[PREDICTIONS] == 35


def test_a_stream_deleted_and_recreated_while_connected_counts_its_trimmed_entries(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    reader, recorder, backlog = reader_for(redis_server, tmp_path, read_count=1000, entries=30)
    read_until_caught_up(reader, recorder, len(backlog))
    reader.check_streams()
    client = redis_server.client()
    client.delete(STREAM)
    for i in range(25):  # fewer than the old stream had: told from it (docs/operations.md)
        client.xadd(STREAM, {"data": b'{"id": "n%d"}' % i})
    client.xtrim(STREAM, maxlen=10, approximate=False)

    reader.check_streams()

    assert recorder.skipped == 15
    assert [fields[b"data"] for _, fields in recorder.got[len(backlog) :]] == [
        b'{"id": "n%d"}' % i for i in range(15, 25)
    ]
