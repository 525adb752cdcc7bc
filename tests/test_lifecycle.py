"""The exporter as a process: SIGTERM, SIGKILL and restart, SIGHUP and config-file reloads."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import model_yaml, records, sample, write_reference, xadd_all

ROOT = Path(__file__).resolve().parent.parent


def _config(redis_url: str, port: int, models: tuple[str, ...], extra: str = "") -> str:
    return (
        f"redis: {{url: '{redis_url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{port}'}}\n{extra}models:"
        + "".join(model_yaml(m) for m in models)
    )


@contextmanager
def exporter(config: Path) -> Iterator[subprocess.Popen[str]]:
    """`ml-monitoring-exporter run` in a child process, killed by its PID if still alive."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter", f"--config.file={config}", "--log.format=json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _sample(port: int, series: str) -> float | None:
    """A sample's value from /metrics, by its exact series text."""
    match = re.search(re.escape(series) + r" ([0-9.e+-]+)\n", _get(port, "/metrics")[1])
    return float(match.group(1)) if match else None


def _setup(tmp: Path, redis_server: RedisServer, models: tuple[str, ...]) -> tuple[Path, int]:
    write_reference(tmp / "ref.csv", sample(np.random.default_rng(21), 2000))
    port = free_port()
    path = tmp / "config.yaml"
    path.write_text(_config(redis_server.url, port, models))
    return path, port


READ_M = 'mlmon_records_read_total{kind="predictions",model="m"}'


