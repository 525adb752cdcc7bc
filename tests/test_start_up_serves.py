"""The exporter as a process while start-up fits its references: probes and /metrics answer."""

from __future__ import annotations

import csv
import re
import signal
import subprocess
from pathlib import Path

import numpy as np

from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import model_yaml, sample
from tests.test_lifecycle import _get, exporter

MODELS = tuple(f"m{i}" for i in range(6))
ROWS = 200_000  # about a second's fit each on this project's 2-core machine
FITTING = re.compile(r"fitting references \((\d) of 6 fitted\)")


def _setup(tmp: Path, redis_server: RedisServer) -> tuple[Path, int]:
    """Six models sharing a 200,000-row reference file, and the port they are served on."""
    data = sample(np.random.default_rng(5), ROWS)
    with (tmp / "ref.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*data, "prediction", "label"])
        writer.writerows(zip(*data.values(), data["x2"], data["x2"] + 0.5, strict=True))
    port = free_port()
    path = tmp / "config.yaml"
    path.write_text(
        f"redis: {{url: '{redis_server.url}'}}\n"
        f"web: {{listen_address: '127.0.0.1:{port}'}}\nmodels:"
        + "".join(model_yaml(m) for m in MODELS)
    )
    return path, port


def _fitting(port: int, proc: subprocess.Popen[str]) -> int:
    """How many references /readyz says are fitted while it says start-up fits them, else -1."""
    assert proc.poll() is None, "the exporter ended during its start-up"
    status, body = _get(port, "/readyz")
    match = FITTING.search(body)
    return int(match.group(1)) if status == 503 and match else -1


def test_probes_and_metrics_answer_while_start_up_fits_the_reference_files(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """30 models' files took 14 s to fit with nothing listening: /healthz was refused, so a
    liveness probe restarted a pod fitting 50 of them, and Prometheus saw the target down."""
    path, port = _setup(tmp_path, redis_server)
    with exporter(path) as proc:
        wait_for(lambda: _get(port, "/healthz")[0] == 200, 30, 0.05, "/healthz")
        fitted = _fitting(port, proc)
        assert 0 <= fitted < len(MODELS), _get(port, "/readyz")
        status, body = _get(port, "/metrics")
        assert status == 200 and "mlmon_build_info{" in body
        assert "\nmlmon_redis_up 1.0\n" in body  # Redis answers: not 0 while files fit
        assert "mlmon_window_samples{" not in body  # no model series before an evaluation
        seen = [fitted]

        def ready() -> bool:
            status, body = _get(port, "/readyz")
            if match := FITTING.search(body):
                seen.append(int(match.group(1)))
            return status == 200

        wait_for(ready, 60, 0.05, "readiness")
        assert seen == sorted(seen) and len(set(seen)) > 1, seen  # counted up as they fit
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


def test_sigterm_while_start_up_fits_the_references_stops_the_exporter_at_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    path, port = _setup(tmp_path, redis_server)
    with exporter(path) as proc:
        wait_for(lambda: _fitting(port, proc) in range(3), 30, 0.05, "the first fits")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0  # after the fit in progress: not all six, nor the 10 s exit
        log = proc.stderr.read() if proc.stderr else ""
        assert "exporter stopped" in log
        assert log.count('"reference fitted"') < len(MODELS), log
