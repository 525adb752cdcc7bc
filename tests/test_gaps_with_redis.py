"""A stream trimmed past the reader's position while it was cut off: the gap is counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import make_config, records, running, sample, value, write_reference, xadd_all
from tests.test_reads_with_redis import read_until_caught_up, reader_for

STREAM = "mlmon:{m}:predictions"
READ = "mlmon_records_read_total"


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
