"""The daemon under a Redis outage and under hostile entries, with a real redis-server."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import RedisServer, settles_at, wait_for
from tests.helpers import (
    make_config,
    records,
    running,
    sample,
    scrape,
    value,
    write_reference,
    xadd_all,
)

READ = "mlmon_records_read_total"


def test_redis_outage_keeps_serving_and_resumes_without_losing_or_doubling_records(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    write_reference(tmp_path / "ref.csv", sample(rng, 2000))
    config = make_config(tmp_path, redis_server.url)
    stream = "mlmon:{m}:predictions"
    with running(config) as daemon:
        xadd_all(redis_server.client(), stream, records(sample(rng, 700)))
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 700,
            what="first 700 records read",
        )
        # An evaluation has published the window before the outage, so the outage can be
        # seen not to take it away (reading 700 records can outrun the first evaluation).
        wait_for(
            lambda: value(daemon, "mlmon_window_samples", model="m") is not None,
            what="an evaluation before the outage",
        )
        redis_server.stop()
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 0, what="redis_up to drop to 0")
        body = scrape(daemon)
        assert "mlmon_redis_up 0.0" in body
        assert 'mlmon_window_samples{model="m"}' in body
        redis_server.start()
        xadd_all(redis_server.client(), stream, records(sample(rng, 300), start=700))
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 1, what="redis_up back to 1")
        settles_at(
            lambda: value(daemon, READ, model="m", kind="predictions"), 1000, what="records read"
        )
        settles_at(
            lambda: value(daemon, "mlmon_window_samples", model="m"),
            1000,
            what="records in the evaluated window",
        )


def _malformed() -> list[tuple[str, bytes, str]]:
    """(field, payload, expected reason) for 1,000 broken entries of many kinds."""
    good: dict[str, Any] = {
        "id": "z",
        "features": {"x1": 1.0, "x2": 5.0, "x3": 1.0, "c1": "a", "c2": "x"},
        "prediction": 1.0,
    }
    kinds = [
        ("data", b"{not json", "invalid_json"),
        ("data", b"[1, 2, 3]", "not_an_object"),
        (
            "data",
            orjson.dumps({**good, "features": {**good["features"], "x1": "abc"}}),
            "bad_feature_value",
        ),
        ("data", orjson.dumps({**good, "prediction": {"nested": 1}}), "bad_prediction"),
        (
            "data",
            orjson.dumps({k: v for k, v in good.items() if k != "features"}),
            "missing_features",
        ),
        ("data", b'{"id": "n", "features": {"x1": NaN}, "prediction": 1}', "non_finite"),
        ("data", b'{"id": "i", "features": {"x1": 1}, "prediction": Infinity}', "non_finite"),
        ("data", b'{"features": {"x1": 1e999}, "prediction": 1}', "non_finite"),
        ("data", orjson.dumps({**good, "latency_ms": -5}), "bad_latency"),
        ("nodata", b"{}", "no_data_field"),
        ("data+batch", orjson.dumps(good), "data_and_batch"),
    ]
    out = [kinds[i % len(kinds)] for i in range(995)]
    big = b'{"features": {"pad": "' + b"x" * 1_000_000 + b'"}}'
    out += [("data", big, "too_large")] * 5
    return out


def test_malformed_entries_are_counted_by_reason_and_valid_ones_all_arrive(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    write_reference(tmp_path / "ref.csv", sample(rng, 2000))
    config = make_config(tmp_path, redis_server.url)
    bad = _malformed()
    good = records(sample(rng, 1000))
    storm = [
        orjson.dumps({"features": {"x1": 0.1, "c1": f"storm-{i}"}, "prediction": 0.0})
        for i in range(100_000)
    ]
    with running(config) as daemon:
        client = redis_server.client()
        stream = "mlmon:{m}:predictions"
        pipe = client.pipeline(transaction=False)
        for (field, payload, _), ok in zip(bad, good, strict=True):
            both = {"data": payload, "batch": b"[" + payload + b"]"}
            pipe.xadd(stream, both if field == "data+batch" else {field: payload})
            pipe.xadd(stream, {"data": ok})
        pipe.execute()
        xadd_all(client, stream, storm)
        expected: dict[str, int] = {}
        for _, _, reason in bad:
            expected[reason] = expected.get(reason, 0) + 1
        settles_at(
            lambda: value(daemon, READ, model="m", kind="predictions"),
            101_000,
            timeout=120,
            what="valid records read",
        )
        for reason, count in expected.items():
            assert value(daemon, "mlmon_records_invalid_total", model="m", reason=reason) == count
        wait_for(
            lambda: value(daemon, "mlmon_window_samples", model="m") == 10000,
            what="an evaluation of the full window",
        )
        assert daemon.reader.redis_up
        series = [line for line in scrape(daemon).splitlines() if line and line[0] != "#"]
        assert len(series) < 300
        vocab = daemon.pipelines[0].window.vocabularies["c1"]
        assert len(vocab) <= 4 + config.models[0].max_new_categories + 1
        unseen = value(daemon, "mlmon_feature_unseen_category_ratio", model="m", feature="c1")
        assert unseen is not None and unseen > 0.9
        folded = value(daemon, "mlmon_series_limited_total", model="m", kind="category")
        assert folded == 100_000 - config.models[0].max_new_categories


def _setup(tmp_path: Path, redis_server: RedisServer, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    write_reference(tmp_path / "ref.csv", sample(rng, 1000))
    return rng, make_config(tmp_path, redis_server.url)


def test_a_paused_redis_is_waited_out_and_reading_resumes_exactly(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng, config = _setup(tmp_path, redis_server, 31)
    stream = "mlmon:{m}:predictions"
    with running(config) as daemon:
        xadd_all(redis_server.client(), stream, records(sample(rng, 200)))
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 200,
            what="200 records read",
        )
        assert redis_server.process is not None
        redis_server.process.send_signal(signal.SIGSTOP)
        try:
            wait_for(
                lambda: value(daemon, "mlmon_redis_up") == 0,
                20,
                what="the stalled Redis noticed (socket timeout)",
            )
            assert "mlmon_redis_up 0.0" in scrape(daemon)
        finally:
            redis_server.process.send_signal(signal.SIGCONT)
        xadd_all(redis_server.client(), stream, records(sample(rng, 100), start=200))
        settles_at(
            lambda: value(daemon, READ, model="m", kind="predictions"), 300, what="records read"
        )
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 1, what="redis_up back to 1")


def test_redis_killed_and_back_after_30_seconds_loses_nothing_still_in_the_stream(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng, config = _setup(tmp_path, redis_server, 32)
    stream = "mlmon:{m}:predictions"
    with running(config) as daemon:
        xadd_all(redis_server.client(), stream, records(sample(rng, 300)))
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 300,
            what="300 records read",
        )
        assert redis_server.process is not None
        redis_server.process.kill()
        redis_server.process.wait(10)
        redis_server.process = None
        down_since = time.monotonic()
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 0, what="the outage noticed")
        wait_for(
            lambda: time.monotonic() - down_since >= 30 and scrape(daemon),
            40,
            0.5,
            "30 seconds of outage while still serving /metrics",
        )
        redis_server.start()
        xadd_all(redis_server.client(), stream, records(sample(rng, 200), start=300))
        settles_at(
            lambda: value(daemon, READ, model="m", kind="predictions"),
            500,
            what="records read, the 200 new ones after the backoff",
        )
        assert value(daemon, "mlmon_evaluation_failures_total", model="m") == 0


def test_redis_restarted_during_ingest_loses_and_doubles_nothing(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng, config = _setup(tmp_path, redis_server, 33)
    payloads = records(sample(rng, 3000))
    written = 0
    stop = threading.Event()

    def produce() -> None:
        nonlocal written
        while written < len(payloads) and not stop.is_set():
            try:
                # No hidden retry, and a batch cut by the shutdown may have landed in part:
                # go on from what the stream holds, so each record is written exactly once.
                client = redis.Redis(
                    port=redis_server.port,
                    protocol=2,
                    socket_timeout=2,
                    retry=Retry(NoBackoff(), 0),
                )
                written = int(client.xlen("mlmon:{m}:predictions"))
                pipe = client.pipeline(transaction=False)
                for p in payloads[written : written + 50]:
                    pipe.xadd("mlmon:{m}:predictions", {"data": p})
                pipe.execute()
                written = min(written + 50, len(payloads))
            except redis.RedisError:
                stop.wait(0.05)
            stop.wait(0.01)

    with running(config) as daemon:
        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        wait_for(lambda: written >= 1000, what="a third written")
        redis_server.shutdown_saving()
        redis_server.start()  # same port and data directory: the saved stream comes back
        wait_for(lambda: written == len(payloads), 60, what="every record written")
        stop.set()
        producer.join(10)
        settles_at(
            lambda: value(daemon, READ, model="m", kind="predictions"),
            len(payloads),
            what="records read (each written one exactly once)",
        )
        assert value(daemon, "mlmon_records_skipped_total", model="m", kind="predictions") in (
            None,
            0,
        )


def test_a_stream_key_of_another_type_stops_only_its_own_model(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """One XREAD over every key failed as a whole on WRONGTYPE: no model read anything and
    /readyz said Redis was unreachable, until someone deleted the key."""
    rng = np.random.default_rng(8)
    write_reference(tmp_path / "ref.csv", sample(rng, 2000))
    config = make_config(tmp_path, redis_server.url, models=("m", "n"))
    client = redis_server.client()
    client.set("mlmon:{m}:predictions", "not a stream")
    with running(config) as daemon:
        xadd_all(client, "mlmon:{n}:predictions", records(sample(rng, 300)))
        settles_at(
            lambda: value(daemon, READ, model="n", kind="predictions"), 300, what="n's records"
        )
        assert value(daemon, "mlmon_redis_up") == 1
        client.delete("mlmon:{m}:predictions")
        xadd_all(client, "mlmon:{m}:predictions", records(sample(rng, 200)))
        settles_at(
            lambda: value(daemon, READ, model="m", kind="predictions"), 200, what="m's records"
        )
