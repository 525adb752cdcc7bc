"""The exporter as a process while start-up fits its references: probes and /metrics answer."""

from __future__ import annotations

import csv
import io
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import model_yaml, sample
from tests.test_lifecycle import _get, _sample, exporter

MODELS = tuple(f"m{i}" for i in range(6))
ROWS = 200_000  # about a second's fit each on this project's 2-core machine
FITTING = re.compile(r"fitting references \((\d+) of \d+ fitted\)")


def _setup(
    tmp: Path, redis_url: str, models: tuple[str, ...] = MODELS, rows: int = ROWS
) -> tuple[Path, int]:
    """Models sharing a reference file of `rows` rows, and the port they are served on."""
    data = sample(np.random.default_rng(5), rows // 4)
    text = io.StringIO()
    csv.writer(text).writerows(zip(*data.values(), data["x2"], data["x2"] + 0.5, strict=True))
    header = ",".join([*data, "prediction", "label"])
    (tmp / "ref.csv").write_text(header + "\r\n" + text.getvalue() * 4)  # a quarter's cost
    port = free_port()
    path = tmp / "config.yaml"
    path.write_text(
        f"redis: {{url: '{redis_url}'}}\n"
        f"web: {{listen_address: '127.0.0.1:{port}'}}\nmodels:"
        + "".join(model_yaml(m) for m in models)
    )
    return path, port


def _fitting(port: int, proc: subprocess.Popen[str]) -> int:
    """How many references /readyz says are fitted while it says start-up fits them, else -1."""
    assert proc.poll() is None, "the exporter ended during its start-up"
    status, body = _get(port, "/readyz")
    match = FITTING.search(body)
    return int(match.group(1)) if status == 503 and match else -1


def _redis_up_moves(port: int, proc: subprocess.Popen[str], expected: float) -> str:
    """Whether mlmon_redis_up reached `expected` while the fits ran, or they ended first."""

    def moved() -> str:
        up = _sample(port, "mlmon_redis_up")  # first: the fits were running when it was read
        fitting = _fitting(port, proc) >= 0
        return "" if fitting and up != expected else "while fitting" if fitting else "fits ended"

    return wait_for(moved, 15, 0.05, f"mlmon_redis_up {expected}")


def test_probes_and_metrics_answer_while_start_up_fits_the_reference_files(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """30 models' files took 14 s to fit with nothing listening: /healthz was refused, so a
    liveness probe restarted a pod fitting 50 of them, and Prometheus saw the target down."""
    path, port = _setup(tmp_path, redis_server.url)
    with redis_server.client().pipeline(transaction=False) as pipe:
        for _ in range(2000):  # unread while the references fit
            pipe.xadd("mlmon:{m0}:predictions", {"data": b"{}"})
        pipe.execute()
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/healthz")[0] == 200, 30, 0.05, "/healthz")
        fitted = _fitting(port, proc)
        assert 0 <= fitted < len(MODELS), _get(port, "/readyz")
        status, body = _get(port, "/metrics")
        assert status == 200 and "mlmon_build_info{" in body
        assert "\nmlmon_redis_up 1.0\n" in body  # Redis answers: not 0 while files fit
        assert "mlmon_window_samples{" not in body  # no model series before an evaluation
        # Nothing read yet: not lag 0 ("caught up"), nor a reader 0 ("restarting after a crash")
        assert "\nmlmon_stream_lag_" not in body and "\nmlmon_reader_up " not in body, body
        seen = [fitted]

        def ready() -> bool:
            status, body = _get(port, "/readyz")
            if match := FITTING.search(body):
                seen.append(int(match.group(1)))
            return status == 200

        wait_for(ready, 60, 0.05, "readiness")
        assert seen == sorted(seen) and len(set(seen)) > 1, seen  # counted up as they fit
        assert _sample(port, "mlmon_reader_up") == 1.0
        lag = '{kind="predictions",model="m0"}'
        wait_for(lambda: _sample(port, f"mlmon_stream_lag_entries{lag}") == 0, 10, 0.05, "lag")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def test_sigterm_while_start_up_fits_the_references_stops_the_exporter_at_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    path, port = _setup(tmp_path, redis_server.url)
    with exporter(path) as proc:
        wait_for(lambda: _fitting(port, proc) in range(3), 30, 0.05, "the first fits")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0  # after the fit in progress: not all six, nor the 10 s exit
        log = proc.stderr.read() if proc.stderr else ""
        assert "exporter stopped" in log and "exporter started" not in log, log
        assert log.count('"reference fitted"') < len(MODELS), log


def test_sigterm_during_one_long_reference_fit_exits_zero_at_once_without_finishing_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """One 102 MiB reference took 22 s to fit, and a SIGTERM waited for it: past the 10 s exit
    deadline the process exited 1 with `the clean stop did not finish`."""
    path, port = _setup(tmp_path, redis_server.url, ("m",), 600_000)
    with exporter(path) as proc:
        wait_for(lambda: _fitting(port, proc) == 0, 30, 0.05, "the fit")
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        took = time.monotonic() - signalled
        log = proc.stderr.read() if proc.stderr else ""
    assert '"reference fitted"' not in log, log  # abandoned, not waited for
    assert "exporter stopped" in log and "exporter started" not in log, log
    assert took < 3.0, took


def test_sigterm_while_start_up_waits_for_an_unreachable_redis_does_not_log_started(
    tmp_path: Path,
) -> None:
    """`exporter started` came after `SIGTERM received; stopping`, and a warning that the
    evaluations would start once the windows were rebuilt: neither was going to happen."""
    path, port = _setup(tmp_path, f"redis://127.0.0.1:{free_port()}/0", ("m",), 2000)
    with exporter(path) as proc:
        wait_for(lambda: "redis unreachable" in _get(port, "/readyz")[1], 30, 0.05, "reader")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        log = proc.stderr.read() if proc.stderr else ""
    assert "exporter stopped" in log and "exporter started" not in log, log
    assert "windows not rebuilt yet" not in log, log


def test_redis_up_follows_redis_while_start_up_fits_the_references(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """One PING before the fits set mlmon_redis_up for all of them: 0 for 12 s after Redis
    came up, 1 for 12 s after it went down (MLMonRedisUnreachable pages after 2 minutes), and
    nothing was logged of a Redis down at start-up until the fits ended."""
    path, port = _setup(tmp_path, redis_server.url, tuple(f"m{i}" for i in range(10)))
    redis_server.stop()
    with exporter(path) as proc:
        wait_for(lambda: _fitting(port, proc) >= 0, 30, 0.05, "the fits")
        assert _sample(port, "mlmon_redis_up") == 0.0
        redis_server.start()
        assert _redis_up_moves(port, proc, 1.0) == "while fitting"
        redis_server.stop()
        assert _redis_up_moves(port, proc, 0.0) == "while fitting"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        log = proc.stderr.read() if proc.stderr else ""
    assert "redis does not answer at start-up" in log and "redis answers again" in log, log
