"""A scrape reads the last snapshot only: no Redis command, and it survives a dead Redis."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis
from prometheus_client import CollectorRegistry, generate_latest

from exporter.daemon import Daemon
from tests.conftest import RedisServer
from tests.helpers import make_config, records, sample, write_reference, xadd_all


class NoCommands(redis.Redis):
    """A client that fails the test on any Redis command."""

    calls = 0

    def execute_command(self, *args: Any, **options: Any) -> Any:
        NoCommands.calls += 1
        raise AssertionError(f"unexpected Redis command {args[0]!r}")


def test_scraping_performs_no_redis_command(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    write_reference(tmp_path / "ref.csv", sample(rng, 2000))
    config = make_config(tmp_path, "redis://127.0.0.1:1/0")
    registry = CollectorRegistry()
    daemon = Daemon(config, client=NoCommands(port=1), registry=registry)
    pipeline = daemon.pipelines[0]
    now_ms = int(time.time() * 1000)
    pipeline.ingest_predictions(
        [
            (f"{now_ms + i}-0".encode(), {b"data": p})
            for i, p in enumerate(records(sample(rng, 500)))
        ]
    )
    assert pipeline.evaluate(None)
    daemon.http.start()
    try:
        url = f"http://127.0.0.1:{daemon.http.port}/metrics"
        for accept in ("text/plain", "application/openmetrics-text; version=1.0.0"):
            req = urllib.request.Request(url, headers={"Accept": accept})
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = resp.read().decode()
            assert 'mlmon_feature_drift_score{feature="x1",method="ks",model="m"}' in body
        assert registry.get_sample_value("mlmon_window_samples", {"model": "m"}) == 500
        assert b"mlmon_redis_up 0.0" in generate_latest(registry)
    finally:
        daemon.http.stop()
    assert NoCommands.calls == 0


def test_readiness_waits_for_redis_a_running_reader_and_references(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    daemon = Daemon(
        make_config(tmp_path, "redis://127.0.0.1:1/0"),
        client=NoCommands(port=1),
        registry=CollectorRegistry(),
    )
    # Not started yet: start-up fits the references first, the listener up meanwhile.
    assert daemon.readiness() == (False, "fitting references (0 of 1 fitted)")
    daemon.fit_references()
    assert daemon.readiness() == (False, "fitting references (1 of 1 fitted)")
    daemon.reader.started = True
    assert daemon.readiness() == (False, "redis unreachable")
    daemon.reader.redis_up = True
    assert daemon.readiness() == (False, "stream reader not running (restarting after a crash)")
    daemon.reader.running = True
    assert daemon.readiness() == (False, "rebuilding windows from redis")
    daemon.reader.backfilled.set()
    assert daemon.readiness() == (True, "ready")  # a file reference is fitted before reading
    daemon.pipelines[0].fitted = None
    assert daemon.readiness() == (False, "reference not loaded: m")


def _families(body: str, openmetrics: bool) -> dict[str, list[Any]]:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
    from prometheus_client.parser import text_string_to_metric_families as text

    parse = om if openmetrics else text
    return {f.name: f.samples for f in parse(body)}


def test_both_formats_parse_and_a_new_evaluation_replaces_the_cached_snapshot_text(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(13)
    write_reference(tmp_path / "ref.csv", sample(rng, 2000))
    daemon = Daemon(
        make_config(tmp_path, "redis://127.0.0.1:1/0"),
        client=NoCommands(port=1),
        registry=CollectorRegistry(),
    )
    pipeline = daemon.pipelines[0]
    now_ms = int(time.time() * 1000)

    def feed(n: int, start: int) -> None:
        pipeline.ingest_predictions(
            [
                (f"{now_ms + start + i}-0".encode(), {b"data": p})
                for i, p in enumerate(records(sample(rng, n), start))
            ]
        )
        assert pipeline.evaluate(None)

    daemon.http.start()
    try:
        url = f"http://127.0.0.1:{daemon.http.port}/metrics"
        for window in (300, 800):
            feed(window - (300 if window == 800 else 0), 0 if window == 300 else 300)
            for accept, om in (
                ("text/plain", False),
                ("application/openmetrics-text; version=1.0.0", True),
            ):
                req = urllib.request.Request(url, headers={"Accept": accept})
                with urllib.request.urlopen(req, timeout=10) as resp:
                    body = resp.read().decode()
                assert body.count("# EOF") == (1 if om else 0)
                families = _families(body, om)
                windows = [s.value for s in families["mlmon_window_samples"]]
                assert windows == [window]
                assert any(s.value == window for s in families["mlmon_records_read"])
    finally:
        daemon.http.stop()
    assert daemon.registry.get_sample_value("mlmon_window_samples", {"model": "m"}) == 800


def test_while_the_start_up_rebuild_reads_redis_it_is_up_and_readyz_says_rebuilding(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """During a rebuild of 100k entries /readyz said "redis unreachable" and mlmon_redis_up
    was 0 for 6 s, while every XREVRANGE was answered."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(13), 300))
    registry = CollectorRegistry()
    daemon = Daemon(make_config(tmp_path, redis_server.url), registry=registry)
    features = {"x1": 0.1, "x2": 5.0, "x3": 1.0, "c1": "a", "c2": "b"}
    record = orjson.dumps({"features": features, "prediction": 5.0})
    xadd_all(redis_server.client(), "mlmon:{m}:predictions", [record] * 50)
    pipeline, seen = daemon.pipelines[0], []
    ingest = pipeline.ingest_predictions

    def watched(entries: Any, count: bool = True) -> None:
        seen.append((daemon.readiness(), registry.get_sample_value("mlmon_redis_up")))
        ingest(entries, count)

    pipeline.ingest_predictions = watched  # type: ignore[method-assign]
    daemon.fit_references()  # as start() does, before it starts the reader
    daemon.reader.running = daemon.reader.started = True  # as start() and its thread set them
    daemon.reader.backfill()
    assert seen and set(seen) == {((False, "rebuilding windows from redis"), 1.0)}
    assert daemon.readiness() == (True, "ready")
