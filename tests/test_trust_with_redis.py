"""Signals an on-call engineer can trust, against a real redis-server and real processes."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import redis
from prometheus_client import CollectorRegistry

from exporter.config import load_config, load_config_text
from exporter.daemon import Daemon
from exporter.daemon.shard import Shard, owner
from exporter.expose.change_live import ChangeMetrics
from tests.conftest import RedisServer, free_port, require_tool, settles_at, wait_for
from tests.helpers import (
    make_config,
    model_yaml,
    records,
    running,
    sample,
    value,
    wait_evaluated,
    write_reference,
    xadd_all,
)
from tests.test_lifecycle import ROOT, _get, _sample, exporter

UNFITTABLE = "- {name: c1, type: categorical}"  # z applies to two categories; c1 has four


def _config_text(redis_url: str, port: int, models: tuple[str, ...], unfittable: str = "") -> str:
    body = "".join(model_yaml(m) for m in models)
    if unfittable:
        marker = f"  - name: {unfittable}\n"
        head, _, tail = body.partition(marker)
        body = (
            head
            + marker
            + tail.replace(UNFITTABLE, "- {name: c1, type: categorical, method: z}", 1)
        )
    return (
        f"redis: {{url: '{redis_url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{port}'}}\nmodels:" + body
    )


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_an_exception_inside_the_reader_restarts_it_and_later_records_count_once(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    with running(make_config(tmp_path, redis_server.url)) as daemon:
        wait_for(daemon.reader.backfilled.is_set, 30, what="backfill")
        real = daemon.reader.read_once
        crashes: list[int] = []

        def crash_once() -> None:
            if not crashes:
                crashes.append(1)
                raise RuntimeError("injected reader failure")
            real()

        monkeypatch.setattr(daemon.reader, "read_once", crash_once)
        wait_for(
            lambda: value(daemon, "mlmon_reader_restarts_total") == 1,
            30,
            what="the reader restarted",
        )
        xadd_all(redis_server.client(), "mlmon:{m}:predictions", records(sample(rng, 700)))
        settles_at(
            lambda: value(daemon, "mlmon_records_read_total", model="m", kind="predictions"),
            700,
            what="records after the restart",
        )
        assert value(daemon, "mlmon_reader_up") == 1
        assert daemon.readiness() == (True, "ready")


def test_an_unfittable_reference_is_refused_by_check_config_start_up_and_reload_alike(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(5), 500))
    port = free_port()
    bad = tmp_path / "bad.yaml"
    bad.write_text(_config_text(redis_server.url, port, ("m",), unfittable="m"))
    checked = _cli("check-config", f"--config.file={bad}")
    assert checked.returncode == 2, checked.stderr
    assert "feature 'c1'" in checked.stderr and "binary features only" in checked.stderr
    started = _cli("run", f"--config.file={bad}")
    assert started.returncode == 2 and "binary features only" in started.stderr

    path = tmp_path / "config.yaml"
    path.write_text(_config_text(redis_server.url, port, ("m",)))
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        first = _sample(port, 'mlmon_evaluation_last_success_timestamp_seconds{model="m"}')
        path.write_text(bad.read_text())
        proc.send_signal(signal.SIGHUP)
        wait_for(
            lambda: _sample(port, "mlmon_config_last_reload_successful") == 0,
            30,
            0.2,
            "the reload refused",
        )
        assert _sample(port, 'mlmon_config_reloads_total{outcome="failure"}') == 1
        wait_for(
            lambda: (
                (_sample(port, 'mlmon_evaluation_last_success_timestamp_seconds{model="m"}') or 0)
                > (first or 0)
            ),
            30,
            0.2,
            "the old config still evaluating",
        )
        assert _sample(port, 'mlmon_evaluation_failures_total{model="m"}') == 0


def _reloadable(
    redis_server: RedisServer, tmp_path: Path, models: tuple[str, ...], rng: np.random.Generator
) -> tuple[Daemon, Path]:
    """An in-process daemon over the models (not started), with its config file to edit."""
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    path = tmp_path / "config.yaml"
    path.write_text(_config_text(redis_server.url, free_port(), models))
    return Daemon(load_config(str(path)), registry=CollectorRegistry(), config_path=str(path)), path


def _settles_at_records(daemon: Daemon, records: int, what: str) -> None:
    """Model a's prediction records read settle at the count."""
    settles_at(
        lambda: value(daemon, "mlmon_records_read_total", model="a", kind="predictions"),
        records,
        what=what,
    )