def test_sigterm_stops_reading_and_exits_zero_promptly(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    path, port = _setup(tmp_path, redis_server, ("m",))
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert "exporter stopped" in (proc.stderr.read() if proc.stderr else "")


def test_sigkill_and_restart_rebuild_the_same_window_and_drift_values(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    path, port = _setup(tmp_path, redis_server, ("m",))
    xadd_all(
        redis_server.client(),
        "mlmon:{m}:predictions",
        records(sample(np.random.default_rng(4), 2500, shift=True)),
    )
    seen = []
    for _ in range(2):
        with exporter(path) as proc:
            wait_for(
                lambda: _sample(port, 'mlmon_window_samples{model="m"}') == 2500,
                30,
                0.2,
                "an evaluation",
            )
            body = _get(port, "/metrics")[1]
            seen.append(
                sorted(
                    line
                    for line in body.splitlines()
                    if line.startswith(("mlmon_feature_drift_score{", "mlmon_window_samples{"))
                )
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    assert seen[0] == seen[1]
    assert len(seen[0]) == 6


def _ready_status(port: int) -> int:
    """/readyz's status; 0 while nothing listens yet."""
    try:
        return _get(port, "/readyz")[0]
    except OSError:
        return 0


def test_sighup_and_edits_during_start_up_neither_kill_the_exporter_nor_get_lost(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """SIGHUP's default action ended a starting exporter (exit 129) until its handlers were
    in, and an edit made before the watcher first read the file was never applied."""
    path, port = _setup(tmp_path, redis_server, ("m", "m2"))
    with exporter(path) as proc:
        time.sleep(0.2)  # the interpreter is up: what follows lands during the start-up
        path.write_text(_config(redis_server.url, port, ("m",)))
        deadline = time.monotonic() + 30
        while _ready_status(port) != 200 and time.monotonic() < deadline:
            assert proc.poll() is None, "a SIGHUP during the start-up ended the exporter"
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.1)
        wait_for(
            lambda: (
                _sample(port, 'mlmon_window_samples{model="m"}') is not None
                and _sample(port, 'mlmon_window_samples{model="m2"}') is None
            ),
            30,
            0.2,
            "the config edited during the start-up in force",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def test_sighup_and_file_changes_reload_only_valid_configs_without_recounting(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    path, port = _setup(tmp_path, redis_server, ("m",))
    rng = np.random.default_rng(8)
    client = redis_server.client()
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        xadd_all(client, "mlmon:{m}:predictions", records(sample(rng, 100)))
        settles_at(lambda: _sample(port, READ_M), 100, interval=0.2, what="records read")

        path.write_text(_config(redis_server.url, port, ("m", "m2")))
        proc.send_signal(signal.SIGHUP)
        ok = 'mlmon_config_reloads_total{outcome="success"}'
        wait_for(lambda: _sample(port, ok) == 1, 30, 0.2, "the valid reload")
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="m2"}') == 0,
            30,
            0.2,
            "the new model evaluated",
        )
        xadd_all(client, "mlmon:{m}:predictions", records(sample(rng, 50), start=100))
        settles_at(
            lambda: _sample(port, READ_M), 150, interval=0.2, what="records read across the reload"
        )

        path.write_text(_config(redis_server.url, port, ("m", "m2")).replace("task:", "tsk:"))
        proc.send_signal(signal.SIGHUP)
        failed = 'mlmon_config_reloads_total{outcome="failure"}'
        wait_for(lambda: (_sample(port, failed) or 0) >= 1, 30, 0.2, "the invalid config rejected")
        assert _sample(port, 'mlmon_window_samples{model="m2"}') == 0

        path.write_text(_config(redis_server.url, port, ("m",)))  # no signal: the file watch
        wait_for(lambda: _sample(port, ok) == 2, 30, 0.2, "the file change reloaded")
        wait_for(
            lambda: _sample(port, 'mlmon_window_samples{model="m2"}') is None,
            30,
            0.2,
            "the removed model's series gone",
        )
        settles_at(
            lambda: _sample(port, READ_M),
            150,
            interval=0.2,
            what="records read after the second reload",
        )
        assert _get(port, "/readyz")[0] == 200


def test_a_reload_during_a_redis_outage_keeps_evaluating_the_windows_it_kept(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The reload waited 30 s for a rebuild that needed Redis, and then evaluated nothing
    until Redis was back, although every window was kept."""
    path, port = _setup(tmp_path, redis_server, ("m",))
    last = 'mlmon_evaluation_last_success_timestamp_seconds{model="m"}'
    with exporter(path):
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        rows = records(sample(np.random.default_rng(5), 150))
        xadd_all(redis_server.client(), "mlmon:{m}:predictions", rows)
        settles_at(lambda: _sample(port, READ_M), 150, interval=0.2, what="records read")
        redis_server.stop()
        wait_for(lambda: _sample(port, "mlmon_redis_up") == 0, 30, 0.2, "the outage seen")
        path.write_text(path.read_text() + "\n")  # the same config, reloaded by the file watch
        ok = 'mlmon_config_reloads_total{outcome="success"}'
        wait_for(lambda: _sample(port, ok) == 1, 15, 0.2, "the reload, without a 30 s wait")
        before = _sample(port, last) or 0.0
        wait_for(lambda: (_sample(port, last) or 0.0) > before, 10, 0.2, "a later evaluation")
    redis_server.start()


def test_a_reload_during_a_redis_outage_that_changes_one_model_keeps_evaluating_the_others(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The reload waited 30 s for the changed model's window, which needs Redis, before it
    scheduled anything: the unchanged model went 30 s unevaluated, the reload counted late."""
    path, port = _setup(tmp_path, redis_server, ("m", "m2"))
    rng = np.random.default_rng(6)
    samples = 'mlmon_window_samples{{model="{}"}}'
    last = 'mlmon_evaluation_last_success_timestamp_seconds{{model="{}"}}'
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/readyz")[0] == 200, 30, 0.2, "readiness")
        for m in ("m", "m2"):
            xadd_all(redis_server.client(), f"mlmon:{{{m}}}:predictions", records(sample(rng, 80)))
        for m in ("m", "m2"):
            wait_for(lambda m=m: _sample(port, samples.format(m)) == 80, 30, 0.2, f"{m} read")
        redis_server.shutdown_saving()  # a start() brings the streams back
        wait_for(lambda: _sample(port, "mlmon_redis_up") == 0, 30, 0.2, "the outage seen")
        m2 = model_yaml("m2").replace("max: 2.0", "max: 3.0")  # m is unchanged
        path.write_text(_config(redis_server.url, port, ("m",)) + m2)
        proc.send_signal(signal.SIGHUP)
        ok = 'mlmon_config_reloads_total{outcome="success"}'
        wait_for(lambda: _sample(port, ok) == 1, 10, 0.2, "the reload counted without a wait")
        before = _sample(port, last.format("m")) or 0.0
        wait_for(
            lambda: (_sample(port, last.format("m")) or 0.0) > before,
            5,
            0.2,
            "the unchanged model (1 s interval) evaluated on",
        )
        redis_server.start()
        back = time.time()
        wait_for(
            lambda: (_sample(port, last.format("m2")) or 0.0) > back,
            30,
            0.2,
            "the changed model evaluated once its window is rebuilt",
        )
        assert _sample(port, samples.format("m2")) == 80
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
