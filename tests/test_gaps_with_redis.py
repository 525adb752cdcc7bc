"""A stream trimmed past the reader's position while it was cut off: the gap is counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import make_config, records, running, sample, value, write_reference, xadd_all

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