def test_a_reload_that_changes_one_model_keeps_the_other_models_window(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(9)
    daemon, path = _reloadable(redis_server, tmp_path, ("a", "b"), rng)
    daemon.start()
    try:
        client = redis_server.client()
        for m in ("a", "b"):
            xadd_all(client, f"mlmon:{{{m}}}:predictions", records(sample(rng, 300)))
        for m in ("a", "b"):
            wait_evaluated(daemon, m, 300)
        kept = daemon.pipelines[0]
        path.write_text(
            path.read_text().replace("max: 2.0", "max: 3.0", 2).replace("max: 3.0", "max: 2.0", 1)
        )  # only b's bound changes
        caplog.clear()  # start-up rebuilt both windows; only the reload's rebuilds count here
        with caplog.at_level(logging.INFO, logger="exporter.reader"):
            assert daemon.reload()
            wait_for(daemon.reader.backfilled.is_set, 30, what="backfill after reload")
        rebuilt = {
            r.__dict__.get("model")
            for r in caplog.records
            if r.getMessage() == "window rebuilt from redis"
        }
        assert rebuilt == {"b"}
        assert daemon.pipelines[0] is kept and len(kept.window.view(time.time())) == 300
        wait_evaluated(daemon, "b", 300)
        xadd_all(client, "mlmon:{a}:predictions", records(sample(rng, 50), start=300))
        _settles_at_records(daemon, 350, "a's records across the reload")
    finally:
        daemon.stop()


def test_a_reload_that_only_tunes_reading_keeps_every_window_and_position(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Any change of the redis section rebuilt every window without counting: records added
    during the reload reached the windows but no counter (10-20 per model at 200/s)."""
    rng = np.random.default_rng(10)
    daemon, path = _reloadable(redis_server, tmp_path, ("a",), rng)
    daemon.start()
    try:
        client = redis_server.client()
        xadd_all(client, "mlmon:{a}:predictions", records(sample(rng, 300)))
        wait_evaluated(daemon, "a", 300)
        kept = daemon.pipelines[0]
        tuned = "backoff_max: 1s, linger: 200ms, read_count: 50"
        path.write_text(path.read_text().replace("backoff_max: 1s", tuned))
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="exporter.reader"):
            assert daemon.reload()
        assert daemon.pipelines[0] is kept and daemon.config.redis.read_count == 50
        assert not [r for r in caplog.records if r.getMessage() == "window rebuilt from redis"]
        xadd_all(client, "mlmon:{a}:predictions", records(sample(rng, 50), start=300))
        _settles_at_records(daemon, 350, "records across the reload")
    finally:
        daemon.stop()


def test_a_reload_with_a_window_to_rebuild_does_not_report_redis_down(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The new reader started as "down": mlmon_redis_up 0 and /readyz 503 "redis unreachable"
    for the 2 s a changed model's window took to rebuild, at every such reload."""
    rng = np.random.default_rng(13)
    daemon, path = _reloadable(redis_server, tmp_path, ("a",), rng)
    daemon.start()
    try:
        wait_for(lambda: value(daemon, "mlmon_redis_up") == 1, 30, what="redis up")
        seen: list[float | None] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                seen.append(value(daemon, "mlmon_redis_up"))

        path.write_text(path.read_text().replace("max: 2.0", "max: 3.0"))  # a's window rebuilt
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            assert daemon.reload()
        finally:
            done.set()
            watcher.join(10)
        assert seen and set(seen) == {1.0}
    finally:
        daemon.stop()


def test_a_reload_applies_the_external_url_and_the_log_level(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Both were ignored while the reload counted as a success."""
    daemon, path = _reloadable(redis_server, tmp_path, ("a",), np.random.default_rng(14))
    text = path.read_text()
    root = logging.getLogger()
    level = root.level
    daemon.start()
    try:
        web = "web: {listen_address"
        edited = text.replace(
            web, "log_level: error\nweb: {external_url: 'https://mlmon.example', listen_address"
        )
        path.write_text(edited)
        assert daemon.reload()
        info = {
            s.labels["external_url"]
            for family in daemon.registry.collect()
            for s in family.samples
            if s.name == "mlmon_build_info"
        }
        assert info == {"https://mlmon.example"}
        assert root.level == logging.ERROR
    finally:
        root.setLevel(level)
        daemon.stop()


@pytest.mark.parametrize("flag", [False, True])
def test_a_reload_promises_a_new_listen_address_only_when_no_flag_overrides_it(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, flag: bool
) -> None:
    """With --web.listen-address set, a restart still listens where the flag says."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(17), 500))
    path = tmp_path / "config.yaml"
    path.write_text(_config_text(redis_server.url, free_port(), ("a",)))
    address = f"127.0.0.1:{free_port()}" if flag else None
    daemon = Daemon(
        load_config(str(path)),
        registry=CollectorRegistry(),
        config_path=str(path),
        listen_address=address,
    )
    daemon.start()
    try:
        moved = re.sub(
            r"listen_address: '?127\.0\.0\.1:\d+",
            f"listen_address: '127.0.0.1:{free_port()}",
            path.read_text(),
        )
        path.write_text(moved)
        with caplog.at_level(logging.INFO):
            assert daemon.reload()
        promised = "take effect after a restart" in caplog.text
        assert promised is not flag
    finally:
        daemon.stop()


def test_a_reload_that_comes_after_the_stop_starts_nothing(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A reload queued behind a SIGTERM's stop stopped the stopped scheduler again, which
    raised; had it not, it would have started a reader and a scheduler nothing stops."""
    daemon, path = _reloadable(redis_server, tmp_path, ("a",), np.random.default_rng(16))
    daemon.start()
    daemon.stop()
    path.write_text(path.read_text().replace("max: 2.0", "max: 3.0"))
    assert not daemon.reload()
    assert not daemon.runtime.scheduler.running and not daemon.reader.running


def test_a_replica_whose_shard_owns_no_model_starts_without_waiting_for_windows(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With no stream to rebuild, the start-up waited out its 30 s for a rebuild that never
    came and warned `windows not rebuilt yet`."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(15), 500))
    config = load_config_text(
        _config_text(redis_server.url, free_port(), ("m",)), base_dir=str(tmp_path)
    )
    other = Shard(1 - owner("m", 2), 2)
    with caplog.at_level(logging.WARNING), running(config, other) as daemon:
        assert daemon.config.models == ()
        wait_for(lambda: daemon.readiness()[0], 30, what="an empty shard ready")
    assert not [r for r in caplog.records if "windows not rebuilt" in r.getMessage()]


def test_a_cron_model_is_evaluated_at_start_up_not_at_its_next_tick(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(12)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    xadd_all(redis_server.client(), "mlmon:{m}:predictions", records(sample(rng, 40)))
    hourly = model_yaml("m").replace("{interval: 1s}", "{cron: '0 * * * *'}")
    text = (
        f"redis: {{url: '{redis_server.url}'}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + hourly
    )
    with running(load_config_text(text, base_dir=str(tmp_path))) as daemon:
        wait_evaluated(daemon, "m", 40, timeout=30)


def test_a_producer_faster_than_the_reader_shows_lag_that_returns_to_zero(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(11)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    text = (
        f"redis: {{url: '{redis_server.url}', read_count: 2, block: 100ms, "
        "check_interval: 200ms}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model_yaml("m")
    )
    config = load_config_text(text, base_dir=str(tmp_path))
    chunk = records(sample(rng, 500))
    stop = threading.Event()
    written: list[int] = []

    def produce() -> None:  # pipelined XADDs outrun two entries per XREAD round trip
        client = redis_server.client()
        deadline = time.monotonic() + 90
        while not stop.is_set() and time.monotonic() < deadline:
            xadd_all(client, "mlmon:{m}:predictions", chunk)
            written.append(len(chunk))

    lag = {"model": "m", "kind": "predictions"}
    with running(config) as daemon:
        wait_for(daemon.reader.backfilled.is_set, 30, what="backfill")
        producer = threading.Thread(target=produce)
        producer.start()
        try:
            wait_for(
                lambda: (
                    (value(daemon, "mlmon_stream_lag_entries", **lag) or 0) > 1000
                    and (value(daemon, "mlmon_stream_lag_seconds", **lag) or 0) > 0.5
                ),
                60,
                what="lag rising while the producer runs",
            )
        finally:
            stop.set()
            producer.join(30)
        settles_at(
            lambda: value(daemon, "mlmon_records_read_total", **lag),
            sum(written),
            timeout=240,
            what="the reader caught up",
        )
        wait_for(
            lambda: (
                value(daemon, "mlmon_stream_lag_entries", **lag) == 0
                and value(daemon, "mlmon_stream_lag_seconds", **lag) == 0
            ),
            30,
            what="lag back to 0",
        )


def _redis_with_password(tmp_path: Path, password: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            require_tool("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--requirepass",
            password,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, password=password)
    wait_for(client.ping, 15, what="redis-server with a password")
    return proc, port


def test_check_config_with_redis_connect_names_authentication_and_missing_references(
    tmp_path: Path,
) -> None:
    proc, port = _redis_with_password(tmp_path, "right-one")
    try:

        def config(password: str) -> Path:
            path = tmp_path / f"{password}.yaml"
            path.write_text(
                f"redis: {{url: 'redis://127.0.0.1:{port}/0', password: '{password}'}}\n"
                "models:\n  - name: m\n    task: regression\n"
                "    reference: {redis_key: 'mlmon:{m}:reference'}\n"
                "    features: [{name: x, type: numeric}]\n"
            )
            return path

        offline = _cli("check-config", f"--config.file={config('wrong-one')}")
        assert offline.returncode == 0, offline.stderr  # without Redis, nothing to say
        wrong = _cli("check-config", f"--config.file={config('wrong-one')}", "--redis.connect")
        assert wrong.returncode == 2
        assert "authentication failed" in wrong.stderr
        assert f"redis://127.0.0.1:{port}/0" in wrong.stderr and "wrong-one" not in wrong.stderr
        unloaded = _cli("check-config", f"--config.file={config('right-one')}", "--redis.connect")
        assert unloaded.returncode == 2
        assert "models[m].reference.redis_key" in unloaded.stderr
        assert "reference load" in unloaded.stderr
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_6_2_is_read_exactly_and_a_trim_past_the_reader_is_said_not_miscounted(
    redis62_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(13)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    client = redis62_server.client()
    stream = "mlmon:{m}:predictions"
    with (
        caplog.at_level(logging.WARNING, logger="exporter.reader"),
        running(make_config(tmp_path, redis62_server.url)) as daemon,
    ):
        wait_for(daemon.reader.backfilled.is_set, 30, what="backfill on redis 6.2")
        xadd_all(client, stream, records(sample(rng, 400)))
        read = {"model": "m", "kind": "predictions"}
        settles_at(
            lambda: value(daemon, "mlmon_records_read_total", **read),
            400,
            what="records read from redis 6.2",
        )
        assert value(daemon, "mlmon_redis_version_supported") == 1
        assert value(daemon, "mlmon_reader_restarts_total") == 0
        assert value(daemon, "mlmon_stream_lag_entries", **read) is None  # 6.2 cannot say
        wait_evaluated(daemon, "m", 400)

        daemon.reader.stop()  # a paused reader, then the stream trimmed past its position
        xadd_all(client, stream, records(sample(rng, 50), start=400))
        client.xtrim(stream, maxlen=10, approximate=False)
        daemon.reader._stop.clear()
        daemon.reader.start()
        wait_for(
            lambda: any("cannot say how many" in r.getMessage() for r in caplog.records),
            30,
            what="the uncountable trim logged",
        )
        settles_at(
            lambda: value(daemon, "mlmon_records_read_total", **read),
            410,
            what="the entries left after the trim read",
        )
        assert value(daemon, "mlmon_records_skipped_total", **read) == 0
        assert value(daemon, "mlmon_reader_restarts_total") == 0
        assert "redis 6.2" in caplog.text and "has no entries-added counter" in caplog.text


def test_a_reload_that_unwatches_a_feature_drops_its_change_series(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Its series stayed at their last values for ever after change.features lost it."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(12), 500))
    watched = "    schedule: {interval: 1s}\n"
    text = _config_text(redis_server.url, free_port(), ("a",))
    path = tmp_path / "config.yaml"
    path.write_text(text.replace(watched, watched + "    change: {features: [x2, x3]}\n"))
    daemon = Daemon(load_config(str(path)), registry=CollectorRegistry(), config_path=str(path))
    daemon.start()
    try:
        series = {"model": "a", "signal": "feature:x3"}
        assert value(daemon, "mlmon_change_threshold", **series) is not None
        path.write_text(path.read_text().replace("[x2, x3]", "[x2]"))
        assert daemon.reload()
        assert value(daemon, "mlmon_change_threshold", **series) is None
        assert value(daemon, "mlmon_change_threshold", **{**series, "signal": "feature:x2"})
    finally:
        daemon.stop()


def test_a_batch_fed_to_a_dropped_watch_does_not_bring_its_series_back() -> None:
    """The reader could still be feeding the old watch while a refit dropped it."""
    registry = CollectorRegistry()
    metrics = ChangeMetrics(registry)
    metrics.start("m", "feature:z", 11.5, 0.0)
    metrics.drop("m", "feature:z")
    metrics.observe("m", "feature:z", 1.5, [], count=True)
    assert (
        registry.get_sample_value("mlmon_change_statistic", {"model": "m", "signal": "feature:z"})
        is None
    )
