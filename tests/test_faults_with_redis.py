"""The daemon under a Redis outage and under hostile entries, with a real redis-server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from tests.conftest import RedisServer, wait_for
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
        redis_server: RedisServer, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    write_reference(tmp_path / "ref.csv", sample(rng, 2000))
    config = make_config(tmp_path, redis_server.url)
    stream = "mlmon:{m}:predictions"
    with running(config) as daemon:
        xadd_all(redis_server.client(), stream, records(sample(rng, 700)))
        wait_for(lambda: value(daemon, READ, model="m", kind="predictions") == 700,
                 what="first 700 records read")
        redis_server.stop()
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 0, what="redis_up to drop to 0")
        body = scrape(daemon)
        assert "mlmon_redis_up 0.0" in body
        assert 'mlmon_window_samples{model="m"}' in body
        redis_server.start()
        xadd_all(redis_server.client(), stream, records(sample(rng, 300), start=700))
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 1, what="redis_up back to 1")
        wait_for(lambda: value(daemon, READ, model="m", kind="predictions") == 1000,
                 what="all 1000 records read")
        wait_for(lambda: value(daemon, "mlmon_window_samples", model="m") == 1000,
                 what="an evaluation over all 1000 records")
        assert value(daemon, READ, model="m", kind="predictions") == 1000


def _malformed() -> list[tuple[str, bytes, str]]:
    """(field, payload, expected reason) for 1,000 broken entries of many kinds."""
    good = {"id": "z", "features": {"x1": 1.0, "x2": 5.0, "x3": 1.0, "c1": "a", "c2": "x"},
            "prediction": 1.0}
    kinds = [
        ("data", b"{not json", "invalid_json"),
        ("data", b"[1, 2, 3]", "not_an_object"),
        ("data", orjson.dumps({**good, "features": {**good["features"], "x1": "abc"}}),
         "bad_feature_value"),
        ("data", orjson.dumps({**good, "prediction": {"nested": 1}}), "bad_prediction"),
        ("data", orjson.dumps({k: v for k, v in good.items() if k != "features"}),
         "missing_features"),
        ("data", b'{"id": "n", "features": {"x1": NaN}, "prediction": 1}', "non_finite"),
        ("data", b'{"id": "i", "features": {"x1": 1}, "prediction": Infinity}', "non_finite"),
        ("data", b'{"features": {"x1": 1e999}, "prediction": 1}', "non_finite"),
        ("data", orjson.dumps({**good, "latency_ms": -5}), "bad_latency"),
        ("nodata", b"{}", "no_data_field"),
    ]
    out = [kinds[i % len(kinds)] for i in range(995)]
    big = b'{"features": {"pad": "' + b"x" * 1_000_000 + b'"}}'
    out += [("data", big, "too_large")] * 5
    return out


def test_malformed_entries_are_counted_by_reason_and_valid_ones_all_arrive(
        redis_server: RedisServer, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    write_reference(tmp_path / "ref.csv", sample(rng, 2000))
    config = make_config(tmp_path, redis_server.url)
    bad = _malformed()
    good = records(sample(rng, 1000))
    storm = [orjson.dumps({"features": {"x1": 0.1, "c1": f"storm-{i}"}, "prediction": 0.0})
             for i in range(100_000)]
    with running(config) as daemon:
        client = redis_server.client()
        stream = "mlmon:{m}:predictions"
        pipe = client.pipeline(transaction=False)
        for (field, payload, _), ok in zip(bad, good, strict=True):
            pipe.xadd(stream, {field: payload})
            pipe.xadd(stream, {"data": ok})
        pipe.execute()
        xadd_all(client, stream, storm)
        expected: dict[str, int] = {}
        for _, _, reason in bad:
            expected[reason] = expected.get(reason, 0) + 1
        wait_for(lambda: value(daemon, READ, model="m", kind="predictions") == 101_000,
                 timeout=120, what="every valid record read")
        for reason, count in expected.items():
            assert value(daemon, "mlmon_records_invalid_total", model="m", reason=reason) == count
        wait_for(lambda: value(daemon, "mlmon_window_samples", model="m") == 10000,
                 what="an evaluation of the full window")
        assert daemon.reader.redis_up
        series = [line for line in scrape(daemon).splitlines() if line and line[0] != "#"]
        assert len(series) < 300
        vocab = daemon.pipelines[0].window.vocabularies["c1"]
        assert len(vocab) <= 4 + config.models[0].max_new_categories + 1
        unseen = value(daemon, "mlmon_feature_unseen_category_ratio", model="m", feature="c1")
        assert unseen is not None and unseen > 0.9
